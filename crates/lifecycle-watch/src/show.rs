//! Showing events as `lifecycle view` does: one line each, in one of four [`Style`]s, until
//! enough were shown, the events stop or the reader goes away.

use std::io::Write;

use lifecycle_core::terminal::{TerminalSafe, escape_bytes, write_line};
use lifecycle_core::{AnyEvent, Filter};
use lifecycle_nats::Received;

use crate::receive::{Events, Stop};
use lifecycle_template::EventTemplate;

use crate::error::{Error, ErrorKind};

/// How each event is written.
#[derive(Debug)]
pub enum Style {
    /// The time of the event itself (`HH:MM:SS`, UTC) and Choria's display line, control
    /// characters escaped; with `colour`, coloured by type with ANSI escapes.
    Line {
        /// Whether to colour the line by the event's type.
        colour: bool,
    },
    /// The event in Choria format, keys in Choria's order, then `format` and `subject`
    /// ([`json_line`]).
    Json,
    /// The payload as received: `raw`, or with control characters escaped (for a terminal).
    Debug {
        /// Whether to write the bytes as they are.
        raw: bool,
    },
    /// A template rendered for each event.
    Template(Box<EventTemplate>),
}

impl Style {
    /// The line for `received`, without its line feed; only a template can fail.
    pub fn render(&self, received: &Received) -> Result<Vec<u8>, Error> {
        let event = received.parsed.event();
        Ok(match self {
            Style::Line { colour } => {
                let line = format!("{} {}", clock(event.timestamp()), TerminalSafe(event));
                match (colour, colour_of(event)) {
                    (true, Some(code)) => format!("\x1b[{code}m{line}\x1b[0m").into_bytes(),
                    _ => line.into_bytes(),
                }
            }
            Style::Debug { raw: true } => received.payload.to_vec(),
            Style::Debug { raw: false } => {
                escape_bytes(&received.payload).into_owned().into_bytes()
            }
            Style::Json => json_line(received),
            Style::Template(template) => template
                .render(received)
                .map_err(|e| Error::with_source(ErrorKind::Render, e))?
                .into_bytes(),
        })
    }
}

/// The event in Choria format, keys in Choria's order, then `format` and `subject`.
pub fn json_line(received: &Received) -> Vec<u8> {
    let mut json = received.parsed.event().to_json();
    debug_assert_eq!(json.last(), Some(&b'}'));
    json.pop();
    let tail = serde_json::json!({
        "format": received.parsed.format(),
        "subject": received.subject.as_str(),
    });
    let tail = serde_json::to_vec(&tail).expect("plain JSON serialises");
    json.push(b',');
    json.extend_from_slice(&tail[1..]);
    json
}

/// The filter of `view`'s flags: the `types` (type elements of the filter language), the
/// `component` (quoted as a value of the filter language) and the filter expression, joined.
pub fn view_filter(
    types: &[String],
    component: Option<&str>,
    expression: Option<&str>,
) -> Result<Filter, lifecycle_core::Error> {
    let mut parts: Vec<String> = types.to_vec();
    if let Some(component) = component {
        let quoted = component.replace('\\', "\\\\").replace('"', "\\\"");
        parts.push(format!("component=\"{quoted}\""));
    }
    parts.extend(expression.map(str::to_owned));
    Filter::parse(&parts.join(","))
}

/// Writes a line to `out` for each of `events` in `style`, each line whole and flushed,
/// until `count` were written (when given), the events stop or `out` is closed by its reader.
/// `Ok(Some(stop))` when the events stopped first, `Ok(None)` otherwise.
pub async fn show(
    events: &mut Events,
    style: &Style,
    count: Option<u64>,
    out: &mut impl Write,
) -> Result<Option<Stop>, Error> {
    let mut shown = 0;
    while count.is_none_or(|n| shown < n) {
        let received = match events.next().await {
            Ok(received) => received,
            Err(stop) => return Ok(Some(stop)),
        };
        let line = style.render(&received)?;
        if !write_line(out, &line).map_err(|e| Error::with_source(ErrorKind::Write, e))? {
            return Ok(None);
        }
        out.flush().ok();
        shown += 1;
    }
    Ok(None)
}

/// `HH:MM:SS` of a unix time, UTC.
fn clock(timestamp: i64) -> String {
    let seconds = timestamp.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// The ANSI colour of a type: startup green, shutdown red, provisioned cyan, alive plain,
/// governor yellow, upgraded magenta, machine events blue.
fn colour_of(event: &AnyEvent) -> Option<&'static str> {
    match event.type_name() {
        "startup" => Some("32"),
        "shutdown" => Some("31"),
        "provisioned" => Some("36"),
        "governor" => Some("33"),
        "upgraded" => Some("35"),
        "transition" | "state" => Some("34"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_utc_time_of_day() {
        assert_eq!(clock(1_700_000_000), "22:13:20");
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock(-1), "23:59:59");
    }

    #[test]
    fn the_flags_join_into_one_filter() {
        let types = ["alive".to_owned(), "startup".to_owned()];
        let joined = view_filter(&types, Some(r#"a"b\c"#), Some("identity=web*")).unwrap();
        let written = Filter::parse(r#"alive,startup,component="a\"b\\c",identity=web*"#).unwrap();
        assert_eq!(joined, written);
    }
}
