//! Reporting on the JetStream streams as `lifecycle streams` does: a table row or a JSON
//! object per stream, and what setting one up changed.

use std::time::SystemTime;

use lifecycle_core::duration;
use serde_json::json;

use crate::streams::{StreamChange, StreamSpec, StreamState};

/// The columns of [`StreamReport::row`].
const HEADER: [&str; 9] = [
    "STREAM",
    "SUBJECTS",
    "RETENTION",
    "REPLICAS",
    "MESSAGES",
    "BYTES",
    "FIRST",
    "LAST",
    "CONSUMERS",
];

/// Column widths: the longest value each column usually holds.
const WIDTHS: [usize; 9] = [14, 18, 9, 8, 10, 12, 20, 20, 9];

/// One stream as reported: its `state` as [`Connection::stream_state`](crate::Connection::stream_state)
/// gave it, `None` when the stream named `name` does not exist.
#[derive(Debug, Clone, Copy)]
pub struct StreamReport<'a> {
    /// The stream's name.
    pub name: &'a str,
    /// Its state, `None` when it does not exist.
    pub state: Option<&'a StreamState>,
}

impl StreamReport<'_> {
    /// The header line of a table of [`StreamReport::row`]s.
    pub fn header() -> String {
        row(HEADER.map(str::to_owned))
    }

    /// A table row: name, subjects, retention (`forever` for none), replicas, messages, bytes,
    /// first and last time stored (RFC 3339, `-` for none), consumers; or the name and
    /// `(does not exist)`.
    pub fn row(&self) -> String {
        let Some(s) = self.state else {
            let mut cells: [String; 9] = Default::default();
            cells[0] = self.name.to_owned();
            cells[1] = "(does not exist)".to_owned();
            return row(cells);
        };
        row([
            s.name.clone(),
            s.subjects.join(","),
            if s.retention.is_zero() {
                "forever".to_owned()
            } else {
                duration::format(s.retention)
            },
            s.replicas.to_string(),
            s.messages.to_string(),
            s.bytes.to_string(),
            time(s.first).unwrap_or_else(|| "-".to_owned()),
            time(s.last).unwrap_or_else(|| "-".to_owned()),
            s.consumers.to_string(),
        ])
    }

    /// One JSON object: `name`, `exists`, and for a stream that exists `subjects`,
    /// `retention_seconds`, `replicas`, `storage`, `messages`, `bytes`, `first`, `last`
    /// (RFC 3339 or null) and `consumers`.
    pub fn to_json(&self) -> Vec<u8> {
        let value = match self.state {
            None => json!({"name": self.name, "exists": false}),
            Some(s) => json!({
                "name": s.name,
                "exists": true,
                "subjects": s.subjects,
                "retention_seconds": s.retention.as_secs(),
                "replicas": s.replicas,
                "storage": s.storage,
                "messages": s.messages,
                "bytes": s.bytes,
                "first": time(s.first),
                "last": time(s.last),
                "consumers": s.consumers,
            }),
        };
        serde_json::to_vec(&value).expect("plain JSON serialises")
    }
}

impl StreamChange {
    /// What changed, for a stream now as `spec` asks: `created`, `retention changed from
    /// 1h to 24h`, `replicas changed from 1 to 3`, both, or `already as asked`.
    pub fn describe(&self, spec: &StreamSpec) -> String {
        match self {
            StreamChange::Created => "created".to_owned(),
            StreamChange::Updated {
                retention,
                replicas,
            } => {
                let retention = retention.map(|from| {
                    format!(
                        "retention changed from {} to {}",
                        duration::format(from),
                        duration::format(spec.retention)
                    )
                });
                let replicas = replicas
                    .zip(spec.replicas)
                    .map(|(from, to)| format!("replicas changed from {from} to {to}"));
                let changes: Vec<String> = retention.into_iter().chain(replicas).collect();
                changes.join(", ")
            }
            StreamChange::Unchanged => "already as asked".to_owned(),
        }
    }
}

fn row(cells: [String; 9]) -> String {
    let mut line = String::new();
    for (cell, width) in cells.iter().zip(WIDTHS) {
        line.push_str(&format!("{cell:<width$}  "));
    }
    line.trim_end().to_owned()
}

/// RFC 3339, UTC, to the second (none past the year 9999).
fn time(at: Option<SystemTime>) -> Option<String> {
    let unix = lifecycle_core::clock::unix_seconds(at?);
    lifecycle_core::format_utc(unix)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_missing_stream_reads_as_missing() {
        let report = StreamReport {
            name: "CHORIA_MACHINE",
            state: None,
        };
        assert_eq!(report.row(), "CHORIA_MACHINE  (does not exist)");
        assert_eq!(
            report.to_json(),
            br#"{"exists":false,"name":"CHORIA_MACHINE"}"#
        );
        assert!(StreamReport::header().starts_with("STREAM          SUBJECTS "));
        let spec = StreamSpec::events(Duration::from_secs(86400), Some(3));
        let updated = |retention, replicas| StreamChange::Updated {
            retention,
            replicas,
        };
        assert_eq!(
            updated(Some(Duration::from_secs(3600)), None).describe(&spec),
            "retention changed from 1h to 24h"
        );
        assert_eq!(
            updated(None, Some(1)).describe(&spec),
            "replicas changed from 1 to 3"
        );
        assert_eq!(
            updated(Some(Duration::from_secs(3600)), Some(1)).describe(&spec),
            "retention changed from 1h to 24h, replicas changed from 1 to 3"
        );
    }
}
