//! On a three-server cluster, the election's bucket is replicated like the events stream:
//! the SIGKILL of the server that leads it leaves the tallies with a leader again within
//! seconds, and never with two.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lifecycle_nats::EVENTS_STREAM;
use lifecycle_tally::{ELECTION_BUCKET, Election};
use lifecycle_testsupport::{NatsCluster, connect_to_cluster, started_cluster_with_events};

/// A candidate campaigning in its own task, connected to every server.
struct Candidate {
    active: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Candidate {
    async fn start(cluster: &NatsCluster, id: &str, ttl: Duration) -> Candidate {
        let connection = connect_to_cluster(cluster).await;
        let election = Election::new("tally", ttl, id);
        let active = Arc::new(AtomicBool::new(false));
        let flag = active.clone();
        let task = tokio::spawn(async move {
            let _ = election
                .run(
                    &connection,
                    |leader| flag.store(leader, Ordering::SeqCst),
                    std::future::pending(),
                )
                .await;
        });
        Candidate { active, task }
    }

    fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }
}

/// Waits for a leader, checking meanwhile that there are never two; returns how long.
async fn leader_within(a: &Candidate, b: &Candidate, patience: Duration) -> Duration {
    let started = Instant::now();
    loop {
        assert!(!(a.is_active() && b.is_active()), "two leaders at once");
        if a.is_active() || b.is_active() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < patience,
            "no leader within {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_server_leading_the_election_bucket_leaves_one_leader() {
    let (mut cluster, connection) = started_cluster_with_events().await;
    let ttl = Duration::from_secs(2);
    // The bound holds on a machine with time to spare; the wait leaves room for a loaded
    // one, and the takeover time is printed.
    let patience = Duration::from_secs(60);
    let a = Candidate::start(&cluster, "a", ttl).await;
    let b = Candidate::start(&cluster, "b", ttl).await;
    leader_within(&a, &b, patience).await;

    let bucket = format!("KV_{ELECTION_BUCKET}");
    cluster.wait_for_stream_replicas(&bucket, Duration::from_secs(30));
    let state = connection.stream_state(&bucket).await.unwrap().unwrap();
    assert_eq!(state.replicas, 3, "replicated like {EVENTS_STREAM}");

    let leader = cluster.wait_for_stream_leader(&bucket, Duration::from_secs(10));
    cluster.kill(leader);
    // Renewals through the dead server fail: whoever led may step down, then one leads.
    tokio::time::sleep(ttl).await;
    let took = leader_within(&a, &b, patience).await;
    eprintln!("a leader again {took:?} after the bucket's leader was killed (plus {ttl:?})");
    for _ in 0..20 {
        assert!(!(a.is_active() && b.is_active()), "two leaders at once");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.task.abort();
    b.task.abort();
}
