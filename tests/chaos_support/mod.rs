//! The randomized fault suite's machinery: contenders that record what they are told, a
//! seeded fault schedule over a 3-node ensemble and per-contender proxies, and the checker that
//! turns the record into verdicts (safety, liveness, nobody stuck) and figures.
//!
//! All contenders live in this one test process, each with its own ZooKeeper session behind
//! its own [`FaultProxy`](zk_election::testkit::FaultProxy). Their actors run on the test's
//! arbiter, so every record is taken on one thread with one monotonic clock and the record is in
//! time order.
//!
//! - [`record`]: what happened, as contenders and the schedule note it;
//! - [`cluster`]: the ensemble, the contenders and their proxies, and waits for a settled state;
//! - [`schedule`]: the seeded fault mix and the plans it runs;
//! - [`checker`]: leaderships, overlaps, gaps and the figures printed for a run.
#![allow(dead_code)] // chaos.rs and chaos_pause.rs use different parts

mod checker;
mod cluster;
mod record;
mod schedule;

pub use checker::*;
pub use cluster::*;
pub use record::*;
pub use schedule::*;

pub const LATCH: &str = "/chaos/latch";
pub const LEADER: &str = "/chaos/leader";
pub const COMPONENT: &str = "jobmanager";

pub use crate::common::blocking;

/// Prints past the test harness's output capture, so the figures show in every CI log.
pub fn report(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}
