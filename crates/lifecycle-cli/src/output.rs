//! Writing data to stdout, where a reader that went away (`| head`) ends the run quietly.

use std::io::{self, Write};

/// Writes one line; `Ok(false)` when stdout was closed by its reader.
pub(crate) fn line(out: &mut impl Write, bytes: &[u8]) -> io::Result<bool> {
    match out.write_all(bytes).and_then(|()| out.write_all(b"\n")) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}
