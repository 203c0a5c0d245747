//! What the latch says to its owner and takes from it.

use actix::prelude::*;

use crate::zk::{WriteOp, ZkError};

/// What the latch tells its owner.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub enum LatchEvent {
    /// We hold the latch; `node` is our latch node (the guard of every leader write).
    IsLeader {
        /// Full path of our latch node.
        node: String,
        /// The zxid that created it (ensemble-wide increasing).
        czxid: i64,
    },
    /// We do not hold the latch (any more).
    NotLeader,
    /// Joining or checking the latch failed for a reason other than the connection; the latch
    /// retries by itself.
    Failed(ZkError),
}

/// Leave the latch: stop reacting to anything and stop at once. Answers every node of ours the
/// caller must now delete ([`Leftovers`]): the supervisor deletes our node in line in one
/// multi-op together with its leader nodes (leaving costs one request), and finishes the rest
/// after the next reconnect if the connection is down now.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "Leftovers")]
pub struct StopLatch;

/// What a stopped latch leaves to its owner to delete.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Our node in line, if we stood in line.
    pub node: Option<String>,
    /// Nodes of ours a reset or resign left behind whose delete is not confirmed yet.
    pub stale: Vec<String>,
    /// Name prefixes (`{latch_path}/_c_{uuid}-latch-`) of creates whose outcome is unknown: a
    /// node of ours by that name may exist. (Requests of one session are served in order, so a
    /// listing sent after them sees the node if the create landed.)
    pub unsure: Vec<String>,
    /// The leave record to write with our node's delete, if we held the latch.
    pub record: Option<WriteOp>,
}

/// Give up leadership (or a place in line): delete our node and create a new one at the back.
/// The writes in `with` (e.g. deleting the leader's own leader nodes) go in the same multi-op,
/// guarded by our node; if that fails, our node is deleted alone.
#[derive(Debug, Default, Message)]
#[rtype(result = "()")]
pub struct Requeue {
    /// Writes to apply atomically with deleting our node.
    pub with: Vec<WriteOp>,
}

/// Leave the line and stay out of it until [`Rejoin`] (an unhealthy contender). Like
/// [`Requeue`], the writes in `with` go in the multi-op that deletes our node.
#[derive(Debug, Default, Message)]
#[rtype(result = "()")]
pub struct SitOut {
    /// Writes to apply atomically with deleting our node.
    pub with: Vec<WriteOp>,
}

/// Queue again after [`SitOut`] (once a cooldown, if one runs, is over).
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct Rejoin;

/// Counters that make the latch's behaviour observable (watch herds, resets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatchMetrics {
    /// Watches delivered to this participant.
    pub watches_fired: u64,
    /// Times the participant (re)created its node.
    pub nodes_created: u64,
    /// ZooKeeper requests issued.
    pub requests: u64,
    /// Our current node, if any.
    pub node: Option<String>,
    /// Whether we lead.
    pub is_leader: bool,
}

/// Ask the latch for its [`LatchMetrics`].
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "LatchMetrics")]
pub struct GetLatchMetrics;
