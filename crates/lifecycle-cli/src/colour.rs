//! When to colour what we write: `--color auto|always|never` and `NO_COLOR`.

use std::io::IsTerminal;

/// `--color`: colour output and logs when writing to a terminal (`auto`), always, or never.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Colour {
    /// Only on a terminal, and not when `NO_COLOR` is set (https://no-color.org).
    #[default]
    Auto,
    /// Always, even into files and pipes.
    Always,
    /// Never.
    Never,
}

impl Colour {
    /// Whether to colour text written to stdout.
    pub(crate) fn stdout(self) -> bool {
        self.on(std::io::stdout().is_terminal())
    }

    /// Whether to colour text written to stderr (the logs).
    pub(crate) fn stderr(self) -> bool {
        self.on(std::io::stderr().is_terminal())
    }

    fn on(self, terminal: bool) -> bool {
        match self {
            Colour::Always => true,
            Colour::Never => false,
            Colour::Auto => terminal && !no_color(),
        }
    }
}

/// `NO_COLOR` set to anything but the empty string.
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty())
}
