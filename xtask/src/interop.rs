//! `cargo xtask interop`: the interoperability suite, against Choria's own reference events
//! and published schemas in `$LIFECYCLE_REFERENCE` (default `../shared/reference`). It fails,
//! never skips, when they are missing.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Builds the `lifecycle` binary (the suite runs it), runs the suite's tests, then the
/// schema checks with Choria's schemas.
pub(crate) fn run() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask's manifest directory has no parent")?;
    let reference = crate::reference::reference_dir(root)?;
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
        .env(crate::reference::REFERENCE_ENV, reference)
        .status()
        .with_context(|| format!("cannot run cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
