//! Receive the Choria lifecycle events a filter passes until a deadline or a stop signal;
//! keep each node's latest state and decide rollout gates.
//!
//! - [`Watch`] says what to receive (a [`Filter`](lifecycle_core::Filter)), from when (a
//!   replay of `CHORIA_EVENTS`) and until when (a deadline, a stop signal such as
//!   [`lifecycle_nats::Shutdown`]'s SIGINT or SIGTERM);
//!   [`Events`] hands out the events, says when a replay has caught up with the present, and
//!   reports messages that are not events once per interval.
//! - [`Gate`] keeps each key's (node's) latest state and whether it meets a condition, and
//!   decides whether enough keys do ([`Target`]: a count, all, a fraction): a node that
//!   rolls back fails again, one that shuts down leaves the fleet.
//! - [`PassTemplate`] is OpenSVC's model of waiting, `pass_set`, `pass_count`,
//!   `set_success` in a minijinja template; [`EventTemplate`] renders events for `view`.
//! - [`wait_for`] feeds a [`Condition`] (a gate, a template, a [`Progress`] count) until it
//!   holds; [`catch_up`] feeds a gate until a replay has caught up; [`replay_nodes`] lists
//!   the nodes a filter selects from a replay, as `lifecycle nodes` does without a tally.
//! - [`Wait`] is a whole wait, as `lifecycle wait` runs it: a watch opened, the fleet read
//!   from a tally first when asked, a condition fed until it holds ([`Waited`]).
//! - [`TallyClient`] reads the nodes a running tally knows, page by page.
//! - [`show`] writes events a line each in a [`Style`] (`lifecycle view`), and
//!   [`write_nodes`] writes nodes as a table or JSON lines (`lifecycle nodes`, `wait`).
//!
//! ```no_run
//! use lifecycle_core::Filter;
//! use lifecycle_core::duration::Since;
//! use lifecycle_watch::{Gate, Target, Watch, wait_for};
//!
//! # async fn run(connection: lifecycle_nats::Connection) -> Result<(), Box<dyn std::error::Error>> {
//! // Every server known from the last 10 minutes runs 0.30.0 or later, within 15 minutes.
//! let mut gate = Gate::new(Filter::parse(".version>=0.30.0")?, Target::All);
//! let mut events = Watch::new(Filter::parse("component=server")?)
//!     .since(Since::parse("10m")?)
//!     .timeout(std::time::Duration::from_secs(900))
//!     .open(&connection)
//!     .await?;
//! match wait_for(&mut events, &mut gate, |gate| eprintln!("{gate}")).await {
//!     Ok(()) => println!("rolled out"),
//!     Err(_) => {
//!         for node in gate.failing() {
//!             println!("{} still runs {}", node.identity, node.version);
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

mod condition;
mod error;
mod gate;
mod node;
mod progress;
mod receive;
mod show;
mod table;
mod tally;
mod wait;

pub use condition::{Condition, TemplateWait, catch_up, replay_nodes, wait_for};
pub use error::{Error, ErrorKind, TallyError};
pub use gate::{DEFAULT_MAX_KEYS, Fraction, Gate, Target};
pub use lifecycle_core::KeyBy;
pub use lifecycle_tally_api::Node;
pub use lifecycle_template::{EventTemplate, PassTemplate};
pub use progress::Progress;
pub use receive::{Events, Step, Stop, Watch};
pub use show::{Style, json_line, show, view_filter};
pub use table::write_nodes;
pub use tally::{CONNECT_TIMEOUT, DEFAULT_MAX_NODES, MAX_PAGE_BYTES, REQUEST_TIMEOUT, TallyClient};
pub use wait::{Wait, Waited};
