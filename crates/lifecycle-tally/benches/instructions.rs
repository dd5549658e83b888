//! A fixed amount of work per clock pattern, to count instructions with callgrind (exact
//! whatever else the machine does, unlike the wall-clock figures of `benches/tally.rs`):
//! a million new nodes, their events stamped in order, reversed, in a saw-tooth, or one in
//! a hundred an hour behind, applied as ingest applies them.
//!
//! ```text
//! cargo bench -p lifecycle-tally --bench instructions --no-run
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/instructions-* none
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/deps/instructions-* in_order
//! ```
//!
//! The pattern `none` builds the events and applies none: the difference from it, divided by
//! the events, is the cost of applying one.

use lifecycle_core::AnyEvent;
use lifecycle_tally::{Tally, TallyOptions};

#[path = "common/clocks.rs"]
mod clocks;
use clocks::{CLOCKS, STORED, Stamp, alive_at};

const NODES: usize = 1_000_000;

fn main() {
    // `cargo test --benches` runs this with no pattern: a small smoke run.
    let pattern = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    let nodes = if pattern.is_empty() { 1_000 } else { NODES };
    // `none` stamps as in order.
    let stamp: Stamp = CLOCKS
        .iter()
        .find(|(name, _)| *name == pattern)
        .map_or(CLOCKS[0].1, |(_, stamp)| *stamp);
    let events: Vec<AnyEvent> = (0..nodes)
        .map(|i| AnyEvent::Lifecycle(alive_at(i, stamp(i))))
        .collect();
    let tally = Tally::new(TallyOptions::default());
    if pattern != "none" {
        for event in &events {
            tally.observe_received(event, STORED);
        }
        assert_eq!(tally.fleet().len(), nodes);
    }
}
