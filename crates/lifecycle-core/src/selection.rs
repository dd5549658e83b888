//! Which nodes a listing of a fleet takes by their state (`up`, `lost` or `all`): the query
//! the tally's API answers and its HTTP client in `lifecycle-watch` asks, kept here so that
//! both sides read it alike.
//!
//! ```
//! use lifecycle_core::NodeState;
//! use lifecycle_core::selection::StateSelection;
//!
//! let lost: StateSelection = "lost".parse()?;
//! assert!(lost.wants(NodeState::Lost) && !lost.wants(NodeState::Up));
//! assert_eq!(StateSelection::default().as_str(), "up");
//! assert_eq!(
//!     "gone".parse::<StateSelection>().unwrap_err().to_string(),
//!     "invalid state 'gone' (expected up, lost or all)"
//! );
//! # Ok::<(), lifecycle_core::selection::InvalidStateSelection>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::node::NodeState;
use crate::terminal::TerminalSafe;

/// Which nodes a listing takes by their state: `up` (the default), `lost` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StateSelection {
    /// Up nodes only.
    #[default]
    Up,
    /// Lost nodes only.
    Lost,
    /// Both.
    All,
}

impl StateSelection {
    /// `up`, `lost` or `all`, as the tally's API takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            StateSelection::Up => "up",
            StateSelection::Lost => "lost",
            StateSelection::All => "all",
        }
    }

    /// Whether a node in `state` is taken.
    pub fn wants(self, state: NodeState) -> bool {
        match self {
            StateSelection::Up => state == NodeState::Up,
            StateSelection::Lost => state == NodeState::Lost,
            StateSelection::All => true,
        }
    }
}

/// A state selection other than `up`, `lost` or `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidStateSelection(pub String);

impl fmt::Display for InvalidStateSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // It may come from an HTTP query: its start is enough to recognise it.
        let shown: String = self.0.chars().take(64).collect();
        write!(
            f,
            "invalid state '{}' (expected up, lost or all)",
            TerminalSafe(&shown)
        )
    }
}

impl std::error::Error for InvalidStateSelection {}

impl FromStr for StateSelection {
    type Err = InvalidStateSelection;

    fn from_str(s: &str) -> Result<StateSelection, InvalidStateSelection> {
        match s {
            "up" => Ok(StateSelection::Up),
            "lost" => Ok(StateSelection::Lost),
            "all" => Ok(StateSelection::All),
            _ => Err(InvalidStateSelection(s.to_owned())),
        }
    }
}
