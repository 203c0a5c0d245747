//! Real ZooKeeper servers and network faults for tests (cargo feature `testkit`).
//!
//! What Curator's `TestingServer` and `TestingCluster` are to Java users:
//!
//! * [`ZkServer`] — one standalone server as a child JVM on a free 127.0.0.1 port with a
//!   temporary data dir; stop, kill, restart (same port, same data), pause and resume it.
//! * [`ZkEnsemble`] — a quorum of such servers (3 by default) with per-member controls.
//! * [`FaultProxy`] — a TCP proxy in front of either, to pass traffic, blackhole it (a network
//!   partition) or cut every connection.
//! * [`RecordingContender`] — a contender that confirms every grant at once and records each
//!   leadership event, with when it arrived, into a channel or a callback.
//!
//! ZooKeeper itself is found by [`zookeeper_classpath`] (Debian's `apt-get install zookeeper`,
//! `ZOOKEEPER_HOME`, or `ZK_ELECTION_CLASSPATH`) and Java by [`java_executable`].
//!
//! # No leftover JVMs
//!
//! Servers are killed and reaped when dropped, which also happens while a failing test unwinds.
//! For the cases where nothing unwinds (the test binary aborts or is killed), every JVM is
//! forked by one process-lifetime launcher thread with `PR_SET_PDEATHSIG = SIGKILL`, so the
//! kernel kills it when the test process ends. Each JVM carries `-Dzk_election.testkit=1` on its
//! command line: `pgrep -f zk_election.testkit` lists any that survived (none should).
//!
//! # Blocking
//!
//! Starting and controlling servers blocks the calling thread (a JVM takes about a second to
//! start). From async tests, call them directly in a current-thread test (nothing else runs
//! meanwhile) or move an `Arc<ZkServer>` into `tokio::task::spawn_blocking`. The proxy runs on
//! its own thread and runtime and does not need the caller's.

mod certs;
mod ensemble;
mod error;
mod four_letter;
mod launcher;
pub mod locate;
mod options;
mod ports;
mod process;
mod proxy;
mod recording;
mod server;

pub use certs::{TestCa, TestIdentity, Validity};
pub use ensemble::{ZkEnsemble, ZkEnsembleBuilder};
pub use error::TestkitError;
pub use four_letter::{four_letter_word, ServerMode};
pub use locate::{java_executable, zookeeper_classpath};
pub use proxy::{FaultProxy, ProxyMode};
pub use recording::RecordingContender;
pub use server::{ZkServer, ZkServerBuilder};
