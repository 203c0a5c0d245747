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
//! * [`CuratorContender`] — a real Apache Curator `LeaderLatch` participant (a JVM), for lines
//!   that mix Curator and zk-election.
//! * [`Operator`] — a ZooKeeper client for the test itself: read the tree, delete a latch
//!   node, write garbage into a leader node, with the requests of [`crate::zk`].
//!
//! # Secured servers
//!
//! Both builders can make a server secured the way production ones are, for testing a
//! client's TLS and SASL handling:
//!
//! * `.tls()` serves clients over TLS on a second port ([`ZkServer::secure_connect_string`])
//!   with certificates from a throw-away CA ([`TlsMaterial`]: PEM strings and files for the
//!   client), mutual TLS by default ([`ClientAuth`]); `.tls_expired_server_cert()` serves an
//!   expired certificate. [`TestCa`] issues more identities or serves as a "wrong" CA.
//! * `.sasl_user(user, password)` adds DIGEST-MD5 users, `.enforce_sasl()` refuses clients
//!   that did not authenticate.
//!
//! ```no_run
//! # fn main() -> Result<(), zk_election::testkit::TestkitError> {
//! use zk_election::testkit::ZkServer;
//! let server = ZkServer::builder().tls().sasl_user("app", "secret").enforce_sasl().start()?;
//! let tls = server.tls().expect("started with TLS");
//! let (ca, cert, key) = (tls.ca_pem(), tls.client_identity().cert_pem(), tls.client_identity().key_pem());
//! let connect_string = server.secure_connect_string().expect("started with TLS");
//! # let _ = (ca, cert, key, connect_string); Ok(()) }
//! ```
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
mod curator;
mod ensemble;
mod error;
mod four_letter;
mod launcher;
pub mod locate;
mod operator;
mod options;
mod ports;
mod process;
mod proxy;
mod recording;
mod sasl;
mod server;
mod tls;

pub use certs::{TestCa, TestIdentity, Validity};
pub use curator::CuratorContender;
pub use ensemble::{ZkEnsemble, ZkEnsembleBuilder};
pub use error::TestkitError;
pub use four_letter::{four_letter_word, ServerMode};
pub use locate::{java_executable, zookeeper_classpath};
pub use operator::{Operator, Watched};
pub use proxy::{FaultProxy, ProxyMode};
pub use recording::RecordingContender;
pub use server::{ZkServer, ZkServerBuilder};
pub use tls::{ClientAuth, TlsMaterial};
