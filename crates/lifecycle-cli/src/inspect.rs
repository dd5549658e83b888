//! `lifecycle inspect`: parse events from files or stdin and show what they are.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use lifecycle_core::terminal::TerminalSafe;
use lifecycle_core::{AnyEvent, Format, MAX_EVENT_BYTES, Parsed, parse};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::output;

/// Parse events and print each one's display line, or why it is not an event.
///
/// Files hold one event each; with no file, or `-`, stdin holds one event per line (blank
/// lines are skipped). Given several inputs, each line starts with the file it came from
/// (`FILE:`, stdin is `(standard input)`), as grep does. Exits 1 when any input failed to
/// parse, 0 otherwise. Control characters in display lines and errors are shown escaped
/// (\x1b, \r, \n).
///
/// Examples:
///   lifecycle inspect event.json
///   lifecycle inspect --no-filename schemas/examples/lifecycle/v1/*.json
///   nats sub --raw 'choria.lifecycle.>' | lifecycle inspect --json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Files to read, one event each; `-` or none reads lines from stdin.
    files: Vec<PathBuf>,

    /// Print one JSON object per input instead of display lines.
    #[arg(long)]
    json: bool,

    /// Start each line with the file it came from (`"file"` in --json), even for one file.
    #[arg(long, short = 'H', overrides_with = "no_filename")]
    with_filename: bool,

    /// Never start lines with the file they came from, even for several files.
    #[arg(long, overrides_with = "with_filename")]
    no_filename: bool,
}

/// What stdin is called where a line names its input, as grep calls it.
const STDIN_NAME: &str = "(standard input)";

/// One input's outcome, as `--json` prints it.
#[derive(Serialize)]
#[serde(untagged)]
enum Report<'a> {
    Event {
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<&'a str>,
        ok: bool,
        format: Format,
        #[serde(rename = "type")]
        kind: &'a str,
        protocol: Cow<'a, str>,
        id: &'a str,
        identity: &'a str,
        component: Option<&'a str>,
        timestamp: i64,
        subject: Option<String>,
        display: String,
        event: &'a AnyEvent,
        cloudevent: Box<RawValue>,
    },
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<&'a str>,
        ok: bool,
        error: String,
    },
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let several = args.files.len() > 1;
    let mut inspector = Inspector {
        json: args.json,
        named: (several || args.with_filename) && !args.no_filename,
        out: io::stdout().lock(),
        failed: false,
    };
    let reads_stdin = args.files.is_empty() || args.files.iter().any(|f| f.as_os_str() == "-");
    if reads_stdin && args.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        anyhow::bail!("stdin ('-') can be read only once");
    }
    if args.files.is_empty() {
        inspector.stdin()?;
    }
    for file in &args.files {
        let open = file.as_os_str() != "-";
        let more = if open {
            let name = file.display().to_string();
            match read_bounded(file) {
                Ok(bytes) => inspector.input(&name, &name, Ok(&bytes))?,
                Err(e) => inspector.input(&name, &name, Err(e))?,
            }
        } else {
            inspector.stdin()?
        };
        if !more {
            break;
        }
    }
    Ok(if inspector.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

struct Inspector<W> {
    json: bool,
    /// Whether each line starts with the input it came from.
    named: bool,
    out: W,
    failed: bool,
}

impl<W: Write> Inspector<W> {
    /// Reports one input: `name` says where it is in errors, `file` which input it came from;
    /// `Ok(false)` once stdout is gone.
    fn input(
        &mut self,
        name: &str,
        file: &str,
        bytes: Result<&[u8], String>,
    ) -> anyhow::Result<bool> {
        let parsed = bytes.and_then(|b| parse(b).map_err(|e| e.to_string()));
        let file = self.named.then_some(file);
        let line = match (&parsed, self.json) {
            (Ok(parsed), false) => match file {
                Some(file) => TerminalSafe(format_args!("{file}:{}", parsed.event())).to_string(),
                None => TerminalSafe(parsed.event()).to_string(),
            }
            .into_bytes(),
            (Ok(parsed), true) => serde_json::to_vec(&report(parsed, file))?,
            (Err(error), false) => {
                self.failed = true;
                eprintln!("{}", TerminalSafe(format_args!("{name}: {error}")));
                return Ok(true);
            }
            (Err(error), true) => {
                self.failed = true;
                let error = format!("{name}: {error}");
                serde_json::to_vec(&Report::Error {
                    file,
                    ok: false,
                    error,
                })?
            }
        };
        output::line(&mut self.out, &line).context("writing to stdout")
    }

    fn stdin(&mut self) -> anyhow::Result<bool> {
        let mut stdin = BufReader::new(io::stdin().lock());
        let mut line = Vec::new();
        for number in 1.. {
            line.clear();
            let Some(overflow) = read_line_bounded(&mut stdin, &mut line)? else {
                return Ok(true);
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let name = format!("stdin line {number}");
            let bytes = if overflow {
                Err(format!(
                    "line longer than the limit of {MAX_EVENT_BYTES} bytes"
                ))
            } else {
                Ok(&line[..])
            };
            if !self.input(&name, STDIN_NAME, bytes)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn report<'a>(parsed: &'a Parsed, file: Option<&'a str>) -> Report<'a> {
    let event = parsed.event();
    // As received when it came as a CloudEvent, so extensions and ids are shown as sent.
    let cloudevent = match parsed.format() {
        Format::CloudEvents => parsed.to_json(),
        Format::Choria => event.cloudevent().to_json(),
    };
    Report::Event {
        file,
        ok: true,
        format: parsed.format(),
        kind: event.type_name(),
        protocol: event.protocol(),
        id: event.id(),
        identity: event.identity(),
        component: event.component(),
        timestamp: event.timestamp(),
        subject: event.subject().ok(),
        display: event.to_string(),
        event,
        cloudevent: raw(cloudevent),
    }
}

/// Embeds JSON we wrote ourselves as it is, keeping its key order.
fn raw(json: Vec<u8>) -> Box<RawValue> {
    let text = String::from_utf8(json).expect("serde_json writes UTF-8");
    RawValue::from_string(text).expect("serde_json writes valid JSON")
}

/// A file's bytes, refusing to read more than an event can be.
fn read_bounded(path: &PathBuf) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_EVENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(bytes)
}

/// Reads one line into `line` keeping at most [`MAX_EVENT_BYTES`] of it: `None` at the end
/// of input, `Some(true)` when the line was longer than that.
fn read_line_bounded(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    let mut seen_any = false;
    let mut overflow = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(seen_any.then_some(overflow));
        }
        seen_any = true;
        let (taken, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let content = &chunk[..if done { taken - 1 } else { taken }];
        if line.len() + content.len() > MAX_EVENT_BYTES {
            overflow = true;
        } else {
            line.extend_from_slice(content);
        }
        input.consume(taken);
        if done {
            return Ok(Some(overflow));
        }
    }
}
