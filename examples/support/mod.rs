//! What the examples share: logs on stderr when `RUST_LOG` is set, an embedded ZooKeeper, a
//! session and a subscription, and the `done` / `FAILED` ending with the exit status to match.
#![allow(dead_code)] // each example uses what it needs

use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use actix::{Addr, System};
use zk_election::testkit::{Operator, ZkServer};
use zk_election::zk::GetChildren;
use zk_election::{ConfigError, ElectionSupervisor, SessionConfig, Subscribe, ZkSession};

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

/// The whole `main` of an example that needs nothing but an embedded ZooKeeper: the logs, the
/// server, `run` on an actix system with the server's connect string, and the ending.
pub fn run_on_embedded_zookeeper<F>(run: impl FnOnce(String) -> F) -> ExitCode
where
    F: Future<Output = Result<(), String>>,
{
    init_logs();
    // Kept until `run` is over: dropping it stops the server.
    let server = match start_zookeeper() {
        Ok(server) => server,
        Err(code) => return code,
    };
    finish(System::new().block_on(run(server.connect_string())))
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
    let operator = Operator::start(session);
    while started.elapsed() < deadline {
        let children = operator.send(GetChildren::new(latch)).await;
        if matches!(children, Ok(Ok(ref names)) if names.len() == count) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("the latch did not hold {count} participants within {deadline:?}"))
}

/// Starts a session to `connect` with these timeouts; an error when the connect string is invalid.
pub fn start_session(
    connect: &str,
    session_timeout: Duration,
    request_timeout: Duration,
) -> Result<Addr<ZkSession>, ConfigError> {
    let config =
        SessionConfig::builder(connect).session_timeout(session_timeout).request_timeout(request_timeout).build()?;
    Ok(ZkSession::start(config))
}

/// Subscribes a contender to its supervisor; an error naming `who` when that is refused or the
/// supervisor is gone.
pub async fn subscribe(supervisor: &Addr<ElectionSupervisor>, subscribe: Subscribe, who: &str) -> Result<(), String> {
    match supervisor.send(subscribe).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(format!("{who} could not subscribe: {err}")),
        Err(err) => Err(format!("{who} could not subscribe: {err}")),
    }
}
