//! Which events to receive, as NATS subjects: the one description of "which subjects to
//! subscribe" that a filter narrows to ([`Interest::from_filter`]) and that `lifecycle-nats`
//! subscribes, replays and consumes durably.

use crate::error::Error;
use crate::event::EventType;
use crate::subject::{LIFECYCLE_EVENT_PREFIX, check_subject_token};

/// Which events to receive. Types and components become NATS subjects, so the server sends
/// only what was asked for.
///
/// Made from a filter, it describes every event the filter can pass (never fewer): the filter
/// still decides about each event received.
///
/// ```
/// use lifecycle_core::{EventType, Filter, Interest};
///
/// let interest = Interest::default().types([EventType::Alive]).components(["server"]);
/// assert_eq!(interest.subjects()?, ["choria.lifecycle.event.alive.server"]);
/// let filter = Filter::parse("alive,component=server,.version>=0.30.0").unwrap();
/// assert_eq!(Interest::from_filter(&filter), interest);
/// # Ok::<(), lifecycle_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interest {
    /// Receive lifecycle events.
    pub lifecycle: bool,
    /// Lifecycle types to receive; empty means every type.
    pub types: Vec<EventType>,
    /// Components to receive; empty means every component.
    pub components: Vec<String>,
    /// Receive machine transitions (`choria.machine.transition`).
    pub transitions: bool,
    /// Receive machine watcher states (`choria.machine.watcher.*.state`).
    pub watcher_states: bool,
}

impl Default for Interest {
    /// Every lifecycle event, no machine events.
    fn default() -> Self {
        Interest {
            lifecycle: true,
            types: Vec::new(),
            components: Vec::new(),
            transitions: false,
            watcher_states: false,
        }
    }
}

impl Interest {
    /// Lifecycle events of these types (empty: all).
    pub fn types(mut self, types: impl IntoIterator<Item = EventType>) -> Self {
        self.types = types.into_iter().collect();
        self
    }

    /// Lifecycle events of these components (empty: all).
    pub fn components<S: Into<String>>(mut self, components: impl IntoIterator<Item = S>) -> Self {
        self.components = components.into_iter().map(Into::into).collect();
        self
    }

    /// Also machine transitions and watcher states.
    pub fn with_machine_events(mut self) -> Self {
        self.transitions = true;
        self.watcher_states = true;
        self
    }

    /// The narrowest lifecycle subjects: `choria.lifecycle.event.<type|*>.<component|*>`.
    /// A component that cannot be a subject token is refused.
    pub fn lifecycle_subjects(&self) -> Result<Vec<String>, Error> {
        if !self.lifecycle {
            return Ok(Vec::new());
        }
        for component in &self.components {
            check_subject_token("component", component)?;
        }
        let mut types: Vec<&str> = self.types.iter().map(|t| t.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        let mut components: Vec<&str> = self.components.iter().map(String::as_str).collect();
        components.sort_unstable();
        components.dedup();
        let wildcard = ["*"];
        let types = if types.is_empty() {
            &wildcard[..]
        } else {
            &types[..]
        };
        let components = if components.is_empty() {
            &wildcard[..]
        } else {
            &components[..]
        };
        Ok(types
            .iter()
            .flat_map(|t| {
                components
                    .iter()
                    .map(move |c| format!("{LIFECYCLE_EVENT_PREFIX}{t}.{c}"))
            })
            .collect())
    }

    /// The machine event subjects asked for.
    pub fn machine_subjects(&self) -> Vec<String> {
        let mut subjects = Vec::new();
        if self.transitions {
            subjects.push("choria.machine.transition".to_owned());
        }
        if self.watcher_states {
            subjects.push("choria.machine.watcher.*.state".to_owned());
        }
        subjects
    }

    /// Every subject to subscribe to.
    pub fn subjects(&self) -> Result<Vec<String>, Error> {
        let mut subjects = self.lifecycle_subjects()?;
        subjects.extend(self.machine_subjects());
        Ok(subjects)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Filter;

    #[test]
    fn a_filter_narrows_the_subjects() {
        let subjects = |expression: &str| {
            let filter = Filter::parse(expression).unwrap();
            Interest::from_filter(&filter).subjects().unwrap()
        };
        assert_eq!(subjects(""), ["choria.lifecycle.event.*.*"]);
        assert_eq!(
            subjects("alive,upgraded,component=server,.version>=0.29.0"),
            [
                "choria.lifecycle.event.alive.server",
                "choria.lifecycle.event.upgraded.server"
            ]
        );
        assert_eq!(
            subjects("identity=web*,component=a.b"),
            ["choria.lifecycle.event.*.*"]
        );
        assert_eq!(
            subjects("startup,transition,state"),
            [
                "choria.lifecycle.event.startup.*",
                "choria.machine.transition",
                "choria.machine.watcher.*.state"
            ]
        );
    }

    #[test]
    fn a_component_that_is_no_token_is_refused() {
        let error = Interest::default()
            .components(["a b"])
            .subjects()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid component 'a b': a NATS subject token cannot hold white space (' ')"
        );
        assert_eq!(
            Interest {
                lifecycle: false,
                ..Interest::default().components(["a b"])
            }
            .subjects(),
            Ok(vec![])
        );
    }
}
