//! An event delivered again (its handler's process gone) counts its earlier delivery: the
//! attempt number a handler sees starts at the server's delivery count.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lifecycle_deliver::{Engine, Failure, Handler, Settings};
use lifecycle_nats::Received;
use lifecycle_testsupport::{publish, started_with_events, startup, wait_for_consumer, wait_until};

/// Records each attempt's number; the first attempt never finishes.
#[derive(Default, Clone)]
struct Attempts(Arc<Mutex<Vec<u32>>>);

impl Handler for Attempts {
    type Action = String;

    fn prepare(&self, event: &Received) -> Result<String, Failure> {
        Ok(event.parsed.event().identity().to_owned())
    }

    async fn attempt(&self, _identity: &String, attempt: u32) -> Result<(), Failure> {
        let first = {
            let mut attempts = self.0.lock().unwrap();
            attempts.push(attempt);
            attempts.len() == 1
        };
        if first {
            std::future::pending::<()>().await;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        "attempts".into()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_delivered_again_is_attempted_as_its_second_delivery() {
    let (_server, connection) = started_with_events().await;
    let attempts = Attempts::default();
    let ack_wait = Duration::from_secs(1);

    // The first process takes the event and dies holding it (its task aborted: no
    // acknowledgement, no heartbeat).
    let first = {
        let engine = Engine::new(attempts.clone(), Settings::new("attempts"));
        let connection = connection.clone();
        tokio::spawn(async move {
            engine
                .run_durable(&connection, "attempts", ack_wait, std::future::pending())
                .await
        })
    };
    wait_for_consumer(&connection, "attempts", &[]).await;
    publish(&connection, &[startup("n1.example.net")]).await;
    wait_until("the first attempt", || {
        attempts.0.lock().unwrap().len() == 1
    })
    .await;
    first.abort();
    let _ = first.await;

    // The next one gets it again once the acknowledgement wait lapsed.
    let engine = Engine::new(attempts.clone(), Settings::new("attempts"));
    let second = {
        let connection = connection.clone();
        tokio::spawn(async move {
            engine
                .run_durable(&connection, "attempts", ack_wait, std::future::pending())
                .await
        })
    };
    wait_until("the event delivered again", || {
        attempts.0.lock().unwrap().len() == 2
    })
    .await;
    second.abort();
    assert_eq!(*attempts.0.lock().unwrap(), [1, 2]);
}
