//! What one node is to `wait`: its key. The node itself is the tally's wire type,
//! [`lifecycle_tally_api::Node`].

use lifecycle_core::KeyBy;

/// The key of an event from `identity` about `component`: the parts `by` leaves out empty.
pub(crate) fn key(by: KeyBy, identity: &str, component: &str) -> Key {
    match by {
        KeyBy::Identity => Key(identity.into(), String::new()),
        KeyBy::Component => Key(String::new(), component.into()),
        KeyBy::IdentityComponent => Key(identity.into(), component.into()),
    }
}

/// The identity and component parts of a key, the part [`KeyBy`] leaves out empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key(pub(crate) String, pub(crate) String);
