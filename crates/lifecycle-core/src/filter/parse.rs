//! The filter language: an expression read into a [`Filter`], or an [`Error`] that says
//! what was wrong and where ([`ErrorKind::Filter`](crate::ErrorKind::Filter)).

use std::fmt;
use std::str::FromStr;

use super::{Condition, Filter, Key, Op, Operand, TypeName};
use crate::error::Error;

const KEYS: &str = "identity, component, version, type, governor, machine";
const TYPES: &str = "startup, shutdown, provisioned, alive, governor, upgraded, transition, state";

/// What is wrong with a filter expression, in [`ErrorKind::Filter`](crate::ErrorKind::Filter).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterProblem {
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

impl fmt::Display for FilterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterProblem::EmptyElement => write!(f, "expected a filter element")?,
            FilterProblem::UnknownType(word) => {
                write!(f, "unknown event type '{word}' (expected one of {TYPES})")?
            }
            FilterProblem::UnknownKey(key) => {
                write!(f, "unknown key '{key}' (expected one of {KEYS})")?
            }
            FilterProblem::ExpectedOperator(field) => {
                write!(f, "expected an operator after '{field}'")?
            }
            FilterProblem::ExpectedField => write!(f, "expected a field name after '.'")?,
            FilterProblem::ExpectedValue => write!(f, "expected a value after the operator")?,
            FilterProblem::OrderingOnKey(key) => write!(
                f,
                "'{key}' takes only = and != (use '.{key}' to compare by order)"
            )?,
            FilterProblem::UnterminatedQuote => write!(f, "missing the closing quote")?,
            FilterProblem::TrailingCharacters => write!(f, "expected ',' after the quoted value")?,
        }
        Ok(())
    }
}

impl FromStr for Filter {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

impl Filter {
    /// Parses an expression; an empty or all-blank one passes every event.
    pub fn parse(expression: &str) -> Result<Filter, Error> {
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

    fn error<T>(&self, kind: FilterProblem, offset: usize) -> Result<T, Error> {
        Err(Error::filter(kind, offset))
    }

    fn element(&mut self, filter: &mut Filter) -> Result<(), Error> {
        self.skip_blanks();
        let start = self.at;
        match self.peek() {
            None | Some(',') => self.error(FilterProblem::EmptyElement, start),
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
                        return self.error(FilterProblem::ExpectedOperator(word), self.at);
                    }
                    return match TypeName::parse(&word) {
                        Some(t) => {
                            filter.types.push(t);
                            Ok(())
                        }
                        None => self.error(FilterProblem::UnknownType(word), start),
                    };
                };
                let Some(key) = Key::parse(&word) else {
                    return self.error(FilterProblem::UnknownKey(word), start);
                };
                let negate = match op {
                    Op::Eq => false,
                    Op::Ne => true,
                    _ => return self.error(FilterProblem::OrderingOnKey(word), start),
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

    fn field(&mut self) -> Result<Condition, Error> {
        let start = self.at;
        self.at += 1; // the '.'
        let name = self.take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if name.is_empty() || name.split('.').any(str::is_empty) {
            let at = if name.is_empty() {
                self.at
            } else {
                start + 1 + name.find("..").map_or(name.len(), |i| i + 1)
            };
            return self.error(FilterProblem::ExpectedField, at);
        }
        let path = name.split('.').map(str::to_owned).collect();
        let written = self.src[start..self.at].to_owned();
        self.skip_blanks();
        let Some(op) = self.operator() else {
            return self.error(FilterProblem::ExpectedOperator(written), self.at);
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

    fn value(&mut self) -> Result<Operand, Error> {
        self.skip_blanks();
        match self.peek() {
            None | Some(',') => self.error(FilterProblem::ExpectedValue, self.at),
            Some('"') => {
                let open = self.at;
                self.at += 1;
                let mut text = String::new();
                loop {
                    let Some(c) = self.peek() else {
                        return self.error(FilterProblem::UnterminatedQuote, open);
                    };
                    self.at += c.len_utf8();
                    match c {
                        '"' => break,
                        '\\' => match self.peek() {
                            Some(escaped) => {
                                self.at += escaped.len_utf8();
                                text.push(escaped);
                            }
                            None => return self.error(FilterProblem::UnterminatedQuote, open),
                        },
                        c => text.push(c),
                    }
                }
                self.skip_blanks();
                if !matches!(self.peek(), None | Some(',')) {
                    return self.error(FilterProblem::TrailingCharacters, self.at);
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
