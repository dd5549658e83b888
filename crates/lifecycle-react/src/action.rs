//! A rule's action: one of `exec` or `http`.

use std::fmt;

use lifecycle_deliver::{Failure, Handler};
use lifecycle_nats::Received;

use crate::exec::{Command, Exec};
use crate::http::{Post, Request};

/// What a rule does for each event.
#[derive(Debug, Clone)]
pub enum Action {
    /// Runs a program.
    Exec(Exec),
    /// POSTs a CloudEvent.
    Http(Post),
}

/// An action prepared for one event.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// The program to run.
    Exec(Command),
    /// The request to send.
    Http(Request),
}

impl fmt::Display for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prepared::Exec(command) => command.fmt(f),
            Prepared::Http(request) => request.fmt(f),
        }
    }
}

impl Handler for Action {
    type Action = Prepared;

    fn prepare(&self, event: &Received) -> Result<Prepared, Failure> {
        match self {
            Action::Exec(exec) => exec.prepare(event).map(Prepared::Exec),
            Action::Http(post) => post.prepare(event).map(Prepared::Http),
        }
    }

    async fn attempt(&self, prepared: &Prepared, attempt: u32) -> Result<(), Failure> {
        match (self, prepared) {
            (Action::Exec(exec), Prepared::Exec(command)) => exec.attempt(command, attempt).await,
            (Action::Http(post), Prepared::Http(request)) => post.attempt(request, attempt).await,
            _ => Err(Failure::permanent(
                "an action prepared by another kind of action",
            )),
        }
    }

    fn describe(&self) -> String {
        match self {
            Action::Exec(exec) => exec.describe(),
            Action::Http(post) => post.describe(),
        }
    }
}
