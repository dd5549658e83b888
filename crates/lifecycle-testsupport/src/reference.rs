//! Where Choria's reference events and schemas are, for the interoperability suite.

use std::path::PathBuf;

/// The environment variable naming the reference directory.
pub const REFERENCE_ENV: &str = "LIFECYCLE_REFERENCE";

/// The reference directory: `$LIFECYCLE_REFERENCE`, else `../shared/reference` beside the
/// repository. Fails (never skips) when it is missing: the interoperability suite cannot say
/// anything without Choria's own events.
pub fn reference_dir() -> PathBuf {
    let dir = match std::env::var_os(REFERENCE_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference"),
    };
    assert!(
        dir.join("go-choria/expected.tsv").is_file(),
        "Choria's reference events are missing: expected {}/go-choria/expected.tsv. Set \
         {REFERENCE_ENV} to the directory holding go-choria/ and choria-schemas/ (default: \
         ../shared/reference beside the repository); `cargo xtask interop` runs this suite",
        dir.display()
    );
    dir
}

/// `go-choria/` of the reference directory: the events Choria's Go code produced.
pub fn go_choria_dir() -> PathBuf {
    reference_dir().join("go-choria")
}
