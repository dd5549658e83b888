//! What fleet to simulate.

use std::str::FromStr;
use std::time::Duration;

use crate::error::SpecError;

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
                    .map_err(|_| SpecError::Weight(s.to_owned()))?;
                (version, weight)
            }
            None => (s, 1),
        };
        if version.is_empty() {
            return Err(SpecError::EmptyVersion(s.to_owned()));
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

/// More nodes than this are refused: a million nodes per component is far past any real
/// Choria fleet, and the simulator keeps a few bytes per node.
pub const MAX_NODES: usize = 10_000_000;

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
            return Err(SpecError::Nodes(self.nodes));
        }
        if self.components.is_empty() {
            return Err(SpecError::NoComponents);
        }
        if let Some(bad) = self
            .components
            .iter()
            .find(|c| c.is_empty() || c.contains(['.', '*', '>', ' ']))
        {
            return Err(SpecError::Component(bad.clone()));
        }
        if self.versions.is_empty() || self.versions.iter().all(|v| v.weight == 0) {
            return Err(SpecError::NoVersions);
        }
        if self.versions.len() > usize::from(u16::MAX) - 1 {
            return Err(SpecError::TooManyVersions(self.versions.len()));
        }
        if self.alive_interval.is_zero() {
            return Err(SpecError::Rate("alive interval", 0.0));
        }
        if !(self.restart_rate.is_finite() && self.restart_rate >= 0.0) {
            return Err(SpecError::Rate("restart rate", self.restart_rate));
        }
        if let Some(upgrade) = &self.upgrade {
            if upgrade.to.is_empty() {
                return Err(SpecError::EmptyVersion(upgrade.to.clone()));
            }
            if !(upgrade.per_second.is_finite() && upgrade.per_second > 0.0) {
                return Err(SpecError::Rate("upgrade rate", upgrade.per_second));
            }
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
    fn bad_specs_are_refused() {
        let bad = [
            FleetSpec {
                nodes: 0,
                ..Default::default()
            },
            FleetSpec {
                components: vec!["a.b".into()],
                ..Default::default()
            },
            FleetSpec {
                versions: vec![],
                ..Default::default()
            },
            FleetSpec {
                restart_rate: f64::NAN,
                ..Default::default()
            },
            FleetSpec {
                upgrade: Some(Upgrade {
                    to: "1".into(),
                    per_second: 0.0,
                }),
                ..Default::default()
            },
        ];
        for spec in bad {
            assert!(spec.validate().is_err(), "{spec:?}");
        }
        FleetSpec::default().validate().unwrap();
    }
}
