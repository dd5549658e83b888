//! Resident memory of a tally holding a million nodes (Choria's Go tally: about 305 MB).
//!
//! `cargo bench -p lifecycle-tally --bench memory`

use lifecycle_core::{AnyEvent, Event, EventType};
use lifecycle_tally::{Tally, TallyOptions};

fn resident_mib() -> f64 {
    lifecycle_testsupport::memory_mib("self", "VmRSS")
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: a small fleet there.
    let nodes = if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        10_000
    };
    let before = resident_mib();
    let tally = Tally::new(TallyOptions::default());
    for i in 0..nodes {
        // Built one at a time, so only the tally holds memory for the fleet.
        let event = Event::builder(EventType::Alive)
            .identity(format!("node{i}.example.net"))
            .component("server")
            .version(["0.28.0", "0.29.4", "0.30.0"][i % 3])
            .build()
            .unwrap();
        tally.observe(&AnyEvent::Lifecycle(event));
    }
    assert_eq!(tally.fleet().len(), nodes);
    let after = resident_mib();
    let heap = tally.fleet().heap_bytes() as f64 / (1024.0 * 1024.0);
    println!(
        "tally holding {nodes} nodes: {after:.1} MiB resident ({before:.1} MiB before), \
         the fleet's own heap {heap:.1} MiB"
    );
}
