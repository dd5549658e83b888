//! A tally of which nodes run which version of which Choria component, from the lifecycle
//! events they send.
//!
//! [`Fleet`] holds the state: it applies events, expires nodes not seen for a while (lost,
//! unless they said they shut down; kept for a while, then forgotten), and answers per
//! component and version. It stays right whatever the order of events and whoever leads,
//! because the counts are kept from the state itself.
//!
//! Whoever can publish on a Choria network can send anything, so the fleet counts only what
//! it can place: an event naming no node or no component, a component or version past the
//! caps ([`TallyOptions::max_components`], [`TallyOptions::max_versions`]) or a name longer
//! than [`MAX_NAME_LEN`] is refused and counted by reason ([`Refusal`]), never a node.
//!
//! [`Tally`] wraps a fleet with its Prometheus [`Metrics`], feeds it from NATS
//! ([`Tally::run`] connects in the background and keeps at it whatever the broker does;
//! [`Tally::ingest`] counts from a connection), says whether it can be relied on now
//! ([`Tally::readiness`]) and hands every counted event to a live feed for whoever listens
//! ([`Tally::subscribe_feed`]), holding at most [`TallyOptions::feed_budget`] bytes for each.
//! [`router`] serves it over HTTP, and [`serve`] serves that to clients that may be hostile
//! ([`Limits`]); [`serve_at`] binds an address and does both in a task of its own:
//!
//! - `/metrics`, `/healthz` (liveness) and `/readyz` (readiness, or why not);
//! - `/api/v1/status`, JSON ([`Status`]): leader, connected, ready, refused, expired, lost;
//! - `/api/v1/components`, JSON, the biggest component first;
//! - `/api/v1/nodes?component=&version=&state=&filter=&limit=&cursor=`, JSON, a page of
//!   nodes at a time, up or lost, through the filter language ([`Tally::nodes_page`],
//!   [`node_event`]);
//! - `/api/v1/events?filter=EXPR`, the live feed as Server-Sent Events: one message per
//!   event (`id:` its id, `data:` its Choria JSON), after a `: ready` comment;
//! - `/` and `/assets/...`, a dashboard of the counts and the live feed, embedded in the
//!   binary.
//!
//! [`Service`] is a whole tally as `lifecycle tally` runs it: served first, then
//! counting from its broker, campaigning in an election when named ([`candidate_id`],
//! [`snapshot_name`]).
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

mod election;
mod error;
mod feed;
mod fleet;
mod health;
mod http;
mod identities;
mod ingest;
mod metrics;
mod page;
mod refusal;
mod run;
mod service;
mod snapshot;
mod snapshot_format;
mod tally;

pub use election::{DEFAULT_ELECTION_TTL, ELECTION_BUCKET, Election};
pub use error::{Error, ErrorKind, SnapshotProblem};
pub use feed::{DEFAULT_FEED_BUDGET, FeedEvent, FeedSubscription};
pub use fleet::{
    Change, DEFAULT_MAX_COMPONENTS, DEFAULT_MAX_LOST, DEFAULT_MAX_VERSIONS, Fleet,
    InvalidStateSelection, MAX_NAME_LEN, MAX_NAMES, NodeState, NodeView, StateSelection,
};
pub use health::Readiness;
pub use http::{MAX_FEED_CLIENTS, router, serve, serve_at};
pub use ingest::EXPIRY_INTERVAL;
pub use lifecycle_http::Limits;
pub use lifecycle_tally_api::{
    ComponentCount, Cursor, DEFAULT_PAGE_SIZE, InvalidCursor, LostCount, MAX_PAGE_SIZE, Node,
    NodePage, Status,
};
pub use metrics::{DEFAULT_PREFIX, MAX_SERIES, Metrics};
pub use page::{NodeQuery, node_event};
pub use refusal::Refusal;
pub use service::{Service, candidate_id, snapshot_name};
pub use snapshot::{SNAPSHOT_BUCKET, SNAPSHOT_FORMAT, SnapshotInfo};
pub use tally::{
    Clock, DEFAULT_LOST_RETENTION, DEFAULT_MAX_AGE, DEFAULT_SNAPSHOT_INTERVAL,
    DEFAULT_SNAPSHOT_MAX_SIZE, Tally, TallyOptions, system_clock,
};
