//! Any bytes as a tally's snapshot: reading never panics and never takes what is not a
//! whole, sound snapshot; what it takes writes back as a snapshot that reads the same. The
//! bytes are tried as they are, and with their last four replaced by the checksum of the
//! rest, so that the records behind the checksum are explored too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lifecycle_tally::Fleet;

fn listing(fleet: &Fleet) -> Vec<String> {
    let mut all = Vec::new();
    fleet
        .nodes(None, None)
        .for_each(|n| all.push(format!("{n:?}")));
    fleet
        .lost_nodes(None, None)
        .for_each(|n| all.push(format!("{n:?}")));
    all
}

fn check(template: &Fleet, bytes: &[u8]) {
    let Ok((fleet, info)) = template.read_snapshot(bytes, &[]) else {
        return;
    };
    assert_eq!(info.nodes as usize, fleet.len() + fleet.lost_len());
    let again = fleet.snapshot(info.sequence, info.written, &[]);
    let (back, _) = template
        .read_snapshot(&again, &[])
        .expect("a snapshot written reads back");
    assert_eq!(listing(&back), listing(&fleet));
}

fuzz_target!(|bytes: &[u8]| {
    let template = Fleet::with_caps(8, 8).with_max_lost(16);
    check(&template, bytes);
    if bytes.len() > 4 {
        let mut fixed = bytes.to_vec();
        let body = fixed.len() - 4;
        let crc = crc32fast::hash(&fixed[..body]);
        fixed[body..].copy_from_slice(&crc.to_le_bytes());
        check(&template, &fixed);
    }
});
