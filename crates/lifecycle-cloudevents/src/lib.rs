//! Choria lifecycle events: cloudevents (filled in by a later issue).
