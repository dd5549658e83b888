//! Writing nodes as `lifecycle nodes` and `wait` list them: a table, or one JSON object per
//! line.

use std::io::{self, Write};

use lifecycle_core::format_utc;
use lifecycle_core::terminal::{TerminalSafe, write_line};

use lifecycle_tally_api::Node;

/// Writes `nodes` to `out`: a table (identity, component, version, last seen in UTC, state;
/// text from the wire escaped), or one JSON object per line with `json`. `Ok(false)` when
/// `out` was closed by its reader.
pub fn write_nodes(out: &mut impl Write, nodes: &[&Node], json: bool) -> io::Result<bool> {
    if json {
        for node in nodes {
            if !write_line(out, &serde_json::to_vec(node)?)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    let header = ["IDENTITY", "COMPONENT", "VERSION", "LAST SEEN", "STATE"].map(str::to_owned);
    let rows: Vec<[String; 5]> = nodes
        .iter()
        .map(|node| {
            [
                TerminalSafe(&node.identity).to_string(),
                TerminalSafe(&node.component).to_string(),
                TerminalSafe(&node.version).to_string(),
                last_seen(node.last_seen),
                node.state.to_string(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
            }
        }
        if !write_line(out, line.as_bytes())? {
            return Ok(false);
        }
    }
    out.flush().ok();
    Ok(true)
}

/// `2023-11-14 22:13:20 UTC`; the unix seconds when the year cannot be written.
fn last_seen(unix: i64) -> String {
    match format_utc(unix) {
        Some(rfc3339) => format!("{} UTC", rfc3339.trim_end_matches('Z').replace('T', " ")),
        None => unix.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_seen_is_utc_with_its_zone() {
        assert_eq!(last_seen(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(last_seen(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn a_table_pads_every_column_but_the_last() {
        let node = Node {
            identity: "web1\u{1b}".to_owned(),
            component: "server".to_owned(),
            version: "0.29.4".to_owned(),
            last_seen: 1_700_000_000,
            state: lifecycle_core::NodeState::Up,
        };
        let mut out = Vec::new();
        assert!(write_nodes(&mut out, &[&node], false).unwrap());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "IDENTITY  COMPONENT  VERSION  LAST SEEN                STATE\n\
             web1\\x1b  server     0.29.4   2023-11-14 22:13:20 UTC  up\n"
        );
    }
}
