//! Choria lifecycle events: nats (filled in by a later issue).
