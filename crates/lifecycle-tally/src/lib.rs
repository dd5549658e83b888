//! Choria lifecycle events: tally (filled in by a later issue).
