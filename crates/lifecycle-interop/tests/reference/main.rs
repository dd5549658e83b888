//! The interoperability suite: this project against the events Choria's Go code produced and
//! the schemas Choria publishes, read from `LIFECYCLE_REFERENCE` (default
//! `../shared/reference`). Run by `cargo xtask interop`; fails, never skips, when the
//! reference directory is missing.

mod cli;
mod core;
mod examples;
mod python_sdk;
mod sdk;

pub(crate) use lifecycle_testsupport::minify;

/// Every `go_*.json` / `upstream_*.json` reference event, sorted by file name.
pub(crate) fn reference_files() -> Vec<std::path::PathBuf> {
    let dir = lifecycle_testsupport::go_choria_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 16, "the reference set has 16 events");
    files
}
