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
    /// A component that cannot be part of a NATS subject.
    #[error("invalid component '{0}': it must be a non-empty word without '.', '*', '>' or spaces")]
    Component(String),
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
    /// A rate or interval out of range.
    #[error("invalid {0}: {1}")]
    Rate(&'static str, f64),
}
