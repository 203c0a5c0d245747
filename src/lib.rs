//! Leader election over Apache ZooKeeper, as actix actors.
//!
//! A Rust port of Apache Flink's `ZooKeeperLeaderElectionService`: contenders join a
//! Curator-compatible leader latch; the winner is granted leadership with a fresh leader session
//! UUID, confirms it, and the service publishes the contender's address and that UUID in an
//! ephemeral leader znode, rewriting it whenever it is deleted, emptied or overwritten.

pub mod codec;
pub mod config;
pub mod error;
mod path;
pub mod session;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use config::{Backoff, SessionConfig, SessionConfigBuilder};
pub use error::{ConfigError, PathProblem, ZkError};
pub use session::{ConnectionState, ConnectionStateChanged, SessionStatus, ZkSession};
