//! What the examples share: logs on stderr when `RUST_LOG` is set, an embedded ZooKeeper, and
//! the `done` / `FAILED` ending with the exit status to match.
#![allow(dead_code)] // each example uses what it needs

use std::process::ExitCode;
use std::time::{Duration, Instant};

use actix::Addr;
use zk_election::session::GetChildren;
use zk_election::testkit::ZkServer;
use zk_election::ZkSession;

/// Logs to stderr when `RUST_LOG` is set (`RUST_LOG=zk_election=debug` shows the library's
/// own timeline).
pub fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
}

/// Starts a standalone ZooKeeper on loopback and says where; on failure, says why and answers
/// the exit status to end with.
pub fn start_zookeeper() -> Result<ZkServer, ExitCode> {
    match ZkServer::start() {
        Ok(server) => {
            println!("ZooKeeper: embedded server on {}", server.connect_string());
            Ok(server)
        }
        Err(err) => {
            eprintln!("error: cannot start an embedded ZooKeeper: {err}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Prints `done`, or `FAILED: why`, and answers the matching exit status.
pub fn finish(outcome: Result<(), String>) -> ExitCode {
    match outcome {
        Ok(()) => {
            println!("done");
            ExitCode::SUCCESS
        }
        Err(err) => {
            println!("FAILED: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Waits, at most `deadline`, until the latch at `latch` holds `count` participants.
pub async fn wait_for_participants(
    session: &Addr<ZkSession>,
    latch: &str,
    count: usize,
    deadline: Duration,
) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < deadline {
        let children = session.send(GetChildren { path: latch.into(), watch: None }).await;
        if matches!(children, Ok(Ok(ref names)) if names.len() == count) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("the latch did not hold {count} participants within {deadline:?}"))
}
