//! `cargo xtask interop`: the interoperability suite, against Choria's own reference events
//! and published schemas in `$LIFECYCLE_REFERENCE` (default `../shared/reference`). It fails,
//! never skips, when they are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The environment variable naming the reference directory (as `lifecycle-testsupport`).
const REFERENCE_ENV: &str = "LIFECYCLE_REFERENCE";

/// The reference directory, absolute; an error when it does not hold Choria's events.
pub(crate) fn reference_dir(root: &Path) -> Result<PathBuf> {
    let dir = match std::env::var_os(REFERENCE_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => root.join("../shared/reference"),
    };
    if !dir.join("go-choria/expected.tsv").is_file() {
        bail!(
            "Choria's reference events are missing: expected {}/go-choria/expected.tsv. Set \
             {REFERENCE_ENV} to the directory holding go-choria/ and choria-schemas/ (default: \
             ../shared/reference beside the repository)",
            dir.display()
        );
    }
    dir.canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))
}

/// Builds the `lifecycle` binary (the suite runs it), runs the suite's tests, then the
/// schema checks with Choria's schemas.
pub(crate) fn run() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask's manifest directory has no parent")?;
    let reference = reference_dir(root)?;
    println!("interop: Choria's reference in {}", reference.display());
    cargo(
        root,
        &reference,
        &["build", "--locked", "-p", "lifecycle-cli"],
    )?;
    cargo(
        root,
        &reference,
        &[
            "test",
            "--locked",
            "-p",
            "lifecycle-interop",
            "--features",
            "reference",
        ],
    )?;
    crate::schemas::run(crate::schemas::Choria::Required)
}

fn cargo(root: &Path, reference: &Path, args: &[&str]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .env(REFERENCE_ENV, reference)
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
