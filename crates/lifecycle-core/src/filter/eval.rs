//! Whether an event passes a filter: read from the typed event, never serialised.

use std::borrow::Cow;

use super::field::{self, Field};
use super::glob::glob_matches;
use super::version::compare_versions;
use super::{Condition, Filter, Op, Operand, TypeName};
use crate::parsed::AnyEvent;

impl Filter {
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
