//! The Choria lifecycle event model: parse and produce every lifecycle event as Choria does.
//!
//! Choria components publish small JSON events to NATS when they start, stop, are
//! provisioned, are alive, upgrade or take a Governor slot; autonomous agents publish machine
//! events. This crate reads them in either wire format and writes them as Choria does. It has
//! no I/O: transport lives in `lifecycle-nats`.
//!
//! - [`parse`] reads bytes in Choria's JSON or CloudEvents structured JSON into a [`Parsed`].
//! - [`Event`] is a lifecycle event; [`Event::builder`] makes a new one.
//! - [`MachineEvent`] is a machine transition or watcher state.
//! - [`Filter`] is the filter language of `view` and `wait`; [`Interest`] the NATS subjects a
//!   filter narrows to.
//! - [`Event::node_change`] says what an event tells of its node's state, and
//!   [`Event::node_state`] writes a node's state as the event a filter selects nodes with.
//! - [`check_subject_token`] is the one rule for what may be a token of a NATS subject.
//! - [`Error`] says what was wrong, with [`ErrorKind`] for counting causes.
//!
//! ```
//! use lifecycle_core::{parse, AnyEvent, Format};
//!
//! let bytes = br#"{"protocol":"io.choria.lifecycle.v1.alive","id":"6b0b2a6e-1f0e-4c1a-9d2e-000000000007","identity":"node1.example.net","component":"server","timestamp":1700000000,"version":"0.29.4"}"#;
//! let parsed = parse(bytes)?;
//! assert_eq!(parsed.format(), Format::Choria);
//! let AnyEvent::Lifecycle(event) = parsed.event() else { unreachable!() };
//! assert_eq!(event.to_string(), "[alive] node1.example.net: server version 0.29.4");
//! assert_eq!(event.subject()?, "choria.lifecycle.event.alive.server");
//! assert_eq!(event.to_json(), bytes);
//! # Ok::<(), lifecycle_core::Error>(())
//! ```
//!
//! Beside the event model, in modules of their own: [`duration`] reads durations and times as
//! the command line takes them, [`terminal`] makes text from the wire safe to print (and
//! writes lines to a reader that may go away), [`selection`] is which nodes a listing of the
//! fleet takes by their state, and [`inspect`] reads events from files and lines with a bound
//! and reports what each is.
//!
//! # Features
//!
//! `id` (on by default) gives new events a fresh UUID v4 id, through the `uuid` crate and its
//! random number generator: [`Event::builder`] without `.id(..)`, and the CloudEvent of a
//! machine event ([`MachineEvent::cloudevent`], [`AnyEvent::cloudevent`],
//! [`AnyEvent::to_json_as`]). A program that only parses and writes events it received
//! turns it off and builds a dozen crates at most:
//!
//! ```toml
//! lifecycle-core = { version = "0.1", default-features = false }
//! ```

mod base64;
mod builder;
pub mod clock;
pub mod duration;
mod error;
mod event;
mod fast;
mod filter;
mod id;
pub mod inspect;
mod interest;
mod json;
mod machine;
mod node;
mod parse;
mod parsed;
mod reader;
mod rfc3339;
mod scan;
pub mod selection;
mod subject;
pub mod terminal;

pub use builder::EventBuilder;
pub use compact_str::CompactString;
pub use error::{Error, ErrorChain, ErrorKind};
pub use event::{Event, EventKind, EventType, GovernorEventType};
pub use filter::{Filter, FilterProblem, Op, compare_versions};
pub use interest::Interest;
pub use json::CloudEventJson;
pub use machine::{ExecState, MachineEvent, TRANSITION_PROTOCOL, Transition, WatcherState};
pub use node::{KeyBy, NodeChange, NodeState, UnknownKey, UnknownNodeState};
pub use parse::{is_json_content_type, parse};
// Not part of the API: the reference `parse` is held to by the tests and the fuzz target.
#[doc(hidden)]
pub use parse::parse_with_serde_json;
pub use parsed::{AnyEvent, Format, LIFECYCLE_SOURCE, MACHINE_SOURCE, MAX_EVENT_BYTES, Parsed};
pub use reader::MEMBER_NAMES;
pub use rfc3339::format_utc;
pub use subject::{
    LIFECYCLE_EVENT_PREFIX, LifecycleSubject, MACHINE_EVENT_PREFIX, TokenProblem,
    check_subject_token, is_lifecycle_subject, is_subject_token,
};
