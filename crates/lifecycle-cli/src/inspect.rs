//! `lifecycle inspect`: parse events from files or stdin and show what they are.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use lifecycle_core::inspect::{Inspector, STDIN_NAME, read_bounded};

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

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let several = args.files.len() > 1;
    let named = (several || args.with_filename) && !args.no_filename;
    let mut inspector = Inspector::new(io::stdout().lock(), io::stderr(), args.json, named);
    let reads_stdin = args.files.is_empty() || args.files.iter().any(|f| f.as_os_str() == "-");
    if reads_stdin && args.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        anyhow::bail!("stdin ('-') can be read only once");
    }
    let stdin = |inspector: &mut Inspector<_, _>| {
        let stdin = BufReader::new(io::stdin().lock());
        inspector
            .lines(stdin, STDIN_NAME)
            .context("writing to stdout")
    };
    if args.files.is_empty() {
        stdin(&mut inspector)?;
    }
    for file in &args.files {
        let more = if file.as_os_str() != "-" {
            let name = file.display().to_string();
            let bytes = File::open(file)
                .and_then(read_bounded)
                .map_err(|e| format!("cannot read: {e}"));
            let bytes = bytes.as_deref().map_err(Clone::clone);
            inspector
                .input(&name, &name, bytes)
                .context("writing to stdout")?
        } else {
            stdin(&mut inspector)?
        };
        if !more {
            break;
        }
    }
    Ok(if inspector.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
