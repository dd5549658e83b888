//! Brokers found by DNS SRV records of the Choria configuration's `plugin.choria.srv_domain`,
//! answered by a DNS server the test starts on a random loopback port.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::*;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::SRV;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use lifecycle_core::{AnyEvent, Format};
use lifecycle_nats::{ConnectOptions, Connection, Environment, ErrorKind, ServerSource, Settings};
use lifecycle_testsupport::NatsServer;
use tokio::net::UdpSocket;

/// One SRV record: priority, weight, port, target.
type Srv = (u16, u16, u16, &'static str);

/// A DNS server on a random loopback UDP port that answers SRV questions from a table and
/// says NXDOMAIN to every other; it keeps the names it was asked, and stops on drop.
struct DnsServer {
    address: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl DnsServer {
    async fn start(records: &[(&str, Vec<Srv>)]) -> DnsServer {
        let table: HashMap<String, Vec<Srv>> = records
            .iter()
            .map(|(name, srvs)| (format!("{name}."), srvs.clone()))
            .collect();
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let task = tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            loop {
                let (n, from) = socket.recv_from(&mut buffer).await.unwrap();
                let Ok(query) = Message::from_vec(&buffer[..n]) else {
                    continue;
                };
                let reply = answer(&query, &table, &log);
                socket
                    .send_to(&reply.to_vec().unwrap(), from)
                    .await
                    .unwrap();
            }
        });
        DnsServer {
            address,
            asked,
            task,
        }
    }

    /// The names asked so far, in order, without repeats (a resolver may ask again).
    fn asked(&self) -> Vec<String> {
        let mut names = self.asked.lock().unwrap().clone();
        names.dedup();
        names
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(query: &Message, table: &HashMap<String, Vec<Srv>>, log: &Mutex<Vec<String>>) -> Message {
    let mut reply = Message::new();
    reply
        .set_id(query.id())
        .set_message_type(MessageType::Response)
        .set_op_code(query.op_code())
        .set_recursion_desired(query.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true);
    let mut found = false;
    for question in query.queries() {
        reply.add_query(question.clone());
        let name = question.name().to_ascii().to_ascii_lowercase();
        log.lock()
            .unwrap()
            .push(name.trim_end_matches('.').to_owned());
        if question.query_type() != RecordType::SRV {
            continue;
        }
        if let Some(srvs) = table.get(&name) {
            found = true;
            for &(priority, weight, port, target) in srvs {
                let target = Name::from_ascii(target).unwrap();
                let srv = SRV::new(priority, weight, port, target);
                reply.add_answer(Record::from_rdata(
                    question.name().clone(),
                    60,
                    RData::SRV(srv),
                ));
            }
        }
    }
    reply.set_response_code(if found {
        ResponseCode::NoError
    } else {
        ResponseCode::NXDomain
    });
    reply
}

/// A Choria configuration with `srv_domain` and no middleware hosts, resolved to ask `dns`.
fn settings(dir: &Path, domain: &str, dns: &DnsServer) -> (PathBuf, Settings) {
    let config = dir.join("client.conf");
    std::fs::write(&config, format!("plugin.choria.srv_domain = {domain}\n")).unwrap();
    let options = ConnectOptions {
        config: Some(config.clone()),
        dns_server: Some(dns.address),
        ..Default::default()
    };
    let settings = Settings::resolve_in(&options, &Environment::default()).unwrap();
    assert_eq!(
        settings.source,
        ServerSource::Srv {
            config: config.clone(),
            domain: domain.to_owned(),
        }
    );
    assert!(settings.servers.is_empty());
    (config, settings)
}

async fn shown(settings: &Settings) -> Vec<String> {
    within(60, "the SRV lookup", settings.lookup_servers())
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Connects as `settings` say and sends an event through.
async fn connect_and_round_trip(settings: &Settings) {
    let connection = within(60, "the connection", Connection::connect(settings))
        .await
        .unwrap();
    let (event, got) = round_trip(&connection, Format::Choria).await;
    assert_eq!(got.parsed.event(), &AnyEvent::Lifecycle(event));
}

#[tokio::test(flavor = "multi_thread")]
async fn connects_to_the_brokers_of_mcollective_server_records() {
    let server = NatsServer::start();
    let port = server.port();
    let dns = DnsServer::start(&[
        (
            "_mcollective-server._tcp.example.net",
            vec![(10, 5, port, "127.0.0.1.")],
        ),
        // Never asked: the first name answered.
        (
            "_x-puppet-mcollective._tcp.example.net",
            vec![(10, 5, 1, "wrong.example.net.")],
        ),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (_, settings) = settings(dir.path(), "example.net", &dns);
    assert_eq!(shown(&settings).await, [format!("nats://127.0.0.1:{port}")]);
    connect_and_round_trip(&settings).await;
    assert_eq!(dns.asked(), ["_mcollective-server._tcp.example.net"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn falls_back_to_x_puppet_mcollective_records() {
    let server = NatsServer::start();
    let port = server.port();
    let dns = DnsServer::start(&[(
        "_x-puppet-mcollective._tcp.example.org",
        vec![(10, 5, port, "127.0.0.1.")],
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (_, settings) = settings(dir.path(), "example.org", &dns);
    connect_and_round_trip(&settings).await;
    assert_eq!(
        dns.asked(),
        [
            "_mcollective-server._tcp.example.org",
            "_x-puppet-mcollective._tcp.example.org"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn records_are_taken_by_priority_then_weight() {
    let dns = DnsServer::start(&[(
        "_mcollective-server._tcp.example.com",
        vec![
            (20, 100, 4224, "c.example.com."),
            (10, 1, 4223, "b.example.com."),
            (10, 60, 4222, "a.example.com."),
        ],
    )])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (_, settings) = settings(dir.path(), "example.com", &dns);
    assert_eq!(
        shown(&settings).await,
        [
            "nats://a.example.com:4222",
            "nats://b.example.com:4223",
            "nats://c.example.com:4224"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_without_records_is_one_clear_error() {
    let dns = DnsServer::start(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let (config, settings) = settings(dir.path(), "nothing.example", &dns);
    let err = within(60, "the SRV lookups", Connection::connect(&settings))
        .await
        .unwrap_err();
    let tried = [
        "_mcollective-server._tcp.nothing.example",
        "_x-puppet-mcollective._tcp.nothing.example",
    ];
    assert_eq!(
        err.kind(),
        &ErrorKind::SrvNotFound {
            config: config.clone(),
            tried: tried.map(str::to_owned).to_vec(),
        }
    );
    assert_eq!(
        lifecycle_core::ErrorChain(&err).to_string(),
        format!(
            "no NATS server found: no DNS SRV records for {} or {} (configuration file {} sets \
             no plugin.choria.middleware_hosts)",
            tried[0],
            tried[1],
            config.display()
        )
    );
    assert_eq!(dns.asked(), tried);
}
