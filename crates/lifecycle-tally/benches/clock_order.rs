//! Wall-clock time to apply a million new nodes' events per clock pattern, the patterns
//! interleaved round by round so that each round's ratios to "in order" compare runs made
//! moments apart: a load that comes and goes moves a round, not one pattern.
//!
//! `cargo bench -p lifecycle-tally --bench clock_order -- --rounds 7`
//!
//! Prints each round's times and, per pattern, the median and range of its ratio to in
//! order (above 1: slower). Criterion's `tally/clocks/*` runs each pattern for its own ten
//! seconds, so on a shared machine its ratios measure the load as much as the tally.

use std::time::Instant;

use lifecycle_core::AnyEvent;
use lifecycle_tally::{Tally, TallyOptions};

#[path = "common/clocks.rs"]
mod clocks;
use clocks::{CLOCKS, STORED, alive_at};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    // `cargo test --benches` runs this without arguments: a small smoke run.
    let bench = args.iter().any(|a| a == "--bench");
    let rounds = value("--rounds", if bench { 5 } else { 1 });
    let nodes = value("--nodes", if bench { 1_000_000 } else { 1_000 });
    let patterns: Vec<(&str, Vec<AnyEvent>)> = CLOCKS
        .iter()
        .map(|(name, stamp)| {
            let events = (0..nodes)
                .map(|i| AnyEvent::Lifecycle(alive_at(i, stamp(i))))
                .collect();
            (*name, events)
        })
        .collect();
    println!(
        "clock order: {nodes} new nodes, {rounds} rounds; load {}",
        load()
    );
    let mut ratios = vec![Vec::new(); patterns.len()];
    for round in 1..=rounds {
        let seconds: Vec<f64> = patterns
            .iter()
            .map(|(_, events)| {
                let tally = Tally::new(TallyOptions::default());
                let start = Instant::now();
                for event in events {
                    tally.observe_received(event, STORED);
                }
                let elapsed = start.elapsed().as_secs_f64();
                assert_eq!(tally.fleet().len(), nodes);
                elapsed
            })
            .collect();
        let shown: Vec<String> = patterns
            .iter()
            .zip(&seconds)
            .map(|((name, _), s)| format!("{name} {s:.3} s"))
            .collect();
        println!("round {round}: {}", shown.join(", "));
        for (i, s) in seconds.iter().enumerate() {
            ratios[i].push(s / seconds[0]);
        }
    }
    for ((name, _), mut r) in patterns.iter().zip(ratios) {
        r.sort_by(f64::total_cmp);
        println!(
            "{name:<28} time / in order: median {:.2} range {:.2}-{:.2}",
            r[r.len() / 2],
            r[0],
            r[r.len() - 1]
        );
    }
    println!("load after: {}", load());
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
