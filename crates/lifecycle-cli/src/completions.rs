//! `lifecycle completions`: shell completion scripts.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

/// Print a completion script for a shell.
///
/// Examples:
///   lifecycle completions bash > /etc/bash_completion.d/lifecycle
///   lifecycle completions zsh > "${fpath[1]}/_lifecycle"
///   lifecycle completions fish > ~/.config/fish/completions/lifecycle.fish
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

pub(crate) fn run<C: CommandFactory>(args: &Args) -> anyhow::Result<ExitCode> {
    let mut command = C::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "lifecycle", &mut script);
    match io::stdout().lock().write_all(&script) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}
