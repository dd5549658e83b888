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

/// Ports below Linux's ephemeral range (32768 and up), where neither a server started on a
/// random port nor a client connection's own port can take them between our choosing a
/// port and the server binding it.
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// `n` distinct free loopback ports below the ephemeral range, released for the servers to
/// take: routes must know every server's port before any starts.
fn free_ports(n: usize) -> Vec<u16> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id()) << 32;
    let span = u64::from(PORTS.end - PORTS.start);
    let mut next = seed;
    // Held until all are chosen, so that none is chosen twice.
    let mut held = Vec::with_capacity(n);
    while held.len() < n {
        next = next
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let port = PORTS.start + ((next >> 33) % span) as u16;
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(listener);
        }
    }
    held.iter()
        .map(|l| l.local_addr().expect("a bound listener's address").port())
        .collect()
}

/// How many times starting a cluster is tried with other ports, when one was taken anyway.
const START_ATTEMPTS: u32 = 5;

impl NatsCluster {
    /// Starts three servers (`n1`, `n2`, `n3`) and waits until JetStream has a meta leader.
    /// Fails the test, with an install hint, when `nats-server` is missing.
    pub fn start() -> NatsCluster {
        let mut attempt = 1;
        let members = loop {
            match NatsCluster::try_start() {
                Ok(members) => break members,
                // Another process took a port between its choosing and its binding.
                Err(e) if attempt < START_ATTEMPTS && e.contains("address already in use") => {
                    attempt += 1;
                }
                Err(e) => {
                    panic!("{e}. The cluster tests need a real NATS server (.ci/run installs it).")
                }
            }
        };
        let cluster = NatsCluster { members };
        cluster.wait_for_meta_group(META_LEADER_WITHIN);
        cluster
    }

    fn try_start() -> Result<Vec<Member>, String> {
        let ports = free_ports(3 * CLUSTER_SIZE);
        let (client, rest) = ports.split_at(CLUSTER_SIZE);
        let (routes, monitor) = rest.split_at(CLUSTER_SIZE);
        (0..CLUSTER_SIZE)
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
                let server = LocalNats::start(options).map_err(|e| e.to_string())?;
                Ok(Member {
                    name,
                    monitor: monitor[i],
                    server,
                    running: true,
                })
            })
            .collect()
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
