//! `Scripts`: a temporary directory holding the programs a rule runs (small `/bin/sh`
//! scripts: exec passes its arguments without a shell, so a rule's program is a file) and
//! what they write, read back a whole line at a time.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use lifecycle_core::Event;

use crate::appended::complete_lines;
use crate::events::by_identity;

/// Appends the event id (`$2`) to a file named for the identity (`$1`).
pub const RECORD: &str = "printf '%s\\n' \"$2\" >> \"$OUT/$1\"";

/// [`RECORD`] after 20 ms, and the id appended to `$OUT/all` too: every run, in the order
/// they ended.
pub const RECORD_ALL: &str =
    "sleep 0.02\nprintf '%s\\n' \"$2\" >> \"$OUT/$1\"\nprintf '%s\\n' \"$2\" >> \"$OUT/all\"";

/// A temporary directory of scripts and their output, removed on drop.
#[derive(Debug)]
pub struct Scripts {
    dir: tempfile::TempDir,
}

impl Default for Scripts {
    fn default() -> Scripts {
        Scripts::new()
    }
}

impl Scripts {
    /// An empty directory.
    pub fn new() -> Scripts {
        let dir = tempfile::Builder::new()
            .prefix("lifecycle-scripts-")
            .tempdir()
            .expect("a temporary directory");
        Scripts { dir }
    }

    /// `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` into `name`.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    /// Writes an executable `/bin/sh` script; `$OUT` in it is this directory.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.write(
            name,
            &format!("#!/bin/sh\nOUT='{}'\n{body}\n", self.dir.path().display()),
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("make the script executable");
        path
    }

    /// A rule named `record` running `program` with the identity and id for events that
    /// pass `filter`, `extra` lines added.
    pub fn record_rule(program: &std::path::Path, filter: &str, extra: &str) -> String {
        format!(
            "[[rules]]\nname = \"record\"\nfilter = \"{filter}\"\nexec = [\"{}\", \"{{{{ identity }}}}\", \"{{{{ id }}}}\"]\n{extra}\n",
            program.display()
        )
    }

    /// Writes `rules.toml` with the rule [`Scripts::record_rule`] for startup events, its
    /// program the script `record` running `body`; `extra` lines added. Returns its path.
    pub fn record_rules(&self, body: &str, extra: &str) -> PathBuf {
        let program = self.script("record", body);
        self.write(
            "rules.toml",
            &Scripts::record_rule(&program, "startup", extra),
        )
    }

    /// The complete lines of `$OUT/<name>` (a script may be writing one).
    pub fn lines(&self, name: &str) -> Vec<String> {
        complete_lines(&self.path(name))
    }

    /// How many of `events` are in their identity's file (see [`RECORD`]).
    pub fn handled(&self, events: &[Event]) -> usize {
        by_identity(events)
            .iter()
            .map(|(identity, ids)| {
                let got: HashSet<String> = self.lines(identity).into_iter().collect();
                ids.iter().filter(|id| got.contains(*id)).count()
            })
            .sum()
    }

    /// Each identity's file, repeats after the first arrival removed, is its events in
    /// the order of `events`; returns how many lines were repeats.
    pub fn assert_in_order(&self, events: &[Event]) -> usize {
        let mut repeats = 0;
        for (identity, ids) in by_identity(events) {
            let lines = self.lines(&identity);
            let mut seen = HashSet::new();
            let first: Vec<&String> = lines.iter().filter(|id| seen.insert(*id)).collect();
            repeats += lines.len() - first.len();
            let ids: Vec<&String> = ids.iter().collect();
            assert_eq!(first, ids, "{identity}: every event, in order");
        }
        repeats
    }
}
