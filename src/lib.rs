//! Leader election over Apache ZooKeeper, as actix actors.
//!
//! A Rust port of Apache Flink's `ZooKeeperLeaderElectionService`: contenders join a
//! Curator-compatible leader latch; the winner is granted leadership with a fresh leader session
//! UUID, confirms it, and the service publishes the contender's address and that UUID in an
//! ephemeral leader znode, rewriting it whenever it is deleted, emptied or overwritten.
//!
//! Four actors, each in its own module:
//! - [`session::ZkSession`] owns the ZooKeeper client and reports connection states;
//! - [`latch::LeaderLatch`] is a Curator-compatible leader latch;
//! - [`node_cache::LeaderNodeCache`] watches one leader node;
//! - [`supervisor::ElectionSupervisor`] runs the election state machine for its contenders.
//!
//! Beside the election, [`retrieval::LeaderRetriever`] tells any process who leads (Flink's
//! leader retrieval service), over its own leader-node cache.
//!
//! The README follows; its example compiles as a doctest.
#![doc = include_str!("../README.md")]
#![warn(missing_debug_implementations)]

mod ask;
pub mod codec;
pub mod config;
pub mod contender;
pub mod error;
pub mod latch;
pub mod metrics;
pub mod node_cache;
mod path;
pub mod policy;
pub mod retrieval;
pub mod session;
pub mod supervisor;
#[cfg(feature = "testkit")]
pub mod testkit;
mod trace;

pub use codec::{LeaderInfo, LeaderInfoCodec};
pub use config::{Backoff, ElectionConfig, SessionConfig};
pub use contender::{
    Confirm, ElectionError, GetFencingToken, HasLeadership, LeaderWrite, LeadershipClaim, LeadershipEvent,
    ProveLeadership, Resign, Stop, Subscribe,
};
pub use error::{ConfigError, PathProblem, ZkError};
pub use metrics::{ElectionMetrics, GetMetrics};
pub use policy::ConnectionLossPolicy;
pub use retrieval::{GetLeader, LeaderChanged, LeaderRetriever, SubscribeLeader};
pub use session::{ConnectionState, ConnectionStateChanged, SessionStatus, StopSession, ZkSession};
pub use supervisor::ElectionSupervisor;
