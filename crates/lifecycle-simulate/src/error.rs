//! What can be wrong with a simulated fleet.

/// A fleet that cannot be simulated, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// Too few or too many nodes.
    #[error("a fleet needs between 1 and {max} nodes, not {0}", max = crate::spec::MAX_NODES)]
    Nodes(usize),
    /// No component to run.
    #[error("a fleet needs at least one component")]
    NoComponents,
    /// More components to run across the fleet (nodes × components) than the simulator keeps.
    #[error(
        "{nodes} nodes running {components} components each are more than the {max} \
         components a simulated fleet can run",
        max = crate::spec::MAX_MEMBERS
    )]
    TooManyMembers {
        /// Nodes asked for.
        nodes: usize,
        /// Components per node asked for.
        components: usize,
    },
    /// A component that cannot be part of a NATS subject.
    #[error("{0}")]
    Component(lifecycle_core::SubjectTokenError),
    /// No version with a weight.
    #[error("a fleet needs at least one version with a weight above 0")]
    NoVersions,
    /// More versions than the simulator tracks.
    #[error("{0} versions are more than a fleet can be shared out into")]
    TooManyVersions(usize),
    /// An empty version.
    #[error("invalid version share '{0}': the version is empty")]
    EmptyVersion(String),
    /// A weight that is not a number.
    #[error("invalid version share '{0}': the weight after ':' must be a whole number")]
    Weight(String),
    /// A rate (what, and the value given) out of range.
    #[error(
        "invalid {0} {1:?}: it must be a number a second from {min} to {max}",
        min = crate::spec::MIN_RATE,
        max = crate::spec::MAX_RATE
    )]
    Rate(&'static str, f64),
    /// An alive interval of zero or longer than [`lifecycle_core::duration::MAX`].
    #[error("invalid alive interval {0:?}: it must be above 0 and at most 100 years")]
    AliveInterval(std::time::Duration),
}
