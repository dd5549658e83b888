//! Reading files that another process is still appending to.
//!
//! A writer may be anywhere in a line when we read (a Python `write` of a long line is more
//! than one system call, a log line is written in pieces): what it has not finished is not
//! yet there, so readers here see only lines that end with a newline.

use std::path::Path;

/// The text of `path` up to and including its last newline: every complete line written so
/// far, none cut short. Empty when the file does not exist (yet).
pub fn complete_text(path: &Path) -> String {
    let mut bytes = std::fs::read(path).unwrap_or_default();
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(complete);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The complete lines of `path` so far, without their newlines (see [`complete_text`]).
pub fn complete_lines(path: &Path) -> Vec<String> {
    complete_text(path).lines().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_line_not_yet_ended_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        assert_eq!(complete_lines(&path), Vec::<String>::new());
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(b"{\"id\":1}\n{\"id\":").unwrap();
        assert_eq!(complete_lines(&path), ["{\"id\":1}"]);
        assert_eq!(complete_text(&path), "{\"id\":1}\n");
        file.write_all(b"2}\n").unwrap();
        assert_eq!(complete_lines(&path), ["{\"id\":1}", "{\"id\":2}"]);
        file.write_all(b"no newline at all").unwrap();
        assert_eq!(complete_lines(&path).len(), 2);
    }

    #[test]
    fn a_multibyte_character_cut_in_two_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        // "é" is two bytes: only its first is written so far.
        std::fs::write(&path, b"done\n\xc3").unwrap();
        assert_eq!(complete_text(&path), "done\n");
    }
}
