//! The identities of a million nodes, kept compactly.
//!
//! An identity is almost always a host name, and a fleet's host names share a few domains
//! (`node000123.ams1.example.net`). Each identity is kept as its host part (up to its first
//! dot) in a byte arena of fixed chunks, followed by the number of its domain in a table of
//! the domains seen: about 12 bytes for the usual identity, where a `Box<str>` costs its
//! 16-byte pointer and a 48-byte allocation. Chunks never move, so growing costs no copy and
//! no peak. Domains past the table's cap (a publisher making up names) are kept inline.
//!
//! What a removed identity held stays in its chunk as garbage until [`Identities::compact`]
//! rewrites the live ones, which the fleet asks for once garbage outweighs them: amortised,
//! removal costs O(1).
//!
//! An identity is found by the hash of its parts ([`Identities::hash`]), so the hash of an
//! incoming identity and of a stored one agree however the stored one is laid out.

use std::borrow::Cow;
use std::hash::BuildHasher;

/// Bytes per chunk: the largest entry (two names of [`crate::MAX_NAME_LEN`] bytes and their
/// lengths) fits many times over.
const CHUNK: usize = 64 * 1024;
const CHUNK_BITS: u32 = CHUNK.trailing_zeros();

/// Most domains numbered; later ones are kept inline with each identity.
const MAX_DOMAINS: usize = 1 << 16;

/// Tag of an identity without a dot.
const NO_DOMAIN: u32 = 0;
/// Tag of an identity whose domain follows inline.
const INLINE_DOMAIN: u32 = 1;
/// Tags from this one on number a domain of the table.
const FIRST_DOMAIN: u32 = 2;

/// Where an identity is kept: its chunk, then its offset in the chunk.
pub(crate) type IdentityRef = u32;

/// An identity as the index hashes and compares it: the part before the first dot, and the
/// part after it when there is a dot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Parts<'a> {
    pub(crate) host: &'a str,
    pub(crate) domain: Option<&'a str>,
}

impl<'a> Parts<'a> {
    pub(crate) fn of(identity: &'a str) -> Parts<'a> {
        match identity.split_once('.') {
            Some((host, domain)) => Parts {
                host,
                domain: Some(domain),
            },
            None => Parts {
                host: identity,
                domain: None,
            },
        }
    }

    /// The identity these parts make.
    pub(crate) fn joined(self) -> Cow<'a, str> {
        match self.domain {
            None => Cow::Borrowed(self.host),
            Some(domain) => Cow::Owned(format!("{}.{domain}", self.host)),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Identities {
    chunks: Vec<Vec<u8>>,
    domains: Vec<Box<str>>,
    domain_numbers: hashbrown::HashMap<Box<str>, u32, foldhash::fast::FixedState>,
    /// Bytes of entries in use, and of entries removed.
    live: usize,
    garbage: usize,
}

fn varint_len(value: u32) -> usize {
    (32 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a varint at `*at`, moving past it. Entries are written here, so they are whole.
fn get_varint(bytes: &[u8], at: &mut usize) -> u32 {
    let mut value = 0u32;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= u32::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return value;
        }
        shift += 7;
    }
}

/// The text of bytes written from a `&str` cut at an ASCII dot: always UTF-8.
fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

impl Identities {
    /// The hash the index keeps `component`'s node `parts` under.
    pub(crate) fn hash(hasher: &impl BuildHasher, component: u16, parts: Parts<'_>) -> u64 {
        hasher.hash_one((component, parts.host, parts.domain))
    }

    /// Keeps `parts`, returning where.
    pub(crate) fn insert(&mut self, parts: Parts<'_>) -> IdentityRef {
        let tag = match parts.domain {
            None => NO_DOMAIN,
            Some(domain) => match self.domain_number(domain) {
                Some(number) => FIRST_DOMAIN + number,
                None => INLINE_DOMAIN,
            },
        };
        let inline = (tag == INLINE_DOMAIN).then_some(parts.domain).flatten();
        let len = varint_len(parts.host.len() as u32)
            + parts.host.len()
            + varint_len(tag)
            + inline.map_or(0, |d| varint_len(d.len() as u32) + d.len());
        let at = self.room(len);
        let chunk = self.chunks.last_mut().expect("room made a chunk");
        put_varint(chunk, parts.host.len() as u32);
        chunk.extend_from_slice(parts.host.as_bytes());
        put_varint(chunk, tag);
        if let Some(domain) = inline {
            put_varint(chunk, domain.len() as u32);
            chunk.extend_from_slice(domain.as_bytes());
        }
        self.live += len;
        at
    }

    /// Where an entry of `len` bytes goes: the end of the last chunk, or of a new one.
    fn room(&mut self, len: usize) -> IdentityRef {
        let fits = self
            .chunks
            .last()
            .is_some_and(|chunk| chunk.len() + len <= CHUNK);
        if !fits {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let index = self.chunks.len() - 1;
        ((index as u32) << CHUNK_BITS) | self.chunks[index].len() as u32
    }

    /// Appends a whole entry, returning where.
    fn append(&mut self, entry: &[u8]) -> IdentityRef {
        let at = self.room(entry.len());
        self.chunks
            .last_mut()
            .expect("room made a chunk")
            .extend_from_slice(entry);
        at
    }

    /// The number of `domain`, numbering it while there is room.
    fn domain_number(&mut self, domain: &str) -> Option<u32> {
        if let Some(&number) = self.domain_numbers.get(domain) {
            return Some(number);
        }
        if self.domains.len() >= MAX_DOMAINS {
            return None;
        }
        let number = self.domains.len() as u32;
        self.domains.push(domain.into());
        self.domain_numbers.insert(domain.into(), number);
        Some(number)
    }

    /// The parts kept at `at`, and the length of their entry.
    fn read(&self, at: IdentityRef) -> (Parts<'_>, usize) {
        let chunk = &self.chunks[(at >> CHUNK_BITS) as usize];
        let start = (at & (CHUNK as u32 - 1)) as usize;
        let mut i = start;
        let host_len = get_varint(chunk, &mut i) as usize;
        let host = text(&chunk[i..i + host_len]);
        i += host_len;
        let domain = match get_varint(chunk, &mut i) {
            NO_DOMAIN => None,
            INLINE_DOMAIN => {
                let len = get_varint(chunk, &mut i) as usize;
                i += len;
                Some(text(&chunk[i - len..i]))
            }
            number => Some(&*self.domains[(number - FIRST_DOMAIN) as usize]),
        };
        (Parts { host, domain }, i - start)
    }

    /// The parts kept at `at`.
    pub(crate) fn get(&self, at: IdentityRef) -> Parts<'_> {
        self.read(at).0
    }

    /// Forgets the identity at `at`; its bytes are garbage until the next compaction.
    pub(crate) fn remove(&mut self, at: IdentityRef) {
        let (_, len) = self.read(at);
        self.live -= len;
        self.garbage += len;
    }

    /// Whether removed identities take enough room to be worth a compaction.
    pub(crate) fn wants_compaction(&self) -> bool {
        self.garbage > CHUNK && self.garbage > self.live
    }

    /// Rewrites the identities still in use, each reference in `refs` updated to its new
    /// place, into fresh chunks; the old ones and their garbage are freed.
    pub(crate) fn compact<'r>(&mut self, refs: impl Iterator<Item = &'r mut IdentityRef>) {
        let old = std::mem::take(&mut self.chunks);
        let reader = Identities {
            chunks: old,
            domains: std::mem::take(&mut self.domains),
            ..Identities::default()
        };
        for at in refs {
            let (_, len) = reader.read(*at);
            let chunk = &reader.chunks[(*at >> CHUNK_BITS) as usize];
            let start = (*at & (CHUNK as u32 - 1)) as usize;
            *at = self.append(&chunk[start..start + len]);
        }
        self.domains = reader.domains;
        self.garbage = 0;
    }

    /// Bytes held: chunks, and the domain table's names.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.chunks.len() * CHUNK + self.domains.iter().map(|d| d.len() * 2 + 32).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_come_back_as_they_went_in() {
        let mut identities = Identities::default();
        let names = [
            "node1.example.net",
            "node2.example.net",
            "bare",
            "trailing.",
            ".leading",
            "",
            "a.b.c.d",
            "ünïcødé.exämple.net",
        ];
        let refs: Vec<IdentityRef> = names
            .iter()
            .map(|name| identities.insert(Parts::of(name)))
            .collect();
        for (name, at) in names.iter().zip(&refs) {
            assert_eq!(identities.get(*at), Parts::of(name));
            assert_eq!(identities.get(*at).joined(), *name);
        }
        // One domain shared: numbered once.
        assert_eq!(identities.domains.len(), 5);
    }

    #[test]
    fn varint_lengths_are_what_is_written() {
        for value in [0, 1, 127, 128, 16_383, 16_384, 2_097_152, u32::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(varint_len(value), out.len(), "{value}");
        }
    }

    #[test]
    fn domains_past_the_cap_are_kept_inline() {
        let mut identities = Identities::default();
        for i in 0..MAX_DOMAINS {
            identities.insert(Parts::of(&format!("h.d{i}")));
        }
        let at = identities.insert(Parts::of("h.one-too-many.example.net"));
        assert_eq!(identities.domains.len(), MAX_DOMAINS);
        assert_eq!(identities.get(at).joined(), "h.one-too-many.example.net");
    }

    #[test]
    fn compaction_keeps_what_is_in_use_and_frees_the_rest() {
        let mut identities = Identities::default();
        let mut kept = Vec::new();
        for i in 0..100_000 {
            let at = identities.insert(Parts::of(&format!("node{i}.example.net")));
            if i % 10 == 0 {
                kept.push((i, at));
            } else {
                identities.remove(at);
            }
        }
        assert!(identities.wants_compaction());
        let before = identities.heap_bytes();
        identities.compact(kept.iter_mut().map(|(_, at)| at));
        assert!(!identities.wants_compaction());
        assert!(identities.heap_bytes() < before / 5, "{before}");
        for (i, at) in kept {
            assert_eq!(identities.get(at).joined(), format!("node{i}.example.net"));
        }
    }
}
