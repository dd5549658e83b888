//! The clock patterns of the tally's benches: node `i`'s timestamp, around [`STORED`] (when
//! the broker stored every event).

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
