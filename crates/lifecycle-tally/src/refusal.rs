//! Why the tally refused an event: the reasons of `<prefix>_refused_total`.

/// Why an event was not counted. A small fixed set, so the `reason` label of the refused
/// counter stays bounded whatever is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// The event names no node: its identity is empty.
    NoIdentity,
    /// The event names no component.
    NoComponent,
    /// A component or version name longer than [`MAX_NAME_LEN`](crate::MAX_NAME_LEN).
    NameTooLong,
    /// A new component when the tally already tracks its most components.
    TooManyComponents,
    /// A new version of a component that already runs its most versions.
    TooManyVersions,
}

impl Refusal {
    /// Every reason, in the order its counts are kept (and written in `refused_total`).
    pub const ALL: [Refusal; 5] = [
        Refusal::NoIdentity,
        Refusal::NoComponent,
        Refusal::NameTooLong,
        Refusal::TooManyComponents,
        Refusal::TooManyVersions,
    ];

    /// The `reason` label: `no_identity`, `no_component`, `name_too_long`,
    /// `too_many_components` or `too_many_versions`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NoIdentity => "no_identity",
            Refusal::NoComponent => "no_component",
            Refusal::NameTooLong => "name_too_long",
            Refusal::TooManyComponents => "too_many_components",
            Refusal::TooManyVersions => "too_many_versions",
        }
    }

    /// Its place in [`Refusal::ALL`], to keep a count per reason in an array.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order() {
        for (i, refusal) in Refusal::ALL.iter().enumerate() {
            assert_eq!(refusal.index(), i, "{refusal}");
        }
    }
}
