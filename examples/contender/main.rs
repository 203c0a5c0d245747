//! One contender process: joins an election on a ZooKeeper ensemble, confirms every grant at once
//! and prints one line per event until it is told to stop.
//!
//! ```sh
//! cargo run --release --example contender -- --connect 127.0.0.1:2181 --address host-a:6123
//! ```
//!
//! Each line starts with the UTC wall-clock time and the milliseconds since start:
//!
//! ```text
//! 2024-05-01T09:30:00.123Z  +     41 ms  connected    zk_session=0x1000a3b2c4d0001
//! 2024-05-01T09:30:00.190Z  +    108 ms  granted      session=1f0e…
//! 2024-05-01T09:30:00.201Z  +    119 ms  published    session=1f0e…
//! ```
//!
//! It stops on Ctrl-C, SIGTERM or end of stdin: the supervisor deletes its latch and leader nodes,
//! the ZooKeeper session is closed, "stopped" is printed and the exit status is 0. Running it
//! in the background with stdin at `/dev/null` stops it at once; keep stdin open (a pipe).
//!
//! Also the process the benchmark measures for idle CPU and memory, so it only ever sleeps on
//! events: no polling, no timers of its own.

#[path = "../support/mod.rs"]
mod support;

mod clock;
mod contender;
mod shutdown;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use actix::prelude::*;
use clap::{error::ErrorKind, CommandFactory, Parser};
use zk_election::session::SubscribeConnection;
use zk_election::{
    ConfigError, ElectionConfig, ElectionSupervisor, LeaderInfoCodec, SessionConfig, StopElection, StopSession,
    Subscribe, ZkSession,
};

use clock::Clock;
use contender::{describe_state, Contender};
use shutdown::shutdown_requested;

/// The component name this process subscribes under (one contender per process).
const COMPONENT: &str = "contender";

/// Bound on the clean shutdown, so a dead ensemble cannot keep the process alive.
const STOP_DEADLINE: Duration = Duration::from_secs(15);

/// A leader-election contender over ZooKeeper that prints every event it sees.
///
/// Stops cleanly on Ctrl-C, SIGTERM or end of stdin (keep stdin open when running it in the
/// background).
#[derive(Debug, Parser)]
#[command(name = "contender")]
struct Args {
    /// ZooKeeper connect string, `host:port[,host:port…][/chroot]`.
    #[arg(long)]
    connect: String,
    /// Path of the leader latch shared by every contender of the election.
    #[arg(long, default_value = "/zk-election/demo/latch")]
    latch_path: String,
    /// Path of the ephemeral leader node the leader publishes its address in.
    #[arg(long, default_value = "/zk-election/demo/leader")]
    leader_path: String,
    /// The address this contender publishes while it leads, e.g. `10.0.0.7:6123`.
    #[arg(long)]
    address: String,
    /// ZooKeeper session timeout to ask for, in milliseconds.
    #[arg(long, default_value_t = 6000, value_parser = clap::value_parser!(u64).range(1..))]
    session_timeout_ms: u64,
    /// Leader information format: `bincode` or `java` (Flink's, for Java peers).
    #[arg(long, default_value = "bincode", value_name = "bincode|java")]
    codec: LeaderInfoCodec,
}

impl Args {
    /// Both configurations, validated before anything connects.
    fn configs(&self) -> Result<(SessionConfig, ElectionConfig), ConfigError> {
        let session = SessionConfig::builder(&self.connect)
            .session_timeout(Duration::from_millis(self.session_timeout_ms))
            .build()?;
        let election = ElectionConfig::builder(&self.latch_path).codec(self.codec).build()?;
        // The leader path follows the same rules; the supervisor would only say so later.
        ElectionConfig::builder(&self.leader_path).build().map_err(|err| match err {
            ConfigError::InvalidPath { path, problem, .. } => {
                ConfigError::InvalidPath { what: "leader path", path, problem }
            }
            other => other,
        })?;
        if self.address.is_empty() {
            return Err(ConfigError::EmptyAddress);
        }
        Ok((session, election))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (session_config, election_config) = match args.configs() {
        Ok(configs) => configs,
        // Same message format and exit status (2) as clap's own argument errors.
        Err(err) => Args::command().error(ErrorKind::ValueValidation, err).exit(),
    };
    support::init_logs();
    System::new().block_on(run(args, session_config, election_config))
}

async fn run(args: Args, session_config: SessionConfig, election_config: ElectionConfig) -> ExitCode {
    let clock = Clock { start: Instant::now() };
    clock.line(&format!(
        "starting     connect={} latch={} leader={} address={} codec={}",
        args.connect, args.latch_path, args.leader_path, args.address, args.codec
    ));
    let session = ZkSession::start(session_config);
    let supervisor = ElectionSupervisor::start(session.clone(), election_config);
    let contender = Contender { supervisor: supervisor.clone(), clock }.start();
    // Subscribed before the session can connect (it connects in the background), so the first
    // state is seen; the answer only matters if it already did.
    if let Ok(status) = session.send(SubscribeConnection(contender.clone().recipient())).await {
        if let Some(state) = status.state {
            clock.line(&describe_state(state, status.zk_session));
        }
    }
    let subscribe = Subscribe::new(COMPONENT, args.address, args.leader_path, contender.recipient());
    let exit = match supervisor.send(subscribe).await {
        Ok(Ok(())) => {
            let reason = shutdown_requested().await;
            clock.line(&format!("stopping     ({reason})"));
            ExitCode::SUCCESS
        }
        Ok(Err(err)) => {
            clock.line(&format!("error        subscribe refused: {err}"));
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::FAILURE,
    };
    match supervisor.send(StopElection).timeout(STOP_DEADLINE).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => clock.line(&format!("error        {err}")),
        Err(err) => clock.line(&format!("error        stop: {err}")),
    }
    let _ = session.send(StopSession).timeout(STOP_DEADLINE).await;
    clock.line("stopped");
    exit
}
