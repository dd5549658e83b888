//! `NatsCluster`: three `nats-server` processes on loopback joined by routes, with JetStream,
//! each killable with SIGKILL and restartable on its ports with its store, and the leaders
//! (meta, stream, consumer) read from their monitoring endpoints.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use lifecycle_localnats::{LocalNats, Options};
use serde_json::Value;

/// How many servers a cluster has: the smallest that survives the loss of one.
pub const CLUSTER_SIZE: usize = 3;

/// How long a cluster has to elect its JetStream meta leader.
const META_LEADER_WITHIN: Duration = Duration::from_secs(30);

/// One server's ports and process.
#[derive(Debug)]
struct Member {
    name: String,
    monitor: u16,
    server: LocalNats,
    running: bool,
}

/// Three clustered servers with JetStream, killed when dropped.
#[derive(Debug)]
pub struct NatsCluster {
    members: Vec<Member>,
}

/// A free loopback port, released for a server to take: routes must know every server's
/// port before any starts.
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl NatsCluster {
    /// Starts three servers (`n1`, `n2`, `n3`) and waits until JetStream has a meta leader.
    /// Fails the test, with an install hint, when `nats-server` is missing.
    pub fn start() -> NatsCluster {
        let client: Vec<u16> = (0..CLUSTER_SIZE).map(|_| free_port()).collect();
        let routes: Vec<u16> = (0..CLUSTER_SIZE).map(|_| free_port()).collect();
        let monitor: Vec<u16> = (0..CLUSTER_SIZE).map(|_| free_port()).collect();
        let members = (0..CLUSTER_SIZE)
            .map(|i| {
                let name = format!("n{}", i + 1);
                let others: Vec<String> = (0..CLUSTER_SIZE)
                    .filter(|&j| j != i)
                    .map(|j| format!("\"nats-route://127.0.0.1:{}\"", routes[j]))
                    .collect();
                let extra_config = format!(
                    "server_name: {name}\nhttp: \"127.0.0.1:{}\"\ncluster {{\n  name: \
                     lifecycle-test\n  listen: \"127.0.0.1:{}\"\n  routes: [{}]\n}}\n",
                    monitor[i],
                    routes[i],
                    others.join(", ")
                );
                let options = Options {
                    port: Some(client[i]),
                    extra_config,
                    dir_prefix: format!("lifecycle-cluster-{name}-"),
                    ..Options::default()
                };
                let server = LocalNats::start(options).unwrap_or_else(|e| {
                    panic!("{e}. The cluster tests need a real NATS server (.ci/run installs it).")
                });
                Member {
                    name,
                    monitor: monitor[i],
                    server,
                    running: true,
                }
            })
            .collect();
        let cluster = NatsCluster { members };
        cluster.wait_for_meta_group(META_LEADER_WITHIN);
        cluster
    }

    /// Waits until JetStream has a meta leader and every running server says it is healthy
    /// (`/healthz`: JetStream current with the meta group): before, placing a replicated
    /// stream fails ("no suitable peers").
    pub fn wait_for_meta_group(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let healthy = self
                .members
                .iter()
                .filter(|m| m.running)
                .all(|m| get(m.monitor, "/healthz").is_some_and(|(status, _)| status == 200));
            if healthy && self.meta_leader().is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster's JetStream meta group was not whole within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every server's URL, as a client lists its seeds.
    pub fn urls(&self) -> Vec<String> {
        self.members.iter().map(|m| m.server.url()).collect()
    }

    /// Server `i`'s URL.
    pub fn url(&self, i: usize) -> String {
        self.members[i].server.url()
    }

    /// Server `i`'s name (`n1`, `n2`, `n3`), as leaders are named.
    pub fn name(&self, i: usize) -> &str {
        &self.members[i].name
    }

    /// Which server is named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.members.iter().position(|m| m.name == name)
    }

    /// Kills server `i` with SIGKILL.
    pub fn kill(&mut self, i: usize) {
        self.members[i].server.stop();
        self.members[i].running = false;
    }

    /// Starts server `i` again on its ports, with its JetStream store.
    pub fn start_again(&mut self, i: usize) {
        let member = &mut self.members[i];
        member
            .server
            .start_again()
            .unwrap_or_else(|e| panic!("{} did not start again: {e}", member.name));
        member.running = true;
    }

    /// The JetStream meta leader, as a running server reports it.
    pub fn meta_leader(&self) -> Option<usize> {
        self.leader_from(|jsz| jsz["meta_cluster"]["leader"].as_str().map(str::to_owned))
    }

    /// The leader of `stream`, as a running server that holds it reports it.
    pub fn stream_leader(&self, stream: &str) -> Option<usize> {
        self.leader_from(|jsz| {
            streams(jsz)
                .find(|s| s["name"] == stream)
                .and_then(|s| s["cluster"]["leader"].as_str().map(str::to_owned))
        })
    }

    /// The leader of the consumer `consumer` of `stream`.
    pub fn consumer_leader(&self, stream: &str, consumer: &str) -> Option<usize> {
        self.leader_from(|jsz| {
            streams(jsz)
                .filter(|s| s["name"] == stream)
                .flat_map(|s| s["consumer_detail"].as_array().into_iter().flatten())
                .find(|c| c["name"] == consumer)
                .and_then(|c| c["cluster"]["leader"].as_str().map(str::to_owned))
        })
    }

    /// Waits until JetStream has a meta leader among the running servers.
    pub fn wait_for_meta_leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(leader) = self.meta_leader() {
                return leader;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster elected no JetStream meta leader within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `stream` has a leader among the running servers.
    pub fn wait_for_stream_leader(&self, stream: &str, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(leader) = self.stream_leader(stream) {
                return leader;
            }
            assert!(
                Instant::now() < deadline,
                "{stream} got no leader within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until every running server holds a replica of `stream` and its leader sees
    /// them all current (a stream raised to more replicas copies its messages first): only
    /// then does it outlive the loss of any one server.
    pub fn wait_for_stream_replicas(&self, stream: &str, within: Duration) {
        let deadline = Instant::now() + within;
        let holds = |jsz: &Value| streams(jsz).any(|s| s["name"] == stream);
        loop {
            let everywhere = self
                .members
                .iter()
                .filter(|m| m.running)
                .all(|m| jsz(m.monitor).is_some_and(|jsz| holds(&jsz)));
            let current = self.stream_leader(stream).is_some_and(|leader| {
                jsz(self.members[leader].monitor).is_some_and(|jsz| {
                    streams(&jsz).any(|s| {
                        s["name"] == stream
                            && s["cluster"]["replicas"]
                                .as_array()
                                .is_some_and(|r| r.iter().all(|p| p["current"] == true))
                    })
                })
            });
            if everywhere && current {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{stream} was not current on every running server within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The first leader `read` finds in a running server's `/jsz` that is running itself:
    /// for a few seconds after a kill, the others still name the dead one.
    fn leader_from(&self, read: impl Fn(&Value) -> Option<String>) -> Option<usize> {
        self.members
            .iter()
            .filter(|m| m.running)
            .filter_map(|m| jsz(m.monitor))
            .filter_map(|jsz| read(&jsz))
            .filter_map(|name| self.index_of(&name))
            .find(|&i| self.members[i].running)
    }
}

/// Every stream a `/jsz` answer details.
fn streams(jsz: &Value) -> impl Iterator<Item = &Value> {
    jsz["account_details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
}

/// A server's `/jsz` with streams and consumers; `None` when it does not answer.
fn jsz(monitor: u16) -> Option<Value> {
    let (status, body) = get(
        monitor,
        "/jsz?accounts=true&streams=true&consumers=true&config=true",
    )?;
    (status == 200)
        .then(|| serde_json::from_str(&body).ok())
        .flatten()
}

/// `GET path` from a server's monitoring port: the status and the body; `None` when it does
/// not answer.
fn get(monitor: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", monitor)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8(response).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}
