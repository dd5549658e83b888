//! `cargo xtask readme`: the README's hand-run commands, run in order as a user runs them.
//!
//! Every ```` ```sh ```` block right after a `<!-- ci: runs in order -->` line is taken, in
//! the order of the file, and run as one bash script from the repository root with
//! `set -euo pipefail`: any command that fails fails the task. A comment line `# TEXT` right
//! after a command is what the README says it prints: the command is run again (for up to
//! 20 s, as a service started in the background may still be starting) until its output is
//! exactly TEXT. A command ending in `&` runs in the background until the script ends; the
//! script waits a second after starting one. The script runs with a fresh `HOME` and
//! `TMPDIR`, so no Choria client configuration or earlier state is found, and is bounded in
//! time.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The line that marks a block to run.
const MARKER: &str = "<!-- ci: runs in order -->";

/// The longest the whole script may take.
const LIMIT: Duration = Duration::from_secs(300);

pub(crate) fn run() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask's manifest directory has no parent")?;
    let readme = std::fs::read_to_string(root.join("README.md")).context("reading README.md")?;
    let script = script(&readme)?;
    let scratch = tempdir()?;
    println!("readme: running the README's marked commands in order\n{script}");
    let status = Command::new("timeout")
        .args([
            "--kill-after=10",
            &LIMIT.as_secs().to_string(),
            "bash",
            "-c",
            &script,
        ])
        .current_dir(root)
        .env("HOME", &scratch)
        .env("TMPDIR", &scratch)
        .env("NO_COLOR", "1")
        .env_remove("NATS_URL")
        .env_remove("RUST_LOG")
        .status()
        .context("cannot run bash")?;
    let _ = std::fs::remove_dir_all(&scratch);
    if !status.success() {
        bail!("the README's commands failed ({status})");
    }
    println!("readme: every marked command succeeded");
    Ok(())
}

/// The bash script for the marked blocks of `readme`.
fn script(readme: &str) -> Result<String> {
    let mut script = String::from(PROLOGUE);
    let mut lines = readme.lines();
    let mut blocks = 0;
    while let Some(line) = lines.next() {
        if line.trim() != MARKER {
            continue;
        }
        if lines.next().map(str::trim) != Some("```sh") {
            bail!("{MARKER} must be followed by a ```sh block");
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        blocks += 1;
        let mut commands = block.iter().peekable();
        while let Some(command) = commands.next() {
            let command = command.trim();
            if command.is_empty() || command.starts_with('#') {
                continue;
            }
            // A command continued on the next lines with a trailing backslash.
            let mut full = command.to_owned();
            while full.ends_with('\\') {
                full.pop();
                match commands.next() {
                    Some(next) => full.push_str(next.trim()),
                    None => bail!("a README command ends in a backslash: {command}"),
                }
            }
            let background = full.ends_with('&');
            let expected = commands
                .peek()
                .and_then(|next| next.trim().strip_prefix("# "))
                .filter(|_| !background)
                .map(str::to_owned);
            script.push_str(&format!("echo {}\n", quote(&format!("$ {full}"))));
            match expected {
                Some(output) => {
                    script.push_str(&format!("prints {} {}\n", quote(&output), quote(&full)));
                }
                None if background => {
                    script.push_str(&full);
                    script.push_str("\nsleep 1\n");
                }
                None => {
                    script.push_str(&full);
                    script.push('\n');
                }
            }
        }
    }
    if blocks == 0 {
        bail!("README.md marks no block with {MARKER}");
    }
    Ok(script)
}

const PROLOGUE: &str = r#"set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT
# prints EXPECTED COMMAND: runs COMMAND until it prints EXPECTED, for up to 20 s.
prints() {
    local got=""
    for _ in $(seq 100); do
        got="$(eval "$2" 2>&1)" || true
        [ "$got" = "$1" ] && { printf '%s\n' "$got"; return 0; }
        sleep 0.2
    done
    printf 'README says it prints: %s\nit printed: %s\n' "$1" "$got" >&2
    return 1
}
"#;

/// `text` as one bash word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A fresh directory under the system's temporary directory.
fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("lifecycle-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::{PROLOGUE, script};

    #[test]
    fn marked_blocks_become_one_script() {
        let readme = "intro\n```sh\nnot run\n```\n<!-- ci: runs in order -->\n```sh\n\
                      server -a 127.0.0.1 &\n# a comment alone\nclient --x \\\n    --y\n\
                      query 'it''s'\n# answer\n```\n";
        let got = script(readme).unwrap();
        assert_eq!(
            got.strip_prefix(PROLOGUE).unwrap(),
            "echo '$ server -a 127.0.0.1 &'\nserver -a 127.0.0.1 &\nsleep 1\n\
             echo '$ client --x --y'\nclient --x --y\n\
             echo '$ query '\\''it'\\'''\\''s'\\'''\n\
             prints 'answer' 'query '\\''it'\\'''\\''s'\\'''\n"
        );
        assert!(script("no marks").is_err());
    }

    /// The README marks its hand-run section, so the task has something to run.
    #[test]
    fn the_readme_marks_blocks() {
        let readme = include_str!("../../README.md");
        assert!(script(readme).is_ok());
    }
}
