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
//!
//! By file: `parse` reads the language into the syntax tree kept here, `eval` decides whether
//! an event passes, `field` reads a `.field` from the typed event, `glob` and `version` are
//! the two ways text compares, and `interest` is what of a filter goes into NATS subjects.

#[cfg(test)]
mod differential;
mod eval;
mod field;
mod glob;
mod interest;
mod parse;
#[cfg(test)]
mod tests;
mod version;

use std::cmp::Ordering;

use crate::event::EventType;
use crate::machine::MachineEvent;
use crate::parsed::AnyEvent;

pub use parse::FilterProblem;
pub use version::compare_versions;

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
