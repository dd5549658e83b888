//! Parsers for the command line's enumerated values, which tell clap (and so `--help` and the
//! shell completions) every value they take.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use lifecycle_core::{EventType, Format, GovernorEventType};

/// One of the six lifecycle event types.
pub(crate) fn event_type() -> impl TypedValueParser<Value = EventType> {
    PossibleValuesParser::new(EventType::ALL.map(EventType::as_str))
        .try_map(|text| text.parse::<EventType>())
}

/// A lifecycle type or a machine event kind: the type elements of the filter language.
pub(crate) fn filter_type() -> impl TypedValueParser<Value = String> {
    let mut names: Vec<&'static str> = EventType::ALL.map(EventType::as_str).to_vec();
    names.extend(["transition", "state"]);
    PossibleValuesParser::new(names)
}

/// `choria` or `cloudevents`.
pub(crate) fn format() -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new([Format::Choria.as_str(), Format::CloudEvents.as_str()])
        .try_map(|text| text.parse::<Format>())
}

/// A Governor stage: `enter`, `exit`, `timeouts` or `eviction`.
pub(crate) fn governor_stage() -> impl TypedValueParser<Value = GovernorEventType> {
    PossibleValuesParser::new(["enter", "exit", "timeouts", "eviction"])
        .try_map(|text| text.parse::<GovernorEventType>())
}
