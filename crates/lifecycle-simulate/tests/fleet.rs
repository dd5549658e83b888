//! A simulated fleet through a real nats-server into a tally: the tally ends with exactly the
//! fleet the simulator says it simulated.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use lifecycle_core::{Event, Format};

use lifecycle_simulate::{
    FleetSpec, FnSink, RunOptions, Simulation, Sink, SpecError, Stats, Summary, Upgrade, run,
};
use lifecycle_tally::{ComponentCount, Tally, TallyOptions};
use lifecycle_testsupport::{NatsServer, connect, connect_with_events};

/// A tally fed in this process, as `lifecycle simulate --tally` feeds it.
fn in_process(tally: &Tally) -> FnSink<impl FnMut(Event) + Send + '_> {
    FnSink(move |event: Event| tally.observe(&event.into()))
}

/// `run` until the simulation ends or fails, never stopped.
async fn run_to_end<S: Sink>(
    simulation: &mut Simulation,
    sink: &mut S,
    options: &RunOptions,
    stats: &Stats,
) -> Result<Summary, SpecError> {
    run(simulation, sink, options, stats, std::future::pending()).await
}

/// Waits until the tally has the simulated fleet, or fails showing both.
async fn assert_tally_matches(tally: &Tally, simulation: &Simulation) {
    let expected = ComponentCount::list(simulation.counts());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counted = tally.component_counts();
        if counted == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the tally never matched the fleet:\n tally: {counted:?}\n fleet: {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn simulate_through_nats(format: Format, spec: FleetSpec, options: RunOptions) {
    let server = NatsServer::start();
    connect_with_events(&server).await;
    let tally = Tally::new(TallyOptions::default());
    let ingest = {
        let tally = tally.clone();
        let connection = connect(&server).await;
        tokio::spawn(async move { tally.ingest(&connection, std::future::pending()).await })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tally.is_ready() {
        assert!(Instant::now() < deadline, "the tally never got ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut simulation = Simulation::new(spec).unwrap();
    let mut publisher = connect(&server).await.publisher(format);
    let stats = Stats::default();
    let summary = run_to_end(&mut simulation, &mut publisher, &options, &stats)
        .await
        .unwrap();
    assert_eq!(summary.errors, 0);
    // How much of the fleet got through in the time given depends on the machine's load (a
    // loaded CI machine did not finish a 100,000-node startup storm in 6 s): what must hold
    // whatever the speed is that the tally counted exactly what was simulated.
    assert!(summary.sent > 0);
    assert_tally_matches(&tally, &simulation).await;
    // Even a fleet shut down leaves its components known: the tally did count it.
    let seen: BTreeSet<String> = tally
        .component_counts()
        .into_iter()
        .map(|c| c.component)
        .collect();
    let components: BTreeSet<String> = simulation.spec().components.iter().cloned().collect();
    assert_eq!(seen, components);
    ingest.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_thousand_nodes_upgrading_and_restarting_are_counted_exactly() {
    let spec = FleetSpec {
        nodes: 100_000,
        versions: vec!["0.28.0:30".parse().unwrap(), "0.29.4:70".parse().unwrap()],
        alive_interval: Duration::from_secs(5),
        upgrade: Some(Upgrade {
            to: "0.30.0".into(),
            per_second: 5000.0,
        }),
        restart_rate: 200.0,
        ..Default::default()
    };
    let options = RunOptions {
        duration: Some(Duration::from_secs(6)),
        ..Default::default()
    };
    simulate_through_nats(Format::Choria, spec, options).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_of_two_components_in_cloudevents_shut_down_at_the_end_leaves_nothing() {
    let spec = FleetSpec {
        nodes: 2_000,
        components: vec!["server".into(), "broker".into()],
        alive_interval: Duration::from_secs(1),
        restart_rate: 100.0,
        ..Default::default()
    };
    let options = RunOptions {
        rate: Some(20_000.0),
        duration: Some(Duration::from_secs(2)),
        shutdown_at_end: true,
    };
    simulate_through_nats(Format::CloudEvents, spec, options).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_holds() {
    let mut simulation = Simulation::new(FleetSpec {
        nodes: 100_000,
        ..Default::default()
    })
    .unwrap();
    let tally = Tally::new(TallyOptions::default());
    let options = RunOptions {
        rate: Some(2_000.0),
        duration: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let summary = run_to_end(
        &mut simulation,
        &mut in_process(&tally),
        &options,
        &Stats::default(),
    )
    .await
    .unwrap();
    // Never more than 2,000 a second for as long as it ran, and a millisecond's burst;
    // fewer when this machine is busy.
    let most = (2_000.0 * summary.elapsed.as_secs_f64()) as u64 + 10;
    assert!(
        (1..=most).contains(&summary.sent),
        "{} events in {:?}",
        summary.sent,
        summary.elapsed
    );
    assert_eq!(
        tally.component_counts(),
        ComponentCount::list(simulation.counts())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_request_ends_the_run_promptly() {
    let mut simulation = Simulation::new(FleetSpec::default()).unwrap();
    let tally = Tally::new(TallyOptions::default());
    let stats = Stats::default();
    let asked = std::sync::Mutex::new(None);
    // Asked to stop once the whole startup storm (1,000 nodes) went out, however long that
    // took on this machine.
    let stop = async {
        while stats.sent() < 1000 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        *asked.lock().unwrap() = Some(Instant::now());
    };
    let summary = run(
        &mut simulation,
        &mut in_process(&tally),
        &RunOptions::default(),
        &stats,
        stop,
    )
    .await
    .unwrap();
    let asked = asked.lock().unwrap().expect("the stop was asked");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    assert!(summary.sent >= 1000, "the whole storm went out");
    assert_eq!(
        tally.component_counts(),
        ComponentCount::list(simulation.counts())
    );
}

#[tokio::test]
async fn a_rate_that_is_not_a_rate_is_refused_before_anything_is_sent() {
    for rate in [0.0, -5.0, f64::NAN, f64::INFINITY, 1e-20, 1e300] {
        let mut simulation = Simulation::new(FleetSpec::default()).unwrap();
        let tally = Tally::new(TallyOptions::default());
        let options = RunOptions {
            rate: Some(rate),
            ..Default::default()
        };
        let stats = Stats::default();
        let mut sink = in_process(&tally);
        let error = run_to_end(&mut simulation, &mut sink, &options, &stats)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("invalid rate {rate:?}: it must be a number a second from 0.001 to 1000000")
        );
        assert_eq!(stats.sent(), 0);
    }
}
