//! Snapshots of a fleet: compact, written a piece at a time, read back whole or not at all.
//!
//! A snapshot is a sequence of records after a header, ending with the number of nodes and
//! a CRC-32 of everything before it. It is written while the tally goes on counting (the
//! fleet is locked for a step of its slab at a time, as a listing is), so it is fuzzy: it
//! holds every event up to the stream sequence it names and perhaps some after. Replaying
//! the stream from the sequence after that one brings it to the present, since applying an
//! event again gives the same node state.
//!
//! Layout, little-endian, lengths and numbers as LEB128 varints unless said:
//!
//! - header: `LCTALLY` and a zero byte, the format (u32), the stream sequence covered (u64),
//!   when it was written (i64, unix seconds), the fleet's receipt epoch (i64), how many
//!   nodes the fleet had when it began (u64, a hint to reserve room), and the tally's
//!   component filter (a count, then names);
//! - `C` name: the next component (numbered from 0, in the order the fleet saw them);
//! - `V` component name: the next version definition (numbered from 0);
//! - `N` definition flags(u8: 1 = lost) received(zigzag) last_seen(zigzag) identity: a node;
//! - `E` component name left(zigzag): a version shown with no node since `left`;
//! - `Z` nodes(u64) crc(u32): the end.
//!
//! The reader ([`Decoder`]) takes bytes as they come and refuses, with what was wrong, any
//! input that is not such a snapshot: a wrong magic, another format, a name too long, a
//! count that disagrees, a checksum that does not match, bytes after the end.

use crate::error::{Error, SnapshotProblem};
use crate::fleet::{Fleet, MAX_NAME_LEN, SnapshotNode};
use crate::identities::Parts;

const MAGIC: &[u8; 8] = b"LCTALLY\0";

/// The snapshot format this tally writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// The longest record: a node with an identity of [`MAX_NAME_LEN`] bytes and its numbers,
/// with room to spare. A record not complete within this many bytes is not one.
const MAX_RECORD: usize = 2 * MAX_NAME_LEN + 64;

/// Most components a snapshot's filter names.
const MAX_FILTER: u64 = 1_000;

/// The longest header: its fixed fields and a filter of [`MAX_FILTER`] names.
const MAX_HEADER: usize = 64 + MAX_FILTER as usize * (MAX_NAME_LEN + 2);

/// What a snapshot says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The last `CHORIA_EVENTS` sequence it covers: replay goes on after it.
    pub sequence: u64,
    /// When it was written, unix seconds.
    pub written: i64,
    /// Nodes it holds, up and lost.
    pub nodes: u64,
}

fn corrupt(why: impl Into<String>) -> Error {
    SnapshotProblem::Corrupt(why.into()).into()
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    put_varint(out, name.len() as u64);
    out.extend_from_slice(name.as_bytes());
}

/// Writes a snapshot a piece at a time: [`Encoder::nodes`] for each step of the slab, then
/// [`Encoder::end`]. [`Encoder::take`] hands over what is written so far.
pub(crate) struct Encoder {
    out: Vec<u8>,
    crc: crc32fast::Hasher,
    /// Components written so far: they are numbered in the fleet's order.
    components: usize,
    /// Version definitions written: (component, version) to its number.
    definitions: hashbrown::HashMap<(u16, Box<str>), u64, foldhash::fast::FixedState>,
    nodes: u64,
}

impl Encoder {
    /// Starts a snapshot covering `sequence`, of a tally counting `filter` (empty: all).
    pub(crate) fn new(fleet: &Fleet, sequence: u64, written: i64, filter: &[String]) -> Encoder {
        let mut out = Vec::with_capacity(64 * 1024);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&SNAPSHOT_FORMAT.to_le_bytes());
        out.extend_from_slice(&sequence.to_le_bytes());
        out.extend_from_slice(&written.to_le_bytes());
        out.extend_from_slice(&fleet.receipts().0.to_le_bytes());
        out.extend_from_slice(&((fleet.len() + fleet.lost_len()) as u64).to_le_bytes());
        put_varint(&mut out, filter.len() as u64);
        for name in filter {
            put_name(&mut out, name);
        }
        Encoder {
            out,
            crc: crc32fast::Hasher::new(),
            components: 0,
            definitions: Default::default(),
            nodes: 0,
        }
    }

    /// Writes the nodes of positions `from..to` of `fleet` (locked meanwhile); returns the
    /// position after the last one looked at.
    pub(crate) fn nodes(&mut self, fleet: &Fleet, from: usize, to: usize) -> usize {
        while self.components < fleet.component_count() {
            self.out.push(b'C');
            put_name(&mut self.out, fleet.component_name(self.components as u16));
            self.components += 1;
        }
        fleet.snapshot_walk(from, to, |node| self.node(node))
    }

    fn node(&mut self, node: SnapshotNode<'_>) {
        let next = self.definitions.len() as u64;
        let definition = match self.definitions.get(&(node.component, node.version.into())) {
            Some(&definition) => definition,
            None => {
                self.out.push(b'V');
                put_varint(&mut self.out, u64::from(node.component));
                put_name(&mut self.out, node.version);
                self.definitions
                    .insert((node.component, node.version.into()), next);
                next
            }
        };
        self.out.push(b'N');
        put_varint(&mut self.out, definition);
        self.out.push(u8::from(node.lost));
        put_varint(&mut self.out, zigzag(node.received));
        put_varint(&mut self.out, zigzag(node.last_seen));
        let Parts { host, domain } = node.identity;
        let len = host.len() + domain.map_or(0, |d| d.len() + 1);
        put_varint(&mut self.out, len as u64);
        self.out.extend_from_slice(host.as_bytes());
        if let Some(domain) = domain {
            self.out.push(b'.');
            self.out.extend_from_slice(domain.as_bytes());
        }
        self.nodes += 1;
    }

    /// What is written so far, and not yet taken.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.crc.update(&self.out);
        std::mem::take(&mut self.out)
    }

    /// Nodes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.nodes
    }

    /// Ends the snapshot with the versions `fleet` shows with no node, the node count and the
    /// checksum; returns the last bytes.
    pub(crate) fn end(mut self, fleet: &Fleet) -> Vec<u8> {
        while self.components < fleet.component_count() {
            self.out.push(b'C');
            put_name(&mut self.out, fleet.component_name(self.components as u16));
            self.components += 1;
        }
        for (component, version, left) in fleet.emptied_versions() {
            self.out.push(b'E');
            put_varint(&mut self.out, u64::from(component));
            put_name(&mut self.out, version);
            put_varint(&mut self.out, zigzag(left));
        }
        self.out.push(b'Z');
        self.out.extend_from_slice(&self.nodes.to_le_bytes());
        self.crc.update(&self.out);
        let crc = self.crc.finalize();
        let mut last = std::mem::take(&mut self.out);
        last.extend_from_slice(&crc.to_le_bytes());
        last
    }
}

/// A short read: the record goes on in bytes not yet given.
struct Short;

/// Reads fields from a slice, failing with [`Short`] at its end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Short> {
        let end = self.at.checked_add(n).ok_or(Short)?;
        let taken = self.bytes.get(self.at..end).ok_or(Short)?;
        self.at = end;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, Short> {
        Ok(self.take(1)?[0])
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A varint; `Ok(None)` when it is longer than a u64 holds.
    fn varint(&mut self) -> Result<Option<u64>, Short> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            if shift == 63 && byte > 1 {
                return Ok(None);
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(Some(value));
            }
        }
        Ok(None)
    }
}

/// Where the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Records,
    Ended,
}

/// Reads a snapshot as its bytes come ([`Decoder::feed`]) into a fleet, then checks it
/// whole ([`Decoder::finish`]). Nothing it reads is trusted: every length, number and
/// reference is checked, and the fleet it builds is given back only once the checksum
/// matches.
pub(crate) struct Decoder {
    /// The snapshot's size, bounding what its header may ask to reserve.
    size: u64,
    fleet: Fleet,
    template: Fleet,
    filter: Vec<String>,
    stage: Stage,
    crc: crc32fast::Hasher,
    info: SnapshotInfo,
    /// Version definitions: (component, version) numbers in the fleet.
    definitions: Vec<(u16, u16)>,
    /// Component numbers by the snapshot's numbering.
    components: Vec<u16>,
    nodes: u64,
    crc_read: Option<u32>,
}

fn name_of(bytes: &[u8], what: &str) -> Result<String, Error> {
    String::from_utf8(bytes.to_vec()).map_err(|_| corrupt(format!("a {what} that is not UTF-8")))
}

impl Decoder {
    /// Reads a snapshot of `size` bytes into a fleet with `template`'s caps, for a tally
    /// counting `filter` (empty: all); a snapshot of another filter is refused.
    pub(crate) fn new(template: &Fleet, filter: &[String], size: u64) -> Decoder {
        Decoder {
            size,
            fleet: template.restoring(0, 0),
            template: template.restoring(0, 0),
            filter: filter.to_vec(),
            stage: Stage::Header,
            crc: crc32fast::Hasher::new(),
            info: SnapshotInfo {
                sequence: 0,
                written: 0,
                nodes: 0,
            },
            definitions: Vec::new(),
            components: Vec::new(),
            nodes: 0,
            crc_read: None,
        }
    }

    /// Reads what it can of `bytes`; returns how many it used. The rest (a record cut
    /// short) must be given again, with what follows.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        let mut used = 0;
        loop {
            let rest = &bytes[used..];
            if rest.is_empty() {
                return Ok(used);
            }
            let mut cursor = Cursor { bytes: rest, at: 0 };
            let read = match self.stage {
                Stage::Header => self.header(&mut cursor),
                Stage::Records => self.record(&mut cursor),
                Stage::Ended => {
                    return Err(corrupt("bytes after its end"));
                }
            };
            match read {
                Ok(result) => {
                    result?;
                    // The checksum covers everything up to the end record's last field.
                    let covered = if self.stage == Stage::Ended {
                        cursor.at - 4
                    } else {
                        cursor.at
                    };
                    self.crc.update(&rest[..covered]);
                    used += cursor.at;
                }
                Err(Short) => {
                    // Every field is bounded: this much and still short is no record.
                    let longest = match self.stage {
                        Stage::Header => MAX_HEADER,
                        _ => MAX_RECORD,
                    };
                    if rest.len() > longest {
                        return Err(corrupt("a record longer than any"));
                    }
                    return Ok(used);
                }
            }
        }
    }

    fn header(&mut self, cursor: &mut Cursor<'_>) -> Result<Result<(), Error>, Short> {
        let magic: [u8; 8] = cursor.fixed()?;
        if &magic != MAGIC {
            return Ok(Err(corrupt("it does not start as a tally snapshot does")));
        }
        let format = u32::from_le_bytes(cursor.fixed()?);
        if format != SNAPSHOT_FORMAT {
            return Ok(Err(SnapshotProblem::Format {
                found: format,
                expected: SNAPSHOT_FORMAT,
            }
            .into()));
        }
        self.info.sequence = u64::from_le_bytes(cursor.fixed()?);
        self.info.written = i64::from_le_bytes(cursor.fixed()?);
        let epoch = i64::from_le_bytes(cursor.fixed()?);
        let hint = u64::from_le_bytes(cursor.fixed()?);
        let Some(count) = cursor.varint()? else {
            return Ok(Err(corrupt("a count too large")));
        };
        if count > MAX_FILTER {
            return Ok(Err(corrupt(format!("a filter of {count} components"))));
        }
        let mut filter = Vec::new();
        for _ in 0..count {
            match self.name(cursor, "component")? {
                Ok(name) => filter.push(name),
                Err(e) => return Ok(Err(e)),
            }
        }
        if filter != self.filter {
            return Ok(Err(
                SnapshotProblem::OtherComponents { found: filter }.into()
            ));
        }
        // Room reserved for the nodes it says it holds, no more than its size could hold.
        let hint = hint.min(self.size / 8) as usize;
        self.fleet = self.template.restoring(epoch, hint);
        self.stage = Stage::Records;
        Ok(Ok(()))
    }

    /// A name: its length, checked, then its bytes.
    fn name(&self, cursor: &mut Cursor<'_>, what: &str) -> Result<Result<String, Error>, Short> {
        let len = match cursor.varint()? {
            Some(len) if len <= MAX_NAME_LEN as u64 => len as usize,
            _ => return Ok(Err(corrupt(format!("a {what} name too long")))),
        };
        let bytes = cursor.take(len)?;
        Ok(name_of(bytes, what))
    }

    fn number(cursor: &mut Cursor<'_>) -> Result<u64, Short> {
        Ok(cursor.varint()?.unwrap_or(u64::MAX))
    }

    fn record(&mut self, cursor: &mut Cursor<'_>) -> Result<Result<(), Error>, Short> {
        let tag = cursor.byte()?;
        Ok(match tag {
            b'C' => match self.name(cursor, "component")? {
                Err(e) => Err(e),
                Ok(name) => match self.fleet.restore_component(&name) {
                    Ok(number) => {
                        self.components.push(number);
                        Ok(())
                    }
                    Err(refusal) => Err(SnapshotProblem::OverCaps {
                        what: format!("component {name:?}"),
                        refusal,
                    }
                    .into()),
                },
            },
            b'V' => {
                let component = Self::number(cursor)?;
                match self.name(cursor, "version")? {
                    Err(e) => Err(e),
                    Ok(version) => self.define(component, &version),
                }
            }
            b'N' => {
                let definition = Self::number(cursor)?;
                let flags = cursor.byte()?;
                let received = unzigzag(Self::number(cursor)?);
                let last_seen = unzigzag(Self::number(cursor)?);
                match self.name(cursor, "node")? {
                    Err(e) => Err(e),
                    Ok(identity) => self.node(definition, flags, received, last_seen, &identity),
                }
            }
            b'E' => {
                let component = Self::number(cursor)?;
                let version = self.name(cursor, "version")?;
                let left = unzigzag(Self::number(cursor)?);
                match version {
                    Err(e) => Err(e),
                    Ok(version) => self.emptied(component, &version, left),
                }
            }
            b'Z' => {
                let nodes = u64::from_le_bytes(cursor.fixed()?);
                let crc = u32::from_le_bytes(cursor.fixed()?);
                self.stage = Stage::Ended;
                self.crc_read = Some(crc);
                if nodes != self.nodes {
                    Err(corrupt(format!(
                        "it says it holds {nodes} nodes and holds {}",
                        self.nodes
                    )))
                } else {
                    self.info.nodes = nodes;
                    Ok(())
                }
            }
            other => Err(corrupt(format!("an unknown record {other:#04x}"))),
        })
    }

    fn component(&self, number: u64) -> Result<u16, Error> {
        usize::try_from(number)
            .ok()
            .and_then(|n| self.components.get(n).copied())
            .ok_or_else(|| corrupt(format!("component {number}, never named")))
    }

    /// Component `component`'s `version`, made in the fleet (within its caps) if new.
    fn version(&mut self, component: u64, version: &str) -> Result<(u16, u16), Error> {
        let component = self.component(component)?;
        let number = self
            .fleet
            .restore_version(component, version)
            .map_err(|refusal| {
                Error::from(SnapshotProblem::OverCaps {
                    what: format!("version {version:?}"),
                    refusal,
                })
            })?;
        Ok((component, number))
    }

    fn define(&mut self, component: u64, version: &str) -> Result<(), Error> {
        let definition = self.version(component, version)?;
        self.definitions.push(definition);
        Ok(())
    }

    fn node(
        &mut self,
        definition: u64,
        flags: u8,
        received: i64,
        last_seen: i64,
        identity: &str,
    ) -> Result<(), Error> {
        let &(component, version) = usize::try_from(definition)
            .ok()
            .and_then(|d| self.definitions.get(d))
            .ok_or_else(|| corrupt(format!("version definition {definition}, never made")))?;
        if flags > 1 {
            return Err(corrupt(format!("node flags {flags:#04x}")));
        }
        self.fleet
            .restore_node(
                component,
                version,
                flags == 1,
                received,
                last_seen,
                identity,
            )
            .map_err(|refusal| corrupt(format!("node {identity:?}: {refusal}")))?;
        self.nodes += 1;
        Ok(())
    }

    fn emptied(&mut self, component: u64, version: &str, left: i64) -> Result<(), Error> {
        let (component, number) = self.version(component, version)?;
        self.fleet.restore_emptied(component, number, left);
        Ok(())
    }

    /// The fleet read, once the whole snapshot was and its checksum matches.
    pub(crate) fn finish(mut self) -> Result<(Fleet, SnapshotInfo), Error> {
        if self.stage != Stage::Ended {
            return Err(corrupt("it ends before its end"));
        }
        let computed = self.crc.clone().finalize();
        if self.crc_read != Some(computed) {
            return Err(corrupt("its checksum does not match its bytes"));
        }
        self.fleet.finish_restore();
        Ok((self.fleet, self.info))
    }
}

impl Fleet {
    /// This fleet's snapshot, as a tally writes it: covering stream sequence `sequence`,
    /// written at `written` (unix seconds), by a tally counting `components` (empty: all).
    pub fn snapshot(&self, sequence: u64, written: i64, components: &[String]) -> Vec<u8> {
        let mut encoder = Encoder::new(self, sequence, written, components);
        encoder.nodes(self, 0, usize::MAX);
        let mut bytes = encoder.take();
        bytes.extend(encoder.end(self));
        bytes
    }

    /// Reads snapshot `bytes` written by a tally counting `components` into a fleet with
    /// this one's caps; refused, saying why, unless it is whole and sound.
    pub fn read_snapshot(
        &self,
        bytes: &[u8],
        components: &[String],
    ) -> Result<(Fleet, SnapshotInfo), Error> {
        let mut decoder = Decoder::new(self, components, bytes.len() as u64);
        let used = decoder.feed(bytes)?;
        if used < bytes.len() {
            return Err(corrupt("it ends in the middle of a record"));
        }
        decoder.finish()
    }
}

#[cfg(test)]
mod tests {
    use lifecycle_core::EventType;

    use super::*;
    use crate::error::ErrorKind;
    use crate::fleet::tests::event;
    use crate::fleet::{NodeView, StateSelection};

    /// Every node with all it holds, in a stable order.
    fn listing(fleet: &Fleet) -> Vec<(String, String, String, i64, i64, bool)> {
        let mut all = Vec::new();
        fleet.walk(
            0,
            usize::MAX,
            None,
            None,
            StateSelection::All,
            |n: NodeView<'_>| {
                all.push((
                    n.identity.into_owned(),
                    n.component.to_owned(),
                    n.version.to_owned(),
                    n.last_seen,
                    n.received,
                    n.state == lifecycle_core::NodeState::Lost,
                ));
                true
            },
        );
        all.sort();
        all
    }

    fn shown_of(fleet: &Fleet) -> Vec<(String, Vec<(String, u64)>)> {
        fleet
            .shown_versions()
            .map(|(c, v)| {
                let mut v: Vec<(String, u64)> =
                    v.iter().map(|(n, c)| (n.to_string(), *c)).collect();
                v.sort();
                (c.to_owned(), v)
            })
            .collect()
    }

    fn write(fleet: &Fleet, step: usize) -> Vec<u8> {
        let mut encoder = Encoder::new(fleet, 42, 1_700_000_000, &[]);
        let mut bytes = Vec::new();
        let mut at = 0;
        while at < fleet.positions() {
            at = encoder.nodes(fleet, at, at + step);
            bytes.extend(encoder.take());
        }
        bytes.extend(encoder.end(fleet));
        bytes
    }

    fn read(bytes: &[u8], chunk: usize) -> Result<(Fleet, SnapshotInfo), Error> {
        let mut decoder = Decoder::new(&Fleet::new(), &[], bytes.len() as u64);
        let mut pending = Vec::new();
        for piece in bytes.chunks(chunk) {
            pending.extend_from_slice(piece);
            let used = decoder.feed(&pending)?;
            pending.drain(..used);
        }
        if !pending.is_empty() {
            return Err(corrupt("left over"));
        }
        decoder.finish()
    }

    fn sample() -> Fleet {
        let mut fleet = Fleet::new();
        for i in 0..3_000i64 {
            let identity = match i % 3 {
                0 => format!("node{i}.ams1.example.net"),
                1 => format!("bare{i}"),
                _ => format!("edge{i}.example.org"),
            };
            let component = ["server", "broker"][i as usize % 2];
            let version = format!("0.{}", i % 4);
            fleet.observe(
                &event(EventType::Alive, &identity, component, &version, i * 7),
                1_000 + i,
            );
        }
        // Some lost, one version left with no node.
        fleet.expire(1_500, 1_500, usize::MAX, |_| {});
        fleet.observe(
            &event(
                EventType::Shutdown,
                "node2997.ams1.example.net",
                "broker",
                "",
                0,
            ),
            5_000,
        );
        fleet
    }

    #[test]
    fn a_fleet_comes_back_as_it_was() {
        let fleet = sample();
        let bytes = write(&fleet, 100);
        for chunk in [1, 7, 4096, bytes.len()] {
            let (restored, info) = read(&bytes, chunk).unwrap();
            assert_eq!(info.sequence, 42);
            assert_eq!(info.nodes as usize, fleet.len() + fleet.lost_len());
            assert_eq!(listing(&restored), listing(&fleet));
            assert_eq!(
                (restored.len(), restored.lost_len()),
                (fleet.len(), fleet.lost_len())
            );
            assert_eq!(shown_of(&restored), shown_of(&fleet));
            let lost: Vec<_> = restored.lost_per_component().collect();
            assert_eq!(lost, fleet.lost_per_component().collect::<Vec<_>>());
            // In order of receipt, as the fleet was.
            let order = |f: &Fleet| f.nodes(None, None).map(|n| n.received).collect::<Vec<_>>();
            assert!(order(&restored).windows(2).all(|w| w[0] <= w[1]));
            assert_eq!(order(&restored), order(&fleet));
        }
    }

    #[test]
    fn a_changed_byte_or_a_cut_is_refused() {
        let bytes = write(&sample(), 1_000);
        for at in [0, 9, 40, bytes.len() / 2, bytes.len() - 5, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x41;
            assert!(read(&bad, 4096).is_err(), "byte {at} changed");
        }
        for cut in [0, 10, 33, bytes.len() / 3, bytes.len() - 1] {
            let err = read(&bytes[..cut], 4096).unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::Snapshot(SnapshotProblem::Corrupt(_))),
                "{err}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            read(&longer, 4096).unwrap_err().kind(),
            corrupt("bytes after its end").kind()
        );
    }

    #[test]
    fn another_format_or_filter_is_refused_by_name() {
        let bytes = write(&sample(), 1_000);
        let mut other = bytes.clone();
        other[8] = 9;
        assert_eq!(
            read(&other, 4096).unwrap_err().kind(),
            &ErrorKind::Snapshot(SnapshotProblem::Format {
                found: 9,
                expected: SNAPSHOT_FORMAT
            })
        );
        let mut decoder = Decoder::new(&Fleet::new(), &["server".to_owned()], bytes.len() as u64);
        assert_eq!(
            decoder.feed(&bytes).unwrap_err().to_string(),
            "the snapshot was written by a tally counting every component, not this one's \
             components (give each kind of tally its own --snapshot name)"
        );
        // Caps smaller than the fleet written: refused, not half-loaded.
        let mut decoder = Decoder::new(&Fleet::with_caps(1, 10), &[], bytes.len() as u64);
        let err = decoder.feed(&bytes).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Snapshot(SnapshotProblem::OverCaps { .. })
            ),
            "{err}"
        );
    }

    /// A snapshot written while nodes come and go may hold a node twice: the later wins.
    #[test]
    fn a_node_written_twice_is_kept_once_as_received_last() {
        let mut fleet = Fleet::new();
        fleet.observe(&event(EventType::Alive, "n1", "s", "1", 10), 1_000);
        let mut encoder = Encoder::new(&fleet, 1, 0, &[]);
        let mut bytes = Vec::new();
        encoder.nodes(&fleet, 0, 1);
        bytes.extend(encoder.take());
        // Gone and back, in another slot, before the walk reaches it.
        fleet.observe(&event(EventType::Shutdown, "n1", "s", "", 11), 1_001);
        fleet.observe(&event(EventType::Alive, "other", "s", "1", 11), 1_001);
        fleet.observe(&event(EventType::Alive, "n1", "s", "2", 12), 1_002);
        encoder.nodes(&fleet, 1, usize::MAX);
        bytes.extend(encoder.take());
        bytes.extend(encoder.end(&fleet));
        let (restored, info) = read(&bytes, 4096).unwrap();
        assert_eq!(info.nodes, 2);
        // "other" took n1's old slot after the walk had passed it: not in the snapshot
        // (the replay after it brings it), and n1 is there once, as last received.
        let nodes: Vec<_> = listing(&restored);
        assert_eq!(nodes.len(), 1);
        assert_eq!(
            (nodes[0].0.as_str(), nodes[0].2.as_str(), nodes[0].4),
            ("n1", "2", 1_002)
        );
        assert_eq!(
            shown_of(&restored),
            [("s".to_owned(), vec![("2".to_owned(), 1)])]
        );
    }
}
