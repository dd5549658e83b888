//! How much the simulator takes: nodes, components across the fleet, rates.

/// More nodes than this are refused: a million nodes per component is far past any real
/// Choria fleet, and the simulator keeps a few bytes per node.
pub const MAX_NODES: usize = 10_000_000;

/// More components running across the fleet (nodes × components) than this are refused:
/// the simulator keeps 4 bytes for each, and starts each one in the startup storm.
pub const MAX_MEMBERS: usize = 20_000_000;

/// The slowest rate accepted (events, restarts or upgrades a second): one in about 17
/// minutes. Slower is no simulation of a fleet, and a rate near 0 makes the time of its next
/// event overflow any clock.
pub const MIN_RATE: f64 = 0.001;

/// The fastest rate accepted (events, restarts or upgrades a second). The simulator catches
/// up on due restarts one by one, so a rate it could never catch up with would stall it;
/// a million a second is far past what a sink takes.
pub const MAX_RATE: f64 = 1_000_000.0;
