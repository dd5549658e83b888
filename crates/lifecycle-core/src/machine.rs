use std::fmt;

use crate::event::{Extra, extra_eq};

/// The protocol of a machine transition event.
pub const TRANSITION_PROTOCOL: &str = "io.choria.machine.v1.transition";

/// An autonomous agent's event: a state transition or a watcher's state.
///
/// Choria publishes these as CloudEvents with source `io.choria.machine`.
#[derive(Debug, Clone, PartialEq)]
pub enum MachineEvent {
    /// A machine moved from one state to another.
    Transition(Transition),
    /// A watcher reported its state.
    WatcherState(WatcherState),
}

/// `io.choria.machine.v1.transition`: a machine moved from one state to another.
#[derive(Debug, Clone)]
pub struct Transition {
    /// Identity of the node hosting the machine.
    pub identity: String,
    /// Id of the machine instance that produced it (not unique per event).
    pub id: String,
    /// Version of the machine.
    pub version: String,
    /// When the transition happened, unix seconds.
    pub timestamp: i64,
    /// Name of the machine.
    pub machine: String,
    /// Name of the transition that fired.
    pub transition: String,
    /// State before.
    pub from_state: String,
    /// State after.
    pub to_state: String,
    pub(crate) extra: Extra,
}

/// `io.choria.machine.watcher.<kind>.v1.state`: the state of one watcher of a machine.
#[derive(Debug, Clone)]
pub struct WatcherState {
    /// The watcher kind, e.g. `exec` (the `type` field).
    pub watcher_type: String,
    /// Identity of the node hosting the machine.
    pub identity: String,
    /// Id of the machine instance that produced it.
    pub id: String,
    /// Version of the machine.
    pub version: String,
    /// When the state was gathered, unix seconds.
    pub timestamp: i64,
    /// Name of the machine.
    pub machine: String,
    /// Name of the watcher.
    pub name: String,
    /// The exec watcher's own fields, when `watcher_type` is `exec`.
    pub exec: Option<ExecState>,
    pub(crate) extra: Extra,
}

/// The fields an exec watcher adds to its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecState {
    /// The command the watcher runs.
    pub command: String,
    /// `unknown`, `skipped`, `error` or `success`.
    pub previous_outcome: String,
    /// How long the previous run took, in nanoseconds.
    pub previous_run_time: i64,
}

impl Transition {
    /// A transition with no extra members.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        identity: impl Into<String>,
        id: impl Into<String>,
        version: impl Into<String>,
        timestamp: i64,
        machine: impl Into<String>,
        transition: impl Into<String>,
        from_state: impl Into<String>,
        to_state: impl Into<String>,
    ) -> Self {
        Transition {
            identity: identity.into(),
            id: id.into(),
            version: version.into(),
            timestamp,
            machine: machine.into(),
            transition: transition.into(),
            from_state: from_state.into(),
            to_state: to_state.into(),
            extra: Vec::new(),
        }
    }
}

impl PartialEq for Transition {
    fn eq(&self, o: &Self) -> bool {
        (
            &self.identity,
            &self.id,
            &self.version,
            self.timestamp,
            &self.machine,
            &self.transition,
            &self.from_state,
            &self.to_state,
        ) == (
            &o.identity,
            &o.id,
            &o.version,
            o.timestamp,
            &o.machine,
            &o.transition,
            &o.from_state,
            &o.to_state,
        ) && extra_eq(&self.extra, &o.extra)
    }
}

impl WatcherState {
    /// An exec watcher's state with no extra members.
    #[allow(clippy::too_many_arguments)]
    pub fn exec(
        identity: impl Into<String>,
        id: impl Into<String>,
        version: impl Into<String>,
        timestamp: i64,
        machine: impl Into<String>,
        name: impl Into<String>,
        exec: ExecState,
    ) -> Self {
        WatcherState {
            watcher_type: "exec".to_owned(),
            identity: identity.into(),
            id: id.into(),
            version: version.into(),
            timestamp,
            machine: machine.into(),
            name: name.into(),
            exec: Some(exec),
            extra: Vec::new(),
        }
    }

    /// `io.choria.machine.watcher.<kind>.v1.state`.
    pub fn protocol(&self) -> String {
        format!("io.choria.machine.watcher.{}.v1.state", self.watcher_type)
    }
}

impl PartialEq for WatcherState {
    fn eq(&self, o: &Self) -> bool {
        (
            &self.watcher_type,
            &self.identity,
            &self.id,
            &self.version,
            self.timestamp,
            &self.machine,
            &self.name,
            &self.exec,
        ) == (
            &o.watcher_type,
            &o.identity,
            &o.id,
            &o.version,
            o.timestamp,
            &o.machine,
            &o.name,
            &o.exec,
        ) && extra_eq(&self.extra, &o.extra)
    }
}

impl MachineEvent {
    /// The protocol on the wire.
    pub fn protocol(&self) -> String {
        match self {
            MachineEvent::Transition(_) => TRANSITION_PROTOCOL.to_owned(),
            MachineEvent::WatcherState(w) => w.protocol(),
        }
    }

    /// `transition` or `state`, as the filter language names them.
    pub fn type_name(&self) -> &'static str {
        match self {
            MachineEvent::Transition(_) => "transition",
            MachineEvent::WatcherState(_) => "state",
        }
    }

    /// The NATS subject: `choria.machine.transition` or `choria.machine.watcher.<kind>.state`.
    pub fn subject(&self) -> String {
        match self {
            MachineEvent::Transition(_) => "choria.machine.transition".to_owned(),
            MachineEvent::WatcherState(w) => {
                format!("choria.machine.watcher.{}.state", w.watcher_type)
            }
        }
    }

    /// Identity of the node hosting the machine.
    pub fn identity(&self) -> &str {
        match self {
            MachineEvent::Transition(t) => &t.identity,
            MachineEvent::WatcherState(w) => &w.identity,
        }
    }

    /// Id of the machine instance.
    pub fn id(&self) -> &str {
        match self {
            MachineEvent::Transition(t) => &t.id,
            MachineEvent::WatcherState(w) => &w.id,
        }
    }

    /// Name of the machine.
    pub fn machine(&self) -> &str {
        match self {
            MachineEvent::Transition(t) => &t.machine,
            MachineEvent::WatcherState(w) => &w.machine,
        }
    }

    /// Version of the machine.
    pub fn version(&self) -> &str {
        match self {
            MachineEvent::Transition(t) => &t.version,
            MachineEvent::WatcherState(w) => &w.version,
        }
    }

    /// When it happened, unix seconds.
    pub fn timestamp(&self) -> i64 {
        match self {
            MachineEvent::Transition(t) => t.timestamp,
            MachineEvent::WatcherState(w) => w.timestamp,
        }
    }
}

/// Choria's display line for the event.
impl fmt::Display for MachineEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MachineEvent::Transition(t) => write!(
                f,
                "{} {} transitioned via event {}: {} => {}",
                t.identity, t.machine, t.transition, t.from_state, t.to_state
            ),
            MachineEvent::WatcherState(w) => match &w.exec {
                Some(exec) => write!(
                    f,
                    "{} {}#{} command: {}, previous: {} ran: {:.3}s",
                    w.identity,
                    w.machine,
                    w.name,
                    exec.command,
                    exec.previous_outcome,
                    exec.previous_run_time as f64 / 1e9
                ),
                None => write!(
                    f,
                    "{} {}#{} {} watcher state",
                    w.identity, w.machine, w.name, w.watcher_type
                ),
            },
        }
    }
}
