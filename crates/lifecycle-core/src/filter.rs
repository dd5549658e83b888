//! The filter language shared by `view`, `wait`, tally's feed and forward (DESIGN.md, "The
//! filter language").
//!
//! A filter is a comma-separated list of elements:
//!
//! - `<type>`: `startup`, `shutdown`, `provisioned`, `alive`, `governor`, `upgraded`, and
//!   `transition`, `state` for machine events;
//! - `<key>=<glob>` / `<key>!=<glob>` on `identity`, `component`, `version`, `type`,
//!   `governor`, `machine`, where the glob knows `*` and `?`;
//! - `.<field><op><value>` on the event's Choria-format JSON fields (`.a.b` reaches into
//!   objects) with `=`, `!=`, `<`, `>`, `<=`, `>=`.
//!
//! An event passes when it matches at least one type element (or there is none) and every
//! other element. Values compare as dotted versions (`0.29.0 < 0.30.1 < 0.100.0`; a part that
//! is not a number compares as a string), numbers as numbers, quoted values (`"..."`, with
//! `\"` and `\\`) as plain strings. An absent or `null` field equals nothing. What a field
//! holds, and what an unusual unknown member (`1e400`, `"\ud800"`) compares as, is told in
//! [`field`].
//!
//! Evaluation is on the hot path of `view`, `wait`, `forward` and the tally's feed: it reads
//! fields from the typed event and never serialises it; type, key and known-field
//! conditions allocate nothing.

#[cfg(test)]
mod differential;
mod field;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::event::EventType;
use crate::interest::Interest;
use crate::machine::MachineEvent;
use crate::parse::AnyEvent;
use field::Field;

/// A parsed filter expression. The empty filter passes every event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    types: Vec<TypeName>,
    conditions: Vec<Condition>,
}

/// A type element: a lifecycle type or a machine event kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeName {
    Lifecycle(EventType),
    Transition,
    State,
}

impl TypeName {
    fn of(event: &AnyEvent) -> TypeName {
        match event {
            AnyEvent::Lifecycle(e) => TypeName::Lifecycle(e.event_type()),
            AnyEvent::Machine(m) => match **m {
                MachineEvent::Transition(_) => TypeName::Transition,
                MachineEvent::WatcherState(_) => TypeName::State,
            },
        }
    }

    fn parse(word: &str) -> Option<TypeName> {
        match word {
            "transition" => Some(TypeName::Transition),
            "state" => Some(TypeName::State),
            other => other.parse().ok().map(TypeName::Lifecycle),
        }
    }
}

/// A key the `key=value` form may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Identity,
    Component,
    Version,
    Type,
    Governor,
    Machine,
}

const KEYS: &str = "identity, component, version, type, governor, machine";
const TYPES: &str = "startup, shutdown, provisioned, alive, governor, upgraded, transition, state";

impl Key {
    fn parse(word: &str) -> Option<Key> {
        Some(match word {
            "identity" => Key::Identity,
            "component" => Key::Component,
            "version" => Key::Version,
            "type" => Key::Type,
            "governor" => Key::Governor,
            "machine" => Key::Machine,
            _ => return None,
        })
    }

    fn value(self, event: &AnyEvent) -> Option<&str> {
        match (self, event) {
            (Key::Identity, e) => Some(e.identity()),
            (Key::Component, e) => e.component(),
            (Key::Type, e) => Some(e.type_name()),
            (Key::Version, AnyEvent::Lifecycle(e)) => e.version(),
            (Key::Version, AnyEvent::Machine(m)) => Some(m.version()),
            (Key::Governor, AnyEvent::Lifecycle(e)) => e.governor(),
            (Key::Governor, AnyEvent::Machine(_)) => None,
            (Key::Machine, AnyEvent::Lifecycle(_)) => None,
            (Key::Machine, AnyEvent::Machine(m)) => Some(m.machine()),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

impl Op {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
            Op::Lt => ordering == Ordering::Less,
            Op::Gt => ordering == Ordering::Greater,
            Op::Le => ordering != Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
        }
    }
}

/// A value to compare with: written bare, or quoted to compare as a plain string.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Operand {
    text: String,
    quoted: bool,
}

impl Operand {
    fn is_glob(&self) -> bool {
        !self.quoted && self.text.contains(['*', '?'])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Key {
        key: Key,
        negate: bool,
        pattern: Operand,
    },
    Field {
        path: Vec<String>,
        op: Op,
        value: Operand,
    },
}

/// Why a filter could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    kind: FilterErrorKind,
    position: usize,
}

/// The cause of a [`FilterError`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterErrorKind {
    /// Nothing between two commas, or at either end.
    EmptyElement,
    /// A bare word that is not an event type.
    UnknownType(String),
    /// `key=value` with a key the language does not know.
    UnknownKey(String),
    /// A `.field` with no operator after it (or something else where it should be).
    ExpectedOperator(String),
    /// `.` with no field name, or an empty part in a dotted path.
    ExpectedField,
    /// An operator with nothing after it.
    ExpectedValue,
    /// `key<value` and friends: keys take only `=` and `!=`.
    OrderingOnKey(String),
    /// A quoted value whose closing quote is missing.
    UnterminatedQuote,
    /// Something after a quoted value other than the next element.
    TrailingCharacters,
}

impl FilterError {
    fn new(kind: FilterErrorKind, offset: usize) -> Self {
        FilterError {
            kind,
            position: offset + 1,
        }
    }

    /// What was wrong.
    pub fn kind(&self) -> &FilterErrorKind {
        &self.kind
    }

    /// Where, counting bytes of the expression from 1.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FilterErrorKind::EmptyElement => write!(f, "expected a filter element")?,
            FilterErrorKind::UnknownType(word) => {
                write!(f, "unknown event type '{word}' (expected one of {TYPES})")?
            }
            FilterErrorKind::UnknownKey(key) => {
                write!(f, "unknown key '{key}' (expected one of {KEYS})")?
            }
            FilterErrorKind::ExpectedOperator(field) => {
                write!(f, "expected an operator after '{field}'")?
            }
            FilterErrorKind::ExpectedField => write!(f, "expected a field name after '.'")?,
            FilterErrorKind::ExpectedValue => write!(f, "expected a value after the operator")?,
            FilterErrorKind::OrderingOnKey(key) => write!(
                f,
                "'{key}' takes only = and != (use '.{key}' to compare by order)"
            )?,
            FilterErrorKind::UnterminatedQuote => write!(f, "missing the closing quote")?,
            FilterErrorKind::TrailingCharacters => {
                write!(f, "expected ',' after the quoted value")?
            }
        }
        write!(f, " at position {}", self.position)
    }
}

impl std::error::Error for FilterError {}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

impl Filter {
    /// Parses an expression; an empty or all-blank one passes every event.
    pub fn parse(expression: &str) -> Result<Filter, FilterError> {
        let mut filter = Filter::default();
        if expression.trim().is_empty() {
            return Ok(filter);
        }
        let mut parser = Parser {
            src: expression,
            at: 0,
        };
        loop {
            parser.element(&mut filter)?;
            parser.skip_blanks();
            match parser.peek() {
                None => return Ok(filter),
                Some(',') => parser.at += 1,
                Some(_) => unreachable!("an element ends at a comma or the end"),
            }
        }
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &AnyEvent) -> bool {
        if !self.types.is_empty() && !self.types.contains(&TypeName::of(event)) {
            return false;
        }
        self.conditions.iter().all(|condition| match condition {
            Condition::Key {
                key,
                negate,
                pattern,
            } => {
                let found = key
                    .value(event)
                    .is_some_and(|value| text_matches(pattern, value));
                found != *negate
            }
            Condition::Field { path, op, value } => {
                field_matches(field::lookup(event, path), *op, value)
            }
        })
    }

    /// Whether the filter passes every event.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.conditions.is_empty()
    }

    /// The types and components that can go into NATS subjects ([`Interest::from_filter`]).
    fn interest(&self) -> Interest {
        let mut interest = if self.types.is_empty() {
            let wants_machine = self.conditions.iter().any(|c| {
                matches!(
                    c,
                    Condition::Key {
                        key: Key::Machine,
                        negate: false,
                        ..
                    }
                )
            });
            Interest {
                lifecycle: !wants_machine,
                types: Vec::new(),
                components: Vec::new(),
                transitions: wants_machine,
                watcher_states: wants_machine,
            }
        } else {
            let mut types = Vec::new();
            for t in &self.types {
                if let TypeName::Lifecycle(t) = t {
                    if !types.contains(t) {
                        types.push(*t);
                    }
                }
            }
            Interest {
                lifecycle: !types.is_empty(),
                types,
                components: Vec::new(),
                transitions: self.types.contains(&TypeName::Transition),
                watcher_states: self.types.contains(&TypeName::State),
            }
        };
        let exact_component = self.conditions.iter().find_map(|c| match c {
            Condition::Key {
                key: Key::Component,
                negate: false,
                pattern,
            } if !pattern.is_glob() => Some(pattern.text.clone()),
            _ => None,
        });
        if let Some(component) = exact_component {
            // Machine events have no component, so none of them can pass.
            interest.transitions = false;
            interest.watcher_states = false;
            if crate::subject::is_subject_token(&component) {
                interest.components.push(component);
            }
        }
        interest
    }
}

impl Interest {
    /// What of `filter` can go into NATS subjects: the server then sends only these events,
    /// and the filter decides about each of them on the client. Every event the filter
    /// passes is among those described, never the other way round.
    ///
    /// Type elements give the types; with none, lifecycle events of every type are asked
    /// for, and machine events too when a `machine=` element needs them. An exact
    /// (non-glob, not negated) `component=` gives the component.
    pub fn from_filter(filter: &Filter) -> Interest {
        filter.interest()
    }
}

struct Parser<'a> {
    src: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.at..].chars().next()
    }

    fn skip_blanks(&mut self) {
        while let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
            self.at += c.len_utf8();
        }
    }

    /// Takes characters while `keep` holds; returns them.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &str {
        let start = self.at;
        while let Some(c) = self.peek().filter(|&c| keep(c)) {
            self.at += c.len_utf8();
        }
        &self.src[start..self.at]
    }

    fn error<T>(&self, kind: FilterErrorKind, offset: usize) -> Result<T, FilterError> {
        Err(FilterError::new(kind, offset))
    }

    fn element(&mut self, filter: &mut Filter) -> Result<(), FilterError> {
        self.skip_blanks();
        let start = self.at;
        match self.peek() {
            None | Some(',') => self.error(FilterErrorKind::EmptyElement, start),
            Some('.') => {
                let condition = self.field()?;
                filter.conditions.push(condition);
                Ok(())
            }
            Some(_) => {
                let word = self
                    .take_while(|c| !matches!(c, ',' | '=' | '!' | '<' | '>') && !c.is_whitespace())
                    .to_owned();
                self.skip_blanks();
                let Some(op) = self.operator() else {
                    if !matches!(self.peek(), None | Some(',')) {
                        return self.error(FilterErrorKind::ExpectedOperator(word), self.at);
                    }
                    return match TypeName::parse(&word) {
                        Some(t) => {
                            filter.types.push(t);
                            Ok(())
                        }
                        None => self.error(FilterErrorKind::UnknownType(word), start),
                    };
                };
                let Some(key) = Key::parse(&word) else {
                    return self.error(FilterErrorKind::UnknownKey(word), start);
                };
                let negate = match op {
                    Op::Eq => false,
                    Op::Ne => true,
                    _ => return self.error(FilterErrorKind::OrderingOnKey(word), start),
                };
                let pattern = self.value()?;
                filter.conditions.push(Condition::Key {
                    key,
                    negate,
                    pattern,
                });
                Ok(())
            }
        }
    }

    fn field(&mut self) -> Result<Condition, FilterError> {
        let start = self.at;
        self.at += 1; // the '.'
        let name = self.take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if name.is_empty() || name.split('.').any(str::is_empty) {
            let at = if name.is_empty() {
                self.at
            } else {
                start + 1 + name.find("..").map_or(name.len(), |i| i + 1)
            };
            return self.error(FilterErrorKind::ExpectedField, at);
        }
        let path = name.split('.').map(str::to_owned).collect();
        let written = self.src[start..self.at].to_owned();
        self.skip_blanks();
        let Some(op) = self.operator() else {
            return self.error(FilterErrorKind::ExpectedOperator(written), self.at);
        };
        let value = self.value()?;
        Ok(Condition::Field { path, op, value })
    }

    fn operator(&mut self) -> Option<Op> {
        let rest = &self.src[self.at..];
        let (op, len) = if rest.starts_with("!=") {
            (Op::Ne, 2)
        } else if rest.starts_with("<=") {
            (Op::Le, 2)
        } else if rest.starts_with(">=") {
            (Op::Ge, 2)
        } else if rest.starts_with('=') {
            (Op::Eq, 1)
        } else if rest.starts_with('<') {
            (Op::Lt, 1)
        } else if rest.starts_with('>') {
            (Op::Gt, 1)
        } else {
            return None;
        };
        self.at += len;
        Some(op)
    }

    fn value(&mut self) -> Result<Operand, FilterError> {
        self.skip_blanks();
        match self.peek() {
            None | Some(',') => self.error(FilterErrorKind::ExpectedValue, self.at),
            Some('"') => {
                let open = self.at;
                self.at += 1;
                let mut text = String::new();
                loop {
                    let Some(c) = self.peek() else {
                        return self.error(FilterErrorKind::UnterminatedQuote, open);
                    };
                    self.at += c.len_utf8();
                    match c {
                        '"' => break,
                        '\\' => match self.peek() {
                            Some(escaped) => {
                                self.at += escaped.len_utf8();
                                text.push(escaped);
                            }
                            None => return self.error(FilterErrorKind::UnterminatedQuote, open),
                        },
                        c => text.push(c),
                    }
                }
                self.skip_blanks();
                if !matches!(self.peek(), None | Some(',')) {
                    return self.error(FilterErrorKind::TrailingCharacters, self.at);
                }
                Ok(Operand { text, quoted: true })
            }
            Some(_) => {
                let text = self.take_while(|c| c != ',').trim_end().to_owned();
                Ok(Operand {
                    text,
                    quoted: false,
                })
            }
        }
    }
}

/// `key=value`: a glob when bare, the exact text when quoted.
fn text_matches(pattern: &Operand, value: &str) -> bool {
    if pattern.quoted {
        pattern.text == value
    } else {
        glob_matches(&pattern.text, value)
    }
}

/// `.field<op>value`. A number compares as a number with a value that is one, and otherwise
/// as its JSON text, like every other field.
fn field_matches(field: Field<'_>, op: Op, operand: &Operand) -> bool {
    let mut digits = itoa::Buffer::new();
    let text: Cow<'_, str> = match field {
        // An absent field equals nothing, so only != holds.
        Field::Missing => return op == Op::Ne,
        Field::Text(text) => text,
        Field::Number(n) => {
            if !operand.quoted {
                if let (Some(a), Ok(b)) = (n.as_f64(), operand.text.parse::<f64>()) {
                    return a.partial_cmp(&b).is_some_and(|o| op.holds(o));
                }
            }
            match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Cow::Borrowed(digits.format(u)),
                (None, Some(i)) => Cow::Borrowed(digits.format(i)),
                // Only unknown members hold fractions: they may allocate.
                (None, None) => Cow::Owned(n.to_string()),
            }
        }
        Field::HugeNumber(json) => {
            if !operand.quoted {
                // Rust reads what serde_json refuses as a number beyond f64: an infinity.
                if let (Ok(a), Ok(b)) = (json.parse::<f64>(), operand.text.parse::<f64>()) {
                    return a.partial_cmp(&b).is_some_and(|o| op.holds(o));
                }
            }
            Cow::Borrowed(json)
        }
    };
    if operand.quoted {
        return op.holds(text.as_ref().cmp(operand.text.as_str()));
    }
    if matches!(op, Op::Eq | Op::Ne) && operand.is_glob() {
        return glob_matches(&operand.text, &text) == (op == Op::Eq);
    }
    op.holds(compare_versions(&text, &operand.text))
}

/// Compares dotted versions part by part: numbers as numbers, anything else as strings; when
/// one is a prefix of the other, the shorter is less (`0.29 < 0.29.0`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let ordering = match (numeric(x), numeric(y)) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
        }
    }
}

/// A part made only of ASCII digits, as a number (leading zeros ignored, any length).
fn numeric(part: &str) -> Option<(usize, &str)> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = part.trim_start_matches('0');
    // Longer digit strings are larger numbers; equal lengths compare as text.
    Some((digits.len(), digits))
}

/// `*` matches any run of characters, `?` any one character; everything else itself.
fn glob_matches(pattern: &str, text: &str) -> bool {
    // Positions are byte offsets on character boundaries; `rest` slices from them.
    let rest = |s: &str, at: usize| s.get(at..).and_then(|s| s.chars().next());
    let (mut p, mut t) = (0, 0);
    // After a `*`: where the pattern resumes, and where in the text it last tried to.
    let mut star: Option<(usize, usize)> = None;
    while let Some(tc) = rest(text, t) {
        match rest(pattern, p) {
            Some(pc) if pc == '?' || pc == tc => {
                p += pc.len_utf8();
                t += tc.len_utf8();
            }
            Some('*') => {
                p += 1;
                star = Some((p, t));
            }
            _ => match star {
                // Let the `*` take one more character and try again from there.
                Some((after, tried)) => {
                    let next = tried + rest(text, tried).map_or(1, char::len_utf8);
                    p = after;
                    t = next;
                    star = Some((after, next));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|left| left.chars().all(|c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, GovernorEventType, MachineEvent, Transition, parse};

    fn event(t: EventType, identity: &str, component: &str, version: &str) -> AnyEvent {
        let mut b = Event::builder(t)
            .identity(identity)
            .component(component)
            .timestamp(1_700_000_000);
        match t {
            EventType::Startup | EventType::Alive => b = b.version(version),
            EventType::Upgraded => b = b.version(version).new_version("1.0.0"),
            EventType::Governor => {
                b = b
                    .governor("rollout")
                    .sequence(3)
                    .governor_event(GovernorEventType::Enter)
            }
            _ => {}
        }
        AnyEvent::Lifecycle(b.build().unwrap())
    }

    fn transition() -> AnyEvent {
        MachineEvent::Transition(Transition::new(
            "node1.example.net",
            "m-1",
            "1.2.3",
            1_700_000_000,
            "nagios",
            "fire",
            "idle",
            "running",
        ))
        .into()
    }

    #[test]
    fn evaluation() {
        let alive = event(EventType::Alive, "web1.example.net", "server", "0.30.1");
        let old = event(EventType::Alive, "db1.example.net", "server", "0.29.0");
        let newest = event(EventType::Startup, "web2.example.net", "agent", "0.100.0");
        let gov = event(EventType::Governor, "web3.example.net", "server", "");
        let shut = event(EventType::Shutdown, "web1.example.net", "server", "");
        let machine = transition();
        let all = [&alive, &old, &newest, &gov, &shut, &machine];
        // (filter, which of `all` pass)
        let table: &[(&str, [bool; 6])] = &[
            ("", [true, true, true, true, true, true]),
            ("alive", [true, true, false, false, false, false]),
            ("alive,startup", [true, true, true, false, false, false]),
            ("transition", [false, false, false, false, false, true]),
            ("state", [false; 6]),
            ("identity=web*", [true, false, true, true, true, false]),
            (
                "identity=web?.example.net",
                [true, false, true, true, true, false],
            ),
            ("identity!=web*", [false, true, false, false, false, true]),
            (
                "alive, identity=web*",
                [true, false, false, false, false, false],
            ),
            ("component=server", [true, true, false, true, true, false]),
            (
                "component!=server",
                [false, false, true, false, false, true],
            ),
            ("type=a*", [true, true, false, false, false, false]),
            ("governor=roll*", [false, false, false, true, false, false]),
            ("machine=nagios", [false, false, false, false, false, true]),
            ("version=0.30.1", [true, false, false, false, false, false]),
            (".version>=0.29.0", [true, true, true, false, false, true]),
            (".version>0.29.0", [true, false, true, false, false, true]),
            (".version<0.100.0", [true, true, false, false, false, false]),
            (".version<=0.30.1", [true, true, false, false, false, false]),
            (
                ".version>=0.30.1,.version<0.100.0",
                [true, false, false, false, false, false],
            ),
            // Quoted: plain string order, where "0.100.0" < "0.29.0".
            (
                r#".version<"0.29.0""#,
                [false, false, true, false, false, false],
            ),
            (".sequence>=3", [false, false, false, true, false, false]),
            (".sequence<3", [false; 6]),
            (".sequence=3.0", [false, false, false, true, false, false]),
            (
                ".event_type=enter",
                [false, false, false, true, false, false],
            ),
            (".to_state=run*", [false, false, false, false, false, true]),
            (".new_version!=1.0.0", [true, true, true, true, true, true]),
            (".timestamp=1700000000", [true; 6]),
            (".nope=1", [false; 6]),
            (".nope!=1", [true; 6]),
            (r#"identity="web*""#, [false; 6]),
        ];
        for (expression, want) in table {
            let filter: Filter = expression.parse().unwrap();
            let got: Vec<bool> = all.iter().map(|e| filter.matches(e)).collect();
            assert_eq!(&got[..], &want[..], "filter {expression:?}");
        }
    }

    #[test]
    fn evaluates_parsed_machine_state() {
        let bytes = br#"{"specversion":"1.0","id":"x","source":"io.choria.machine","type":"io.choria.machine.watcher.exec.v1.state","datacontenttype":"application/json","time":"2023-11-14T22:13:20Z","data":{"protocol":"io.choria.machine.watcher.exec.v1.state","identity":"n1","id":"i","version":"1.0.0","timestamp":1700000000,"type":"exec","machine":"m","name":"check","command":"/bin/true","previous_outcome":"success","previous_run_time":1500000000}}"#;
        let event = parse(bytes).unwrap().into_event();
        for (expression, want) in [
            ("state", true),
            ("state,machine=m", true),
            (".previous_outcome=success", true),
            (".previous_run_time>1000000000", true),
            ("alive", false),
        ] {
            let filter: Filter = expression.parse().unwrap();
            assert_eq!(filter.matches(&event), want, "{expression}");
        }
    }

    /// An alive event with unknown members serde_json cannot read as values.
    fn hostile() -> AnyEvent {
        let AnyEvent::Lifecycle(mut alive) =
            event(EventType::Alive, "web1.example.net", "server", "0.30.1")
        else {
            unreachable!()
        };
        let raw = |json: &str| serde_json::value::RawValue::from_string(json.to_owned()).unwrap();
        alive.extra = vec![
            ("huge".into(), raw("1e400")),
            ("neg".into(), raw("-1e400")),
            ("lone".into(), raw(r#""\ud800""#)),
            ("mixed".into(), raw(r#""caf\u00e9 \udc00""#)),
            (
                "nested".into(),
                raw(r#"{"\ud800":0, "n":1e400, "s":"\ud800", "ok":2, "ok":3, "o":{"p":"q"}}"#),
            ),
            ("arr".into(), raw("[1e400]")),
            (
                "deep".into(),
                raw(&format!("{}1{}", "[".repeat(120), "]".repeat(120))),
            ),
            // Of repeated members the last counts, as in the event's JSON.
            ("version".into(), raw(r#""9.9.9""#)),
        ];
        alive.into()
    }

    #[test]
    fn evaluates_members_serde_json_cannot_read() {
        let event = hostile();
        for (expression, want) in [
            // A number beyond f64 is an infinity against a number...
            (".huge>1", true),
            (".huge<1", false),
            (".huge=1e400", true),
            (".huge>=1e308", true),
            (".neg<-1e308", true),
            (".neg>0", false),
            // ...and its JSON text against anything else.
            (r#".huge="1e400""#, true),
            (".huge=1e4*", true),
            (".huge=1e3*", false),
            (".huge>=1e399.0", true),
            // A string with a lone surrogate is its text between the quotes, as written.
            (r#".lone="\\ud800""#, true),
            (r#".lone!="\\ud800""#, false),
            (".lone!=x", true),
            (".lone=*", true),
            (".lone=?ud800", true),
            (r#".mixed="caf\\u00e9 \\udc00""#, true),
            (".mixed=caf*", true),
            // Nested members are found past keys and values serde_json refuses.
            (".nested.ok=3", true),
            (".nested.ok=2", false),
            (".nested.n>1", true),
            (r#".nested.s="\\ud800""#, true),
            (".nested.o.p=q", true),
            (".nested.o.p.q=q", false),
            (".nested.missing=1", false),
            (".nested.missing!=1", true),
            (".huge.inner!=1", true),
            (".arr.inner=1", false),
            // An object or array serde_json refuses is its JSON text as received.
            (r#".nested=*"ok":3*"#, true),
            (r#".arr="[1e400]""#, true),
            (".deep=[[[*", true),
            // Known fields still read as before; an unknown member of the same name wins.
            (".version=9.9.9", true),
            ("alive,identity=web*,.identity=web1.example.net", true),
            (".timestamp=1700000000", true),
        ] {
            let filter: Filter = expression.parse().unwrap();
            assert_eq!(filter.matches(&event), want, "{expression}");
        }
    }

    /// The events of issue 11 through the parser: evaluating them panicked.
    #[test]
    fn parsed_events_with_unreadable_members_do_not_panic() {
        let alive = r#"{"protocol":"io.choria.lifecycle.v1.alive","id":"01","identity":"n1","component":"server","timestamp":1700000000,"version":"0.29.4","#;
        let huge = parse(format!(r#"{alive}"extra":1e400}}"#).as_bytes()).unwrap();
        let lone = parse(format!(r#"{alive}"extra":"\ud800"}}"#).as_bytes()).unwrap();
        for (expression, want) in [
            // A string orders after a number's text.
            ("alive,.extra>1", [true, true]),
            ("alive,.extra<1", [false, false]),
            (".extra=*", [true, true]),
            (".extra!=x", [true, true]),
            (".extra.a=1", [false, false]),
            (".version>=0.29.0,.extra!=0", [true, true]),
        ] {
            let filter: Filter = expression.parse().unwrap();
            let got = [filter.matches(huge.event()), filter.matches(lone.event())];
            assert_eq!(got, want, "{expression}");
        }
    }

    #[test]
    fn parse_errors_point_at_the_position() {
        let table: &[(&str, &str)] = &[
            (
                ".version",
                "expected an operator after '.version' at position 9",
            ),
            (
                "alive,.version 0.29",
                "expected an operator after '.version' at position 16",
            ),
            ("alive,,startup", "expected a filter element at position 7"),
            ("alive,", "expected a filter element at position 7"),
            (",alive", "expected a filter element at position 1"),
            (
                "alive,bogus",
                "unknown event type 'bogus' (expected one of startup, shutdown, provisioned, \
                 alive, governor, upgraded, transition, state) at position 7",
            ),
            (
                "host=web1",
                "unknown key 'host' (expected one of identity, component, version, type, \
                 governor, machine) at position 1",
            ),
            (
                "identity=",
                "expected a value after the operator at position 10",
            ),
            (
                ".version>=,alive",
                "expected a value after the operator at position 11",
            ),
            ("alive,.=3", "expected a field name after '.' at position 8"),
            (".a..b=3", "expected a field name after '.' at position 4"),
            (
                "version>=1",
                "'version' takes only = and != (use '.version' to compare by order) at position 1",
            ),
            (
                r#"identity="web"#,
                "missing the closing quote at position 10",
            ),
            (
                r#"identity="web" x"#,
                "expected ',' after the quoted value at position 16",
            ),
            (
                "alive x",
                "expected an operator after 'alive' at position 7",
            ),
        ];
        for (expression, want) in table {
            let error = Filter::parse(expression).unwrap_err();
            assert_eq!(error.to_string(), *want, "filter {expression:?}");
        }
        let error = Filter::parse(".version").unwrap_err();
        assert_eq!(error.position(), 9);
        assert_eq!(
            error.kind(),
            &FilterErrorKind::ExpectedOperator(".version".into())
        );
    }

    #[test]
    fn parses_blanks_and_quotes() {
        let filter = Filter::parse(r#" alive , identity = "a,b\"c" , .version >= 1 "#).unwrap();
        assert_eq!(filter.types, [TypeName::Lifecycle(EventType::Alive)]);
        assert_eq!(
            filter.conditions,
            [
                Condition::Key {
                    key: Key::Identity,
                    negate: false,
                    pattern: Operand {
                        text: "a,b\"c".into(),
                        quoted: true
                    }
                },
                Condition::Field {
                    path: vec!["version".into()],
                    op: Op::Ge,
                    value: Operand {
                        text: "1".into(),
                        quoted: false
                    }
                }
            ]
        );
        assert!(Filter::parse("  ").unwrap().is_empty());
    }

    #[test]
    fn interest() {
        let p = |s: &str| Interest::from_filter(&Filter::parse(s).unwrap());
        let all = Interest {
            lifecycle: true,
            types: vec![],
            components: vec![],
            transitions: false,
            watcher_states: false,
        };
        assert_eq!(p(""), all);
        assert_eq!(p(".version>=1,identity=x*"), all);
        assert_eq!(
            p("alive,startup,alive,component=server"),
            Interest {
                types: vec![EventType::Alive, EventType::Startup],
                components: vec!["server".into()],
                ..all.clone()
            }
        );
        assert_eq!(p("component=ser*"), all);
        assert_eq!(p("component!=server"), all);
        assert_eq!(
            p("transition,state"),
            Interest {
                lifecycle: false,
                transitions: true,
                watcher_states: true,
                ..all.clone()
            }
        );
        assert_eq!(
            p("machine=nagios"),
            Interest {
                lifecycle: false,
                transitions: true,
                watcher_states: true,
                ..all.clone()
            }
        );
        assert_eq!(
            p("alive,transition"),
            Interest {
                types: vec![EventType::Alive],
                transitions: true,
                ..all.clone()
            }
        );
    }

    #[test]
    fn versions_and_globs() {
        use Ordering::*;
        for (a, b, want) in [
            ("0.29.0", "0.30.1", Less),
            ("0.30.1", "0.100.0", Less),
            ("0.29", "0.29.0", Less),
            ("1.0.0", "1.0.0", Equal),
            ("01.2", "1.2", Equal),
            ("1.0.rc1", "1.0.rc2", Less),
            ("1.0.10", "1.0.9", Greater),
            ("99999999999999999999999", "1", Greater),
        ] {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        }
        for (pattern, text, want) in [
            ("*", "", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*.example.net", "web1.example.net", true),
            ("wé?", "wéb", true),
            ("**x", "ax", true),
        ] {
            assert_eq!(glob_matches(pattern, text), want, "{pattern} vs {text}");
        }
    }
}
