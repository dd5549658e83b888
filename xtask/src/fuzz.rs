//! `cargo xtask fuzz [--seconds N] [TARGET...]`: runs the cargo-fuzz targets of `fuzz/`
//! (every one, or those named) for N seconds each (default 60), one after the other, and
//! fails when any finds a crash.
//!
//! Targets are those `cargo fuzz list` gives, so a new one is picked up when it is added to
//! `fuzz/Cargo.toml` (see `fuzz/README.md`). libFuzzer reads the committed seeds in
//! `fuzz/corpus/<target>/` and writes what it finds to `fuzz/grown/<target>/` (ignored by
//! git); a crashing input lands in `fuzz/artifacts/<target>/`. cargo-fuzz needs nightly
//! flags: `RUSTC_BOOTSTRAP=1` lets the stable toolchain take them.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

pub(crate) const USAGE: &str = "fuzz [--seconds N] [TARGET...]
           run each fuzz target of fuzz/ (all, or those named) for N seconds (default 60)";

/// What `cargo xtask fuzz` was asked for.
#[derive(Debug, PartialEq, Eq)]
struct Args {
    seconds: u64,
    targets: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Args> {
    let mut parsed = Args {
        seconds: 60,
        targets: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let seconds = match arg.strip_prefix("--seconds") {
            Some("") => args.next().map(String::as_str),
            Some(rest) => rest.strip_prefix('='),
            None if arg.starts_with('-') => bail!("unknown option '{arg}'\nusage: {USAGE}"),
            None => {
                parsed.targets.push(arg.clone());
                continue;
            }
        };
        let seconds = seconds.context("--seconds needs a number of seconds")?;
        parsed.seconds = match seconds.parse() {
            Ok(n) if n > 0 => n,
            _ => bail!("--seconds takes a whole number of seconds above 0, not '{seconds}'"),
        };
    }
    Ok(parsed)
}

/// What one run of a target showed.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    runs: Option<u64>,
    crashed: bool,
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    let args = parse_args(args)?;
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let fuzz = fuzz
        .canonicalize()
        .with_context(|| format!("cannot find the fuzz crate at {}", fuzz.display()))?;
    let known = list(&fuzz)?;
    let targets = if args.targets.is_empty() {
        known
    } else {
        if let Some(unknown) = args.targets.iter().find(|t| !known.contains(t)) {
            bail!(
                "no fuzz target '{unknown}' (fuzz/ has {})",
                known.join(", ")
            );
        }
        args.targets
    };

    build(&fuzz)?;
    let mut results = Vec::new();
    for target in &targets {
        eprintln!("fuzz: {target} for {} s", args.seconds);
        let outcome = fuzz_target(&fuzz, target, args.seconds)?;
        results.push((target, outcome));
    }

    println!("fuzz: {} s per target", args.seconds);
    for (target, outcome) in &results {
        let runs = outcome
            .runs
            .map_or_else(|| "an unknown number of".to_owned(), |n| n.to_string());
        let verdict = if outcome.crashed {
            format!("CRASHED (reproducer in fuzz/artifacts/{target}/)")
        } else {
            "no crash".to_owned()
        };
        println!("  {target}: {runs} runs, {verdict}");
    }
    let crashed: Vec<&str> = results
        .iter()
        .filter(|(_, o)| o.crashed)
        .map(|(t, _)| t.as_str())
        .collect();
    if !crashed.is_empty() {
        bail!("fuzz targets found crashes: {}", crashed.join(", "));
    }
    Ok(())
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The targets `fuzz/Cargo.toml` declares.
fn list(fuzz: &Path) -> Result<Vec<String>> {
    let output = Command::new(cargo())
        .args(["fuzz", "list"])
        .current_dir(fuzz)
        .output()
        .context("cannot run 'cargo fuzz list' (install it: cargo install cargo-fuzz --locked)")?;
    if !output.status.success() {
        bail!(
            "'cargo fuzz list' failed (is cargo-fuzz installed? cargo install cargo-fuzz \
             --locked): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let targets: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if targets.is_empty() {
        bail!("fuzz/Cargo.toml declares no fuzz target");
    }
    Ok(targets)
}

/// Builds every target once, so that a build failure is told as one and not as a crash.
fn build(fuzz: &Path) -> Result<()> {
    let status = Command::new(cargo())
        .args(["fuzz", "build"])
        .env("RUSTC_BOOTSTRAP", "1")
        .current_dir(fuzz)
        .status()
        .context("cannot run 'cargo fuzz build'")?;
    if !status.success() {
        bail!("'cargo fuzz build' failed ({status})");
    }
    Ok(())
}

/// Runs one target for `seconds`, passing libFuzzer's output through to stderr.
fn fuzz_target(fuzz: &Path, target: &str, seconds: u64) -> Result<Outcome> {
    let grown = fuzz.join("grown").join(target);
    let seeds = fuzz.join("corpus").join(target);
    std::fs::create_dir_all(&grown)
        .with_context(|| format!("cannot create {}", grown.display()))?;
    if !seeds.is_dir() {
        bail!(
            "fuzz target '{target}' has no seed corpus: expected {}",
            seeds.display()
        );
    }
    let corpora: [PathBuf; 2] = [grown, seeds];
    let mut child = Command::new(cargo())
        .args(["fuzz", "run", target])
        .args(&corpora)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        // One input taking this long is a hang, reported as a crash.
        .arg("-timeout=10")
        .arg("-print_final_stats=1")
        .env("RUSTC_BOOTSTRAP", "1")
        .current_dir(fuzz)
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run 'cargo fuzz run'")?;
    let mut runs = None;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.context("cannot read libFuzzer's output")?;
            eprintln!("{line}");
            runs = executed_units(&line).or(runs);
        }
    }
    let status = child.wait().context("cannot wait for 'cargo fuzz run'")?;
    Ok(Outcome {
        runs,
        crashed: !status.success(),
    })
}

/// The number of inputs run, from libFuzzer's final statistics
/// (`stat::number_of_executed_units: N`) or its last status line (`#N DONE ...`).
fn executed_units(line: &str) -> Option<u64> {
    if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
        return n.trim().parse().ok();
    }
    let (count, rest) = line.strip_prefix('#')?.split_once(char::is_whitespace)?;
    if rest.trim_start().starts_with("DONE") {
        return count.parse().ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Result<Args> {
        parse_args(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn arguments() {
        assert_eq!(
            args(&[]).unwrap(),
            Args {
                seconds: 60,
                targets: vec![]
            }
        );
        assert_eq!(
            args(&["--seconds", "300", "filter", "parse_event"]).unwrap(),
            Args {
                seconds: 300,
                targets: vec!["filter".into(), "parse_event".into()]
            }
        );
        assert_eq!(args(&["--seconds=5"]).unwrap().seconds, 5);
        for (words, error) in [
            (&["--seconds"][..], "--seconds needs a number of seconds"),
            (
                &["--seconds", "0"],
                "--seconds takes a whole number of seconds above 0, not '0'",
            ),
            (
                &["--seconds=1e3"],
                "--seconds takes a whole number of seconds above 0, not '1e3'",
            ),
        ] {
            assert_eq!(args(words).unwrap_err().to_string(), error, "{words:?}");
        }
        assert_eq!(
            args(&["--jobs", "2"]).unwrap_err().to_string(),
            format!("unknown option '--jobs'\nusage: {USAGE}")
        );
    }

    #[test]
    fn reads_the_number_of_runs() {
        for (line, want) in [
            ("stat::number_of_executed_units: 1234567", Some(1_234_567)),
            (
                "#2097152\tDONE   cov: 1630 ft: 6311 corp: 812/95Kb lim: 4096 exec/s: 34952 rss: 420Mb",
                Some(2_097_152),
            ),
            (
                "#1048576\tpulse  cov: 1630 ft: 6310 corp: 812/95Kb lim: 4096 exec/s: 34952",
                None,
            ),
            ("Done 2097152 runs in 61 second(s)", None),
            ("stat::peak_rss_mb: 420", None),
        ] {
            assert_eq!(executed_units(line), want, "{line}");
        }
    }
}
