//! Where Choria's own events and schemas are read from: `LIFECYCLE_REFERENCE`, else
//! `../shared/reference` beside the repository. Missing is an error, never a skip.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The environment variable naming the reference directory (as `lifecycle-testsupport`).
pub(crate) const REFERENCE_ENV: &str = "LIFECYCLE_REFERENCE";

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
