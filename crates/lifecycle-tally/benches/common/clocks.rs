//! The clock patterns of the tally's benches: node `i`'s timestamp, around [`STORED`] (when
//! the broker stored every event), and node `i`'s alive event at a timestamp.

use lifecycle_core::{Event, EventType};

/// Node `i`'s event timestamp.
pub(crate) type Stamp = fn(usize) -> i64;

/// When the broker stored the events, as unix seconds.
pub(crate) const STORED: i64 = 1_700_000_000;

/// Each pattern by name.
pub(crate) const CLOCKS: [(&str, Stamp); 4] = [
    ("in_order", |i| STORED + (i / 1_000) as i64),
    ("reversed", |i| STORED - (i / 1_000) as i64),
    // Each node's clock off by up to 10 minutes either way, in a saw-tooth.
    ("saw_tooth", |i| STORED + (i % 1_200) as i64 - 600),
    ("one_percent_an_hour_behind", |i| {
        STORED + (i / 1_000) as i64 - if i % 100 == 0 { 3_600 } else { 0 }
    }),
];

/// Node `i`'s alive event (`node<i>.example.net`, server 0.28.0 or 0.29.4) at `timestamp`.
pub(crate) fn alive_at(i: usize, timestamp: i64) -> Event {
    Event::builder(EventType::Alive)
        .identity(format!("node{i}.example.net"))
        .component("server")
        .version(["0.28.0", "0.29.4"][i % 2])
        .timestamp(timestamp)
        .build()
        .unwrap()
}
