use std::fmt;

/// Longest id kept inline: a hyphenated UUID, which is what Choria sends.
const INLINE: usize = 36;

/// An event id, stored without an allocation when it fits a UUID's 36 bytes: parsing then
/// allocates nothing for the usual event's id.
#[derive(Clone)]
pub(crate) enum Id {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl Id {
    /// Its bytes, without checking again that they are UTF-8.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Id::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Id::Heap(id) => id.as_bytes(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Always built from a `&str`, so the bytes are UTF-8.
            Id::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Id::Heap(id) => id,
        }
    }
}

impl From<&str> for Id {
    fn from(id: &str) -> Self {
        if id.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            Id::Inline {
                len: id.len() as u8,
                bytes,
            }
        } else {
            Id::Heap(id.into())
        }
    }
}

impl From<String> for Id {
    fn from(id: String) -> Self {
        Id::from(id.as_str())
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<str> for Id {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::Id;

    #[test]
    fn keeps_every_id_as_given() {
        for id in [
            "",
            "1",
            "6b0b2a6e-1f0e-4c1a-9d2e-000000000007",
            &"x".repeat(37),
            "é-ü",
        ] {
            let stored = Id::from(id);
            assert_eq!(stored.as_str(), id);
            assert_eq!(matches!(stored, Id::Inline { .. }), id.len() <= 36);
        }
    }
}
