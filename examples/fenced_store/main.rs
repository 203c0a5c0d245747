//! Fencing tokens: a leader that was frozen past its session timeout wakes up, still believes it
//! leads, and sends a write with its old token; the store refuses it because it has already
//! seen the successor's larger token.
//!
//! ```sh
//! cargo run --features testkit --example fenced_store
//! ```
//!
//! How fencing works: every leadership comes with a fencing token, the czxid of the leader's
//! latch node, which strictly increases from one leader to the next. A leader passes its token
//! with every write, and the store refuses any token lower than the highest it has seen, so a
//! deposed leader's late writes are refused however late it learns that it was deposed.
//!
//! The script: an embedded ZooKeeper ([`ZkServer`]), a store actor, and two contenders A and B,
//! each with its own session (2 s session timeout), supervisor and arbiter (as if each were a
//! process of its own); A reaches ZooKeeper through a [`FaultProxy`].
//!
//! 1. A is granted, writes to the store with its token X; B joins and queues behind A.
//! 2. A's connection is blackholed and A is frozen for 3 s with a write in hand, not yet sent
//!    (a GC pause, a stalled VM): its session expires and B is granted, with token Y > X, and
//!    writes.
//! 3. A wakes and sends its write, before it processes anything else: the store rejects it.
//!
//! Exits 0 when the late write was rejected, 1 with a message otherwise. Set `RUST_LOG` (e.g.
//! `RUST_LOG=zk_election=debug`) to see the library's logs on stderr.

#[path = "../support/mod.rs"]
mod support;

mod report;
mod script;
mod store;
mod timeline;
mod writer;

use std::process::ExitCode;
use std::time::Instant;

use actix::prelude::*;
use tokio::sync::mpsc;
use zk_election::testkit::{FaultProxy, ZkServer};

use script::Script;
use store::Store;
use timeline::Timeline;

fn main() -> ExitCode {
    support::init_logs();
    let timeline = Timeline { t0: Instant::now() };
    // Declared before the proxy, so it is dropped (and its JVM killed) after it.
    let server = match ZkServer::start() {
        Ok(server) => server,
        Err(err) => return fail(&format!("cannot start an embedded ZooKeeper: {err}")),
    };
    let proxy = match FaultProxy::for_connect_string(&server.connect_string()) {
        Ok(proxy) => proxy,
        Err(err) => return fail(&format!("cannot start a fault proxy: {err}")),
    };
    timeline.log("script", format!("ZooKeeper on {}; A reaches it through a fault proxy", server.connect_string()));
    match System::new().block_on(run(timeline, &server.connect_string(), &proxy)) {
        Ok(verdict) => {
            println!("{verdict}");
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

fn fail(message: &str) -> ExitCode {
    println!("FAILED: {message}");
    ExitCode::FAILURE
}

/// Plays the scenario, then shuts everything down whatever happened.
async fn run(timeline: Timeline, connect: &str, proxy: &FaultProxy) -> Result<String, String> {
    let (report, reports) = mpsc::unbounded_channel();
    let store = Store::new(timeline, report.clone()).start();
    let mut script = Script::new(timeline, reports);
    let outcome = script.play(connect, proxy, &store, &report).await;
    // Heal first, so that A's session can close instead of waiting out its request timeout.
    proxy.pass();
    script.shut_down().await;
    outcome
}
