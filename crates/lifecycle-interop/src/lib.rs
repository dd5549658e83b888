//! The interoperability suite: its tests (`tests/reference/`) check this project's crates
//! against the events Choria's Go code produced and Choria's published schemas, read from
//! `LIFECYCLE_REFERENCE` (default `../shared/reference`). They are not part of the default
//! `cargo test --workspace`, which needs nothing outside the repository; run them with
//! `cargo xtask interop`, which fails when the reference directory is missing.
