//! A `Gate` and a `PassTemplate` fed events received from a real nats-server: a rollout in
//! which nodes upgrade, one rolls back (it fails again) and one shuts down (it leaves the
//! fleet), and OpenSVC's "3 nodes up" template.

use std::time::Duration;

use lifecycle_core::duration::Since;
use lifecycle_core::{Event, Filter};
use lifecycle_nats::Connection;
use lifecycle_testsupport::{
    alive, publish_stored as publish, shutdown, started_with_events, upgraded,
};
use lifecycle_watch::{
    Events, Gate, PassTemplate, Step, Target, TemplateWait, Watch, catch_up, wait_for,
};

/// How long anything may take: generous, for a loaded machine.
const WITHIN: Duration = Duration::from_secs(60);

async fn open(connection: &Connection, filter: &str) -> Events {
    Watch::new(Filter::parse(filter).unwrap())
        .since(Since::Ago(Duration::from_secs(600)))
        .timeout(WITHIN)
        .open(connection)
        .await
        .unwrap()
}

fn versions(nodes: Vec<&lifecycle_watch::Node>) -> Vec<String> {
    nodes
        .iter()
        .map(|node| format!("{} {}", node.identity, node.version))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_with_a_rollback_and_a_shutdown() {
    let (_server, connection) = started_with_events().await;
    let fleet: Vec<Event> = (1..=5).map(|n| alive(&format!("n{n}"), "0.29.4")).collect();
    publish(&connection, &fleet, 5).await;
    let mut gate = Gate::new(Filter::parse(".version>=0.30.0").unwrap(), Target::All);
    let mut events = open(&connection, "component=server").await;
    catch_up(&mut events, &mut gate)
        .await
        .expect("the replay catches up");
    assert_eq!(gate.to_string(), "0/5 nodes pass");
    assert!(!gate.is_met());

    // The rollout, live: n1 to n4 upgrade, n2 rolls back, n5 shuts down, n2 upgrades again.
    let rollout = [
        upgraded("n1", "0.29.4", "0.30.0"),
        upgraded("n2", "0.29.4", "0.30.0"),
        upgraded("n3", "0.29.4", "0.30.0"),
        upgraded("n4", "0.29.4", "0.30.1"),
        alive("n2", "0.29.4"),
        shutdown("n5"),
        upgraded("n2", "0.29.4", "0.30.0"),
    ];
    publish(&connection, &rollout, 12).await;
    let mut shown = Vec::new();
    let mut failing = Vec::new();
    let result = wait_for(&mut events, &mut gate, |gate| {
        shown.push(gate.to_string());
        failing.push(versions(gate.failing()));
    })
    .await;
    assert_eq!(result, Ok(()));
    assert_eq!(
        shown,
        [
            // The caught-up signal, which `catch_up` saw coming but left to be handed out.
            "0/5 nodes pass",
            "1/5 nodes pass",
            "2/5 nodes pass",
            "3/5 nodes pass",
            "4/5 nodes pass",
            // n2 rolled back: it fails again.
            "3/5 nodes pass",
            // n5 shut down: it left, it does not fail.
            "3/4 nodes pass",
            "4/4 nodes pass",
        ]
    );
    assert_eq!(failing[5], ["n2 0.29.4", "n5 0.29.4"]);
    assert_eq!(failing[6], ["n2 0.29.4"]);
    assert!(gate.failing().is_empty());
    assert_eq!(
        versions(gate.passed()),
        ["n1 0.30.0", "n2 0.30.0", "n3 0.30.0", "n4 0.30.1"]
    );
    assert_eq!(gate.known(), 4);

    // A gate opened now, from the replay alone, sees the same fleet at once.
    let mut again = Gate::new(Filter::parse(".version>=0.30.0").unwrap(), Target::Count(4));
    let mut events = open(&connection, "component=server").await;
    let result = wait_for(&mut events, &mut again, |_| {}).await;
    assert_eq!(result, Ok(()));
    assert_eq!(again.to_string(), "4/4 nodes pass");
    assert_eq!(versions(again.nodes()), versions(gate.nodes()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fraction_of_the_fleet_counts_the_nodes_known_now() {
    let (_server, connection) = started_with_events().await;
    let fleet: Vec<Event> = (1..=4).map(|n| alive(&format!("n{n}"), "0.29.4")).collect();
    publish(&connection, &fleet, 4).await;
    let half = Target::Fraction("0.5".parse().unwrap());
    let mut gate = Gate::new(Filter::parse(".version>=0.30.0").unwrap(), half);
    let mut events = open(&connection, "").await;
    catch_up(&mut events, &mut gate).await.unwrap();
    assert_eq!(gate.to_string(), "0/4 nodes pass, 2 needed (0.5)");
    publish(
        &connection,
        &[
            upgraded("n1", "0.29.4", "0.30.0"),
            shutdown("n4"),
            shutdown("n3"),
        ],
        7,
    )
    .await;
    let mut shown = Vec::new();
    let result = wait_for(&mut events, &mut gate, |gate| shown.push(gate.to_string())).await;
    assert_eq!(result, Ok(()));
    assert_eq!(
        shown,
        [
            "0/4 nodes pass, 2 needed (0.5)",
            "1/4 nodes pass, 2 needed (0.5)",
            "1/3 nodes pass, 2 needed (0.5)",
            "1/2 nodes pass, 1 needed (0.5)",
        ]
    );
}

/// OpenSVC's "object avail is up on 3 objects", as "3 nodes run 0.30.0".
const THREE_UP: &str = r#"{% if pass_set(identity, version == "0.30.0") %}{% if set_success(pass_count() == 3) %}{% endif %}{{ identity }} {{ pass_count() }}{% endif %}"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_template_waits_for_three_nodes_up() {
    let (_server, connection) = started_with_events().await;
    let mut wait = TemplateWait::new(PassTemplate::new(THREE_UP).unwrap());
    let mut events = open(&connection, "alive").await;
    // Nothing stored: caught up at once.
    assert!(matches!(
        tokio::time::timeout(WITHIN, events.step()).await.unwrap(),
        Ok(Step::CaughtUp)
    ));
    publish(
        &connection,
        &[
            alive("n1", "0.30.0"),
            alive("n2", "0.29.4"),
            alive("n2", "0.30.0"),
            // Nothing changed: the template writes nothing.
            alive("n2", "0.30.0"),
            // One goes back: it leaves the set.
            alive("n1", "0.29.4"),
            alive("n3", "0.30.0"),
            alive("n1", "0.30.0"),
            // After success: never seen.
            alive("n4", "0.30.0"),
        ],
        8,
    )
    .await;
    let result = wait_for(&mut events, &mut wait, |_| {}).await;
    assert_eq!(result, Ok(()));
    assert_eq!(wait.take_output(), ["n1 1", "n2 2", "n1 1", "n3 2", "n1 3"]);
    assert_eq!(wait.template().passed(), ["n1", "n2", "n3"]);
    assert!(wait.template().success());
    // The wait stopped at success: n4's event is still there for the next reader.
    let next = tokio::time::timeout(WITHIN, events.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.parsed.event().identity(), "n4");
}
