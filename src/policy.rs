//! What leadership survives when the ZooKeeper connection drops.

/// How a leader reacts to connection trouble. See the README for the trade-off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ConnectionLossPolicy {
    /// Like Curator's `LeaderLatch` and Flink's original service: revoke on `Suspended`, rejoin
    /// on `Reconnected`. Never two confirmed leaders, at the price of a failover per blip.
    #[default]
    Standard,
    /// Keep leadership through `Suspended`; revoke on `Lost`. On `Reconnected` with the same
    /// session keep it with the same leader session ID; with a new session start over. Rides out
    /// short blips, but a partitioned leader keeps believing it leads until its session times
    /// out on the client side (which this crate declares no later than the server expires it).
    SessionTolerant,
}

impl std::str::FromStr for ConnectionLossPolicy {
    type Err = crate::error::ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "standard" => Ok(ConnectionLossPolicy::Standard),
            "session-tolerant" => Ok(ConnectionLossPolicy::SessionTolerant),
            other => Err(crate::error::ConfigError::UnknownPolicy(other.to_owned())),
        }
    }
}
