//! What of a filter can go into NATS subjects.

use super::{Condition, Filter, Key, TypeName};
use crate::interest::Interest;

impl Filter {
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
