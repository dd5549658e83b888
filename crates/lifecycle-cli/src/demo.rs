//! `lifecycle demo`: a simulated fleet with an upgrade rolling through it, counted by a tally
//! with its live dashboard, through a local nats-server when there is one.

use std::process::ExitCode;

use anyhow::Context;
use lifecycle_demo::{Demo, local_broker};
use lifecycle_nats::Shutdown;

/// Try it all with one command: a simulated fleet of a few thousand nodes with an upgrade
/// rolling through it, counted by a tally whose live dashboard this prints the address of.
///
/// When `nats-server` is on PATH, the demo starts one on a free loopback port (JetStream in a
/// temporary directory) and everything goes through it, so the other commands can join in;
/// otherwise the fleet is counted in process. Ctrl-C (SIGINT) or SIGTERM stops everything it
/// started, and it exits 0.
///
/// Examples:
///   lifecycle demo
///   lifecycle demo --nodes 20000 --port 9090
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Nodes in the simulated fleet.
    #[arg(long, default_value_t = 5000)]
    nodes: usize,

    /// Port of the dashboard on 127.0.0.1; when it is taken, any free port.
    #[arg(long, default_value_t = 8080)]
    port: u16,

    /// Count in process even when nats-server is on PATH.
    #[arg(long)]
    no_broker: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let demo = Demo::new(args.nodes, args.port)?;
    let runtime = crate::connect::runtime()?;
    // Caught before the broker starts: a stop while it does still stops it.
    let shutdown = {
        let _runtime = runtime.enter();
        Shutdown::install()
    };
    let broker = match args.no_broker {
        true => None,
        false => local_broker().context(
            "nats-server did not start (`lifecycle demo --no-broker` counts in process)",
        )?,
    };
    let guide = |guide: &lifecycle_demo::Guide| print!("{guide}");
    runtime.block_on(demo.run(broker.as_ref(), shutdown.requested(), guide))?;
    eprintln!("lifecycle demo: stopped");
    drop(broker);
    Ok(ExitCode::SUCCESS)
}
