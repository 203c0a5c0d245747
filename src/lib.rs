//! Leader election over Apache ZooKeeper, as [actix](https://actix.rs) actors.
//!
//! A Rust port of Apache Flink's `ZooKeeperLeaderElectionService`. Contenders join a leader
//! latch that is node-for-node compatible with Apache Curator's `LeaderLatch`. The winner is
//! **granted** leadership with a fresh leader session UUID and a **fencing token** (strictly
//! increasing from leader to leader), **confirms** it, and the service publishes the contender's
//! address, leader session and token in an ephemeral **leader node**, rewriting it whenever it is
//! deleted, emptied or overwritten. Every write of that node is guarded by the latch node, so a
//! deposed leader never overwrites its successor's. Losing the latch **revokes** leadership, and
//! so does the end of the session lease, also in a process that was paused.
//!
//! # Installation
//!
//! ```toml
//! [dependencies]
//! zk-election = { version = "0.2", default-features = false }
//! actix = "0.13"
//! actix-rt = "2"
//! ```
//!
//! `default-features = false` leaves out the `zk-elect` command line and its dependencies;
//! `cargo install zk-election` installs that command.
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `cli` | yes | the `zk-elect` binary (`campaign`, `observe`, `run -- CMD`) and its dependencies: clap, serde_json, tracing-subscriber, libc, tokio's `process` and `signal`; turns on `tls`, `sasl` and `metrics` |
//! | `tls` | with `cli` | ZooKeeper over TLS, server-verified or mutual, with certificate reload ([`secure::TlsConfig`]); rustls with aws-lc-rs |
//! | `sasl` | with `cli` | SASL DIGEST-MD5 logins ([`SessionConfigBuilder::sasl_digest`](config::SessionConfigBuilder::sasl_digest)) and `sasl:<user>` ACLs |
//! | `metrics` | with `cli` | counters, gauges and histograms through the `metrics` facade ([`telemetry`]) |
//! | `testkit` | no | the `testkit` module: real ZooKeeper servers and 3-node ensembles as child JVMs on 127.0.0.1 (kill, restart, pause), a TCP fault proxy (partition, cut) and a recording contender, for your own tests; needs Java and ZooKeeper installed |
//!
//! Without features the library needs no more of tokio than its timers (`time`).
//!
//! # Quick start
//!
//! One [`ZkSession`] per process, one [`ElectionSupervisor`] per latch path, and any actor that
//! handles [`LeadershipEvent`] as a contender:
//!
//! ```rust,no_run
//! use actix::prelude::*;
//! use zk_election::{
//!     Confirm, ElectionConfig, ElectionSupervisor, LeadershipEvent, SessionConfig, StopElection, Subscribe, ZkSession,
//! };
//!
//! struct JobManager {
//!     election: Addr<ElectionSupervisor>,
//! }
//!
//! impl Actor for JobManager {
//!     type Context = Context<Self>;
//! }
//!
//! impl Handler<LeadershipEvent> for JobManager {
//!     type Result = ();
//!
//!     fn handle(&mut self, event: LeadershipEvent, _ctx: &mut Context<Self>) {
//!         match event {
//!             // Lead from here on, tagging writes with `fencing_token`; then confirm, and the
//!             // service publishes our address, leader session and token.
//!             LeadershipEvent::Granted { component, leader_session, fencing_token: _ } => {
//!                 self.election.do_send(Confirm { component, leader_session })
//!             }
//!             LeadershipEvent::Revoked { .. } => { /* stop acting as leader */ }
//!             // Published, Error, and events later versions may add.
//!             _ => {}
//!         }
//!     }
//! }
//!
//! #[actix::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Shared by every election of the process; it runs on its own arbiter.
//!     let session = ZkSession::start(SessionConfig::builder("zk1:2181,zk2:2181,zk3:2181").build()?);
//!     let election = ElectionSupervisor::start(session, ElectionConfig::builder("/my-app/leader-latch").build()?);
//!     let contender = JobManager { election: election.clone() }.start();
//!     election
//!         .send(Subscribe::new("jobmanager", "10.0.0.7:6123", "/my-app/leader/jobmanager", contender.recipient()))
//!         .await??;
//!     actix_rt::signal::ctrl_c().await?;
//!     election.send(StopElection).await??; // deletes our latch node and leader node
//!     Ok(())
//! }
//! ```
//!
//! The [`contender`] module lists the rest of the vocabulary: [`HasLeadership`] and
//! [`ProveLeadership`] to check leadership before acting, [`GetFencingToken`], [`LeaderWrite`]
//! for the leader's own ZooKeeper writes, [`Resign`]. [`ElectionConfig`] chooses the
//! [`ConnectionLossPolicy`], the [`LeaderInfoCodec`] (bincode, or Flink's Java format for mixed
//! Java/Rust deployments), ACLs and the publish patience.
//!
//! # The actors
//!
//! - [`ZkSession`] owns the ZooKeeper client on its own arbiter, reports Curator's connection
//!   states (`Connected`, `Suspended`, `Reconnected`, `Lost`), rebuilds the client after a loss
//!   and keeps the session lease that every election checks first.
//! - [`ElectionSupervisor`] runs the election state machine for its contenders: grants,
//!   confirms, guarded publishing, revokes, resign and stop.
//! - [`LeaderLatch`](latch::LeaderLatch) is the Curator-compatible latch of one participant;
//!   the supervisor starts it.
//! - [`LeaderNodeCache`](node_cache::LeaderNodeCache) watches one leader node (Curator's
//!   `NodeCache`); the supervisor and the retriever start theirs.
//! - [`LeaderRetriever`] tells any process who leads ([`LeaderChanged`]), over a cache of its
//!   own.
//!
//! # Further reading
//!
//! In the package's source (and the repository): `README.md` for the connection-loss policies
//! and their measured trade-off, fencing, the `zk-elect` command line, ACLs, logs and
//! performance; `ARCHITECTURE.md` for the actors' messages, a grant and a failover step by step
//! and the invariants; `CHANGELOG.md`; `CONTRIBUTING.md` for running the tests and benchmarks.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_debug_implementations)]

// The README's examples are compiled as doc tests without being part of the crate's docs.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod backoff;
pub mod candidates;
pub mod codec;
pub mod config;
pub mod contender;
pub mod error;
pub mod handle;
pub mod latch;
mod line_watch;
pub mod metrics;
pub mod node_cache;
mod path;
pub mod policy;
pub mod port;
mod random;
pub mod retrieval;
pub mod secure;
pub mod session;
#[cfg(feature = "simulation")]
#[cfg_attr(docsrs, doc(cfg(feature = "simulation")))]
pub mod simulation;
pub mod supervisor;
pub mod telemetry;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
mod trace;
pub mod zk;

pub use candidates::{candidates, Candidate};
pub use codec::{LeaderInfo, LeaderInfoCodec};
pub use config::{Backoff, ElectionConfig, SessionConfig};
pub use contender::{
    Confirm, ElectionError, GetFencingToken, HasLeadership, LeaderWrite, LeadershipClaim, LeadershipEvent,
    ProveLeadership, ReportHealth, Resign, StopElection, Subscribe, Successor, Transfer,
};
pub use error::{ConfigError, PathProblem};
pub use handle::{ConfirmMode, ElectionHandle, Leadership, RetrievalHandle};
pub use metrics::{ElectionMetrics, GetElectionMetrics};
pub use policy::ConnectionLossPolicy;
pub use port::{ConnectionStateChanged, SessionStatus, ZooKeeper};
pub use retrieval::{
    Freshness, GetHistory, GetLeader, GetObservation, LeaderChanged, LeaderRetriever, LeaderState, Observation,
    StopRetriever, SubscribeLeader, SubscribeObservations, SubscribeTerms, Term, TermEnd,
};
pub use session::{StopSession, ZkSession};
pub use supervisor::ElectionSupervisor;
pub use zk::{ConnectionState, ZkError};
