//! The filter language: an expression read into a [`Filter`], or a [`FilterError`] that says
//! what was wrong and where.

use std::fmt;
use std::str::FromStr;

use super::{Condition, Filter, Key, Op, Operand, TypeName};

const KEYS: &str = "identity, component, version, type, governor, machine";
const TYPES: &str = "startup, shutdown, provisioned, alive, governor, upgraded, transition, state";

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
