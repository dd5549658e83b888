//! Which events must be handled one at a time, in order.

use std::fmt;
use std::str::FromStr;

use lifecycle_core::AnyEvent;

/// What makes two events "the same key": those are handled one at a time, in stream order;
/// events of different keys run in parallel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Key {
    /// The sending node (the default).
    #[default]
    Identity,
    /// The component (machine events have none: they share one key).
    Component,
    /// The node and the component.
    IdentityComponent,
    /// No key: every event may run alongside any other.
    None,
}

impl Key {
    /// The names [`Key::from_str`] takes.
    pub const NAMES: [&'static str; 4] = ["identity", "component", "identity+component", "none"];

    /// The key of `event`, `None` for [`Key::None`].
    pub fn of(&self, event: &AnyEvent) -> Option<String> {
        let component = || event.component().unwrap_or_default();
        match self {
            Key::Identity => Some(event.identity().to_owned()),
            Key::Component => Some(component().to_owned()),
            // Length-prefixed: ("a.b", "c") and ("a", "b.c") never meet.
            Key::IdentityComponent => Some(format!(
                "{}:{}{}",
                event.identity().len(),
                event.identity(),
                component()
            )),
            Key::None => None,
        }
    }

    /// Its name in a rules file.
    pub fn as_str(&self) -> &'static str {
        match self {
            Key::Identity => "identity",
            Key::Component => "component",
            Key::IdentityComponent => "identity+component",
            Key::None => "none",
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key name that is not one of [`Key::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKey(pub String);

impl fmt::Display for UnknownKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown key '{}' (use {})",
            lifecycle_core::TerminalSafe(&self.0),
            Key::NAMES.join(", ")
        )
    }
}

impl std::error::Error for UnknownKey {}

impl FromStr for Key {
    type Err = UnknownKey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "identity" => Ok(Key::Identity),
            "component" => Ok(Key::Component),
            "identity+component" => Ok(Key::IdentityComponent),
            "none" => Ok(Key::None),
            other => Err(UnknownKey(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifecycle_core::{Event, EventType};

    #[test]
    fn keys_of_an_event() {
        let event: AnyEvent = Event::builder(EventType::Startup)
            .identity("a.b")
            .component("c")
            .version("1")
            .build()
            .unwrap()
            .into();
        assert_eq!(Key::Identity.of(&event).as_deref(), Some("a.b"));
        assert_eq!(Key::Component.of(&event).as_deref(), Some("c"));
        assert_eq!(Key::IdentityComponent.of(&event).as_deref(), Some("3:a.bc"));
        assert_eq!(Key::None.of(&event), None);
        for name in Key::NAMES {
            assert_eq!(name.parse::<Key>().unwrap().as_str(), name);
        }
        assert_eq!(
            "node".parse::<Key>().unwrap_err().to_string(),
            "unknown key 'node' (use identity, component, identity+component, none)"
        );
    }
}
