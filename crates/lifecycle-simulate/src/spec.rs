//! What fleet to simulate.

use std::str::FromStr;
use std::time::Duration;

use lifecycle_core::check_subject_token;
use lifecycle_core::duration;

use crate::error::{ErrorKind, SpecError};
use crate::limits::{MAX_MEMBERS, MAX_NODES, MAX_RATE, MIN_RATE};

/// A version and its share of the fleet, as `0.29.4:70` (the share is a weight, not
/// necessarily a percentage; `0.29.4` alone weighs 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionShare {
    /// The version nodes report.
    pub version: String,
    /// Its weight among all shares.
    pub weight: u32,
}

impl FromStr for VersionShare {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (version, weight) = match s.rsplit_once(':') {
            Some((version, weight)) => {
                let weight = weight
                    .parse()
                    .map_err(|_| SpecError::from(ErrorKind::Weight(s.to_owned())))?;
                (version, weight)
            }
            None => (s, 1),
        };
        if version.is_empty() {
            return Err(ErrorKind::EmptyVersion(s.to_owned()).into());
        }
        Ok(VersionShare {
            version: version.to_owned(),
            weight,
        })
    }
}

/// A rolling upgrade: nodes move to `to`, `per_second` nodes a second, after the startup
/// storm.
#[derive(Debug, Clone, PartialEq)]
pub struct Upgrade {
    /// The version nodes upgrade to.
    pub to: String,
    /// Nodes upgraded per second.
    pub per_second: f64,
}

/// The simulated fleet: its size, what runs on it and what happens to it.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetSpec {
    /// Nodes in the fleet; every node runs every component.
    pub nodes: usize,
    /// Components each node runs, such as `server`.
    pub components: Vec<String>,
    /// Versions the fleet starts with, shared out by weight.
    pub versions: Vec<VersionShare>,
    /// Each node sends an alive this often, the fleet's alives spread evenly over it.
    pub alive_interval: Duration,
    /// A rolling upgrade, if any.
    pub upgrade: Option<Upgrade>,
    /// Restarts (a shutdown, then a startup [`RESTART_DOWNTIME`] later) per second.
    pub restart_rate: f64,
    /// Seed of the random choices (which node restarts), for repeatable runs.
    pub seed: u64,
}

/// How long a restarting node stays down.
pub const RESTART_DOWNTIME: Duration = Duration::from_secs(2);

/// Checks a rate a second given for `what`: a number from [`MIN_RATE`] to [`MAX_RATE`], or
/// 0 too when `zero_means_none`.
pub fn check_rate(what: &'static str, rate: f64, zero_means_none: bool) -> Result<f64, SpecError> {
    if (zero_means_none && rate == 0.0) || (MIN_RATE..=MAX_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(ErrorKind::Rate(what, rate).into())
    }
}

impl Default for FleetSpec {
    fn default() -> Self {
        FleetSpec {
            nodes: 1000,
            components: vec!["server".to_owned()],
            versions: vec![VersionShare {
                version: "0.29.4".to_owned(),
                weight: 1,
            }],
            alive_interval: Duration::from_secs(60),
            upgrade: None,
            restart_rate: 0.0,
            seed: 1,
        }
    }
}

impl FleetSpec {
    /// Checks that the fleet can be simulated.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.nodes == 0 || self.nodes > MAX_NODES {
            return Err(ErrorKind::Nodes(self.nodes).into());
        }
        if self.components.is_empty() {
            return Err(ErrorKind::NoComponents.into());
        }
        for component in &self.components {
            check_subject_token("component", component)
                .map_err(|e| SpecError::from(ErrorKind::Component(e)))?;
        }
        if self.nodes.saturating_mul(self.components.len()) > MAX_MEMBERS {
            return Err(SpecError::from(ErrorKind::TooManyMembers {
                nodes: self.nodes,
                components: self.components.len(),
            }));
        }
        if self.versions.is_empty() || self.versions.iter().all(|v| v.weight == 0) {
            return Err(ErrorKind::NoVersions.into());
        }
        if self.versions.len() > usize::from(u16::MAX) - 1 {
            return Err(ErrorKind::TooManyVersions(self.versions.len()).into());
        }
        if self.alive_interval.is_zero() || self.alive_interval > duration::MAX {
            return Err(ErrorKind::AliveInterval(self.alive_interval).into());
        }
        check_rate("restart rate", self.restart_rate, true)?;
        if let Some(upgrade) = &self.upgrade {
            if upgrade.to.is_empty() {
                return Err(ErrorKind::EmptyVersion(upgrade.to.clone()).into());
            }
            check_rate("upgrade rate", upgrade.per_second, false)?;
        }
        Ok(())
    }

    /// The identity of node `index` (from 0).
    pub fn identity(index: usize) -> String {
        format!("node{:06}.sim.example.net", index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_shares_parse() {
        let share: VersionShare = "0.29.4:70".parse().unwrap();
        assert_eq!((share.version.as_str(), share.weight), ("0.29.4", 70));
        let share: VersionShare = "1.0".parse().unwrap();
        assert_eq!(share.weight, 1);
        assert_eq!(
            "0.29.4:x".parse::<VersionShare>().unwrap_err().to_string(),
            "invalid version share '0.29.4:x': the weight after ':' must be a whole number"
        );
        assert!(":3".parse::<VersionShare>().is_err());
    }

    #[test]
    fn bad_specs_are_refused_with_what_is_wrong() {
        let upgrade = |per_second| {
            Some(Upgrade {
                to: "1".into(),
                per_second,
            })
        };
        let cases = [
            (
                FleetSpec {
                    nodes: 0,
                    ..Default::default()
                },
                "a fleet needs between 1 and 10000000 nodes, not 0",
            ),
            (
                FleetSpec {
                    components: vec!["a.b".into()],
                    ..Default::default()
                },
                "invalid component 'a.b': a NATS subject token cannot hold '.'",
            ),
            (
                FleetSpec {
                    components: vec!["server".into(), "a\tb".into()],
                    ..Default::default()
                },
                r"invalid component 'a\tb': a NATS subject token cannot hold white space ('\t')",
            ),
            (
                FleetSpec {
                    components: vec!["".into()],
                    ..Default::default()
                },
                "invalid component '': a NATS subject token cannot be empty",
            ),
            (
                FleetSpec {
                    nodes: MAX_NODES,
                    components: vec!["a".into(), "b".into(), "c".into()],
                    ..Default::default()
                },
                "10000000 nodes running 3 components each are more than the 20000000 \
                 components a simulated fleet can run",
            ),
            (
                FleetSpec {
                    versions: vec![],
                    ..Default::default()
                },
                "a fleet needs at least one version with a weight above 0",
            ),
            (
                FleetSpec {
                    alive_interval: Duration::ZERO,
                    ..Default::default()
                },
                "invalid alive interval 0ns: it must be above 0 and at most 100 years",
            ),
            (
                FleetSpec {
                    alive_interval: Duration::MAX,
                    ..Default::default()
                },
                "invalid alive interval 18446744073709551615.999999999s: it must be above 0 \
                 and at most 100 years",
            ),
            (
                FleetSpec {
                    restart_rate: f64::NAN,
                    ..Default::default()
                },
                "invalid restart rate NaN: it must be a number a second from 0.001 to 1000000",
            ),
            (
                FleetSpec {
                    restart_rate: 1e300,
                    ..Default::default()
                },
                "invalid restart rate 1e300: it must be a number a second from 0.001 to 1000000",
            ),
            (
                FleetSpec {
                    restart_rate: -1.0,
                    ..Default::default()
                },
                "invalid restart rate -1.0: it must be a number a second from 0.001 to 1000000",
            ),
            (
                FleetSpec {
                    upgrade: upgrade(0.0),
                    ..Default::default()
                },
                "invalid upgrade rate 0.0: it must be a number a second from 0.001 to 1000000",
            ),
            (
                FleetSpec {
                    upgrade: upgrade(f64::INFINITY),
                    ..Default::default()
                },
                "invalid upgrade rate inf: it must be a number a second from 0.001 to 1000000",
            ),
        ];
        for (spec, message) in cases {
            let err = spec.validate().expect_err(message);
            assert_eq!(err.to_string(), message);
        }
        FleetSpec::default().validate().unwrap();
        FleetSpec {
            restart_rate: 0.0,
            upgrade: upgrade(MAX_RATE),
            alive_interval: duration::MAX,
            ..Default::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn rates() {
        for (rate, zero_means_none, ok) in [
            (0.001, false, true),
            (1_000_000.0, false, true),
            (0.0, true, true),
            (0.0, false, false),
            (0.000_999, false, false),
            (1e-20, false, false),
            (1_000_000.1, false, false),
            (f64::NAN, true, false),
            (f64::INFINITY, true, false),
            (-0.5, true, false),
        ] {
            assert_eq!(
                check_rate("rate", rate, zero_means_none).is_ok(),
                ok,
                "{rate}"
            );
        }
    }
}
