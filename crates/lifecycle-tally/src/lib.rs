//! A tally of which nodes run which version of which Choria component, from the lifecycle
//! events they send.
//!
//! [`Fleet`] holds the state: it applies events, expires nodes not seen for a while, and
//! answers per component and version. It stays right whatever the order of events and
//! whoever leads, because the counts are kept from the state itself.
//!
//! [`Tally`] wraps a fleet with its Prometheus [`Metrics`], feeds it from NATS
//! ([`Tally::ingest`]) and hands every counted event to a live feed for whoever listens
//! ([`Tally::subscribe_feed`]). [`router`] serves it over HTTP:
//!
//! - `/metrics` and `/healthz`;
//! - `/api/v1/components` and `/api/v1/nodes?component=&version=`, JSON;
//! - `/api/v1/events?filter=EXPR`, the live feed as Server-Sent Events: one message per
//!   event (`id:` its id, `data:` its Choria JSON), after a `: ready` comment;
//! - `/` and `/assets/...`, a dashboard of the counts and the live feed, embedded in the
//!   binary.
//!
//! ```
//! use lifecycle_core::{Event, EventType};
//! use lifecycle_tally::{Change, Fleet};
//!
//! let mut fleet = Fleet::new();
//! let alive = Event::builder(EventType::Alive)
//!     .identity("node1.example.net")
//!     .component("server")
//!     .version("0.29.4")
//!     .build()?;
//! assert_eq!(fleet.observe(&alive, alive.timestamp()), Change::Added);
//! let (component, versions) = fleet.components().next().unwrap();
//! assert_eq!((component, versions), ("server", vec![("0.29.4", 1)]));
//! # Ok::<(), lifecycle_core::Error>(())
//! ```
#![warn(missing_docs)]

mod election;
mod feed;
mod fleet;
mod http;
mod ingest;
mod metrics;
mod tally;

pub use election::{DEFAULT_ELECTION_TTL, ELECTION_BUCKET, Election};
pub use feed::{FEED_CAPACITY, FeedSubscription, RecvError};
pub use fleet::{Change, Fleet, MAX_NAMES, NodeView};
pub use http::{ComponentCount, MAX_FEED_CLIENTS, NodeInfo, prometheus_text, router, serve};
pub use ingest::EXPIRY_INTERVAL;
pub use metrics::{DEFAULT_PREFIX, MAX_SERIES, Metrics};
pub use tally::{Clock, DEFAULT_MAX_AGE, Tally, TallyOptions, system_clock};
