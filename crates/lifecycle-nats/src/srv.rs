//! Brokers found by DNS SRV records, as Choria finds them when its configuration names no
//! middleware hosts but a domain.

use std::net::SocketAddr;
use std::path::Path;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, TokioResolver};
use tracing::debug;

use crate::error::{Error, ErrorKind};
use crate::server_url::ServerUrl;

/// The services whose SRV records name Choria's brokers, asked in this order under the
/// domain; the first that has records wins (Choria's `MiddlewareServers`).
pub const SRV_SERVICES: [&str; 2] = ["_mcollective-server._tcp", "_x-puppet-mcollective._tcp"];

/// One SRV record, as much of it as choosing a broker needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SrvRecord {
    pub(crate) priority: u16,
    pub(crate) weight: u16,
    pub(crate) port: u16,
    pub(crate) target: String,
}

/// The brokers that the SRV records under `domain` name, asking `dns_server` (UDP) or the
/// system's resolvers. `config` names the file that gave the domain, for the error when no
/// record is found.
pub(crate) async fn lookup(
    config: &Path,
    domain: &str,
    dns_server: Option<SocketAddr>,
) -> Result<Vec<ServerUrl>, Error> {
    let resolver = match dns_server {
        Some(address) => {
            let mut resolvers = ResolverConfig::new();
            resolvers.add_name_server(NameServerConfig::new(address, Protocol::Udp));
            TokioResolver::builder_with_config(resolvers, TokioConnectionProvider::default())
                .build()
        }
        None => TokioResolver::builder_tokio()
            .map_err(|e| Error::with_source(ErrorKind::DnsConfig, e))?
            .build(),
    };
    let mut tried = Vec::new();
    let mut failure: Option<ResolveError> = None;
    for service in SRV_SERVICES {
        let name = format!("{service}.{domain}");
        // Fully qualified: the name is whole, no search domain is appended.
        let answer = resolver.srv_lookup(format!("{name}.")).await;
        let records: Vec<SrvRecord> = match answer {
            Ok(lookup) => lookup
                .iter()
                .map(|srv| SrvRecord {
                    priority: srv.priority(),
                    weight: srv.weight(),
                    port: srv.port(),
                    target: srv.target().to_ascii(),
                })
                .collect(),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Vec::new(),
            Err(e) => {
                debug!(%name, error = %e, "SRV lookup failed");
                failure = Some(e);
                tried.push(name);
                continue;
            }
        };
        let servers = servers(records)?;
        if !servers.is_empty() {
            debug!(%name, ?servers, "NATS servers from SRV records");
            return Ok(servers);
        }
        tried.push(name);
    }
    let kind = ErrorKind::SrvNotFound {
        config: config.to_owned(),
        tried,
    };
    // A lookup that failed (no answer, a refusal) says why; "no records" says it all.
    Err(match failure {
        Some(e) => Error::with_source(kind, e),
        None => Error::new(kind),
    })
}

/// The brokers `records` name, as `nats://target:port`: by priority, lowest first, then by
/// weight, highest first; a target of `.` ("no such service here", RFC 2782) left out.
pub(crate) fn servers(mut records: Vec<SrvRecord>) -> Result<Vec<ServerUrl>, Error> {
    records.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then(b.weight.cmp(&a.weight))
            .then_with(|| a.target.cmp(&b.target))
    });
    records
        .iter()
        .filter_map(|r| {
            let host = r.target.trim_end_matches('.');
            (!host.is_empty()).then(|| ServerUrl::parse(&format!("nats://{host}:{}", r.port)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(priority: u16, weight: u16, target: &str, port: u16) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: target.to_owned(),
        }
    }

    #[test]
    fn records_are_ordered_by_priority_then_weight() {
        let cases: Vec<(Vec<SrvRecord>, Vec<&str>)> = vec![
            (vec![], vec![]),
            (
                vec![record(10, 0, "b.example.net.", 4222)],
                vec!["nats://b.example.net:4222"],
            ),
            (
                vec![
                    record(20, 100, "c.example.net.", 4223),
                    record(10, 5, "b.example.net.", 4222),
                    record(10, 50, "a.example.net.", 4222),
                ],
                vec![
                    "nats://a.example.net:4222",
                    "nats://b.example.net:4222",
                    "nats://c.example.net:4223",
                ],
            ),
            // "." means the service is not offered at this domain.
            (vec![record(0, 0, ".", 0)], vec![]),
            (
                vec![record(0, 0, ".", 0), record(1, 0, "x.example.net", 1)],
                vec!["nats://x.example.net:1"],
            ),
        ];
        for (records, expected) in cases {
            let shown: Vec<String> = servers(records.clone())
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(shown, expected, "{records:?}");
        }
    }

    #[test]
    fn a_target_that_is_no_host_is_refused() {
        let err = servers(vec![record(0, 0, "a b.", 4222)]).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidServer);
    }
}
