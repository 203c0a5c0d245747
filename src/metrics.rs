//! Counters that make an election observable, answered to [`GetElectionMetrics`].

use actix::prelude::*;

/// Counters of one election supervisor since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ElectionMetrics {
    /// Leadership grants sent to contenders.
    pub grants: u64,
    /// Revocations sent to contenders.
    pub revokes: u64,
    /// Confirms accepted.
    pub confirms: u64,
    /// Leader-node rewrites started because the node was not ours.
    pub rewrites: u64,
    /// Successful writes of leader information.
    pub publishes: u64,
    /// Hand-overs started to a chosen successor (a transfer, a preemption).
    pub handovers: u64,
    /// ZooKeeper requests issued by the supervisor and its latch.
    pub zk_requests: u64,
    /// Watches delivered to the latch.
    pub latch_watches_fired: u64,
    /// Whether the supervisor holds the latch right now.
    pub is_leader: bool,
}

/// Ask a supervisor for its [`ElectionMetrics`].
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "ElectionMetrics")]
pub struct GetElectionMetrics;
