//! Acting on Choria lifecycle events: a file of named rules, each a filter and one action
//! (run a program, or POST a CloudEvent), run durably on `lifecycle-deliver`'s engine: at
//! least once, in order per node, retried, dead-lettered, shared by several processes.
//!
//! - [`Rules::load`] reads and checks a rules file: every filter parses, every template
//!   compiles, names are unique and can name consumers; each [`Problem`] names its line and
//!   rule.
//! - [`Exec`] runs a program without a shell, each argument a template rendered on its own
//!   ([`lifecycle_template::context`] is what a template sees), the event's JSON on standard input; [`Post`]
//!   sends the CloudEvent `lifecycle forward` sends.
//! - [`run`] runs every rule with its own durable consumer; [`dry_run`] prints what would
//!   run and acknowledges nothing.
//!
//! ```no_run
//! use std::path::Path;
//! use lifecycle_deliver::Metrics;
//! use lifecycle_nats::{ConnectOptions, Connection, Settings};
//! use lifecycle_react::{Options, Rules, run};
//!
//! # async fn go() -> Result<(), Box<dyn std::error::Error>> {
//! let rules = Rules::load(Path::new("/etc/lifecycle/rules.toml"))?;
//! let connection = Connection::connect(&Settings::resolve(&ConnectOptions::default())?).await?;
//! let metrics = Metrics::default();
//! run(&connection, &rules, &Options::new("react"), &metrics, std::future::pending()).await?;
//! # Ok(()) }
//! ```

mod action;
mod error;
mod exec;
mod http;
mod rules;
mod run;

pub use action::{Action, Prepared};
pub use error::{Error, ErrorKind, Problem, RulesError, RunError};
pub use exec::{Command, Exec, PERMANENT_EXIT, STDERR_TAIL};
pub use http::{Post, Request};
pub use rules::{DEFAULT_EXEC_TIMEOUT, DEFAULT_MAX_ATTEMPTS, MAX_CONCURRENCY, Rule, Rules};
pub use run::{Options, consumer_name, dry_run, run, settings};
