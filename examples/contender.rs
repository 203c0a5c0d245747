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

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use clap::{error::ErrorKind, CommandFactory, Parser};
use zk_election::session::SubscribeConnection;
use zk_election::{
    ConfigError, Confirm, ConnectionState, ConnectionStateChanged, ElectionConfig, ElectionSupervisor, LeaderInfoCodec,
    LeadershipEvent, SessionConfig, Stop, StopSession, Subscribe, ZkSession,
};

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
    match supervisor.send(Stop).timeout(STOP_DEADLINE).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => clock.line(&format!("error        {err}")),
        Err(err) => clock.line(&format!("error        stop: {err}")),
    }
    let _ = session.send(StopSession).timeout(STOP_DEADLINE).await;
    clock.line("stopped");
    exit
}

/// Waits for Ctrl-C, SIGTERM or end of stdin, and says which came.
async fn shutdown_requested() -> &'static str {
    // A plain thread, not `tokio::io::stdin`: its blocking read cannot be cancelled and would
    // hold up the runtime's shutdown after a signal. The thread dies with the process.
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    let reader = std::thread::Builder::new().name("stdin-eof".into()).spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = eof_tx.send(());
    });
    let stdin_closed = async move {
        match reader {
            Ok(_) => drop(eof_rx.await),
            Err(_) => std::future::pending().await,
        }
    };
    let sigterm = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => drop(signal.recv().await),
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = sigterm => "SIGTERM",
        _ = stdin_closed => "end of stdin",
    }
}

/// The contender actor: confirms every grant at once and prints what it is told.
struct Contender {
    supervisor: Addr<ElectionSupervisor>,
    clock: Clock,
}

impl Actor for Contender {
    type Context = Context<Self>;
}

impl Handler<LeadershipEvent> for Contender {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, ctx: &mut Context<Self>) {
        match event {
            LeadershipEvent::Granted { component, leader_session, .. } => {
                self.clock.line(&format!("granted      session={leader_session}"));
                let confirm = self.supervisor.send(Confirm { component, leader_session });
                // A refused confirm (leadership moved on meanwhile) is worth a line; success is
                // shown by `published`.
                ctx.spawn(confirm.into_actor(self).map(|result, act, _ctx| match result {
                    Ok(Ok(())) | Err(_) => {}
                    Ok(Err(err)) => act.clock.line(&format!("error        confirm refused: {err}")),
                }));
            }
            LeadershipEvent::Published { leader_session, .. } => {
                self.clock.line(&format!("published    session={leader_session}"))
            }
            LeadershipEvent::Revoked { .. } => self.clock.line("revoked"),
            LeadershipEvent::Error { error, .. } => self.clock.line(&format!("error        {error}")),
            // Events added after this example was written.
            other => self.clock.line(&format!("{other:?}")),
        }
    }
}

impl Handler<ConnectionStateChanged> for Contender {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, _ctx: &mut Context<Self>) {
        self.clock.line(&describe_state(msg.state, msg.zk_session));
    }
}

fn describe_state(state: ConnectionState, zk_session: Option<i64>) -> String {
    let session = zk_session.map(|id| format!("zk_session={id:#x}")).unwrap_or_default();
    match state {
        ConnectionState::Connected => format!("connected    {session}"),
        ConnectionState::Suspended => "suspended".to_owned(),
        ConnectionState::Reconnected { same_session: true } => format!("reconnected  {session} (same session)"),
        ConnectionState::Reconnected { same_session: false } => format!("reconnected  {session} (new session)"),
        ConnectionState::Lost => "lost".to_owned(),
    }
}

/// Prints event lines stamped with UTC wall-clock time and milliseconds since start.
#[derive(Clone, Copy)]
struct Clock {
    start: Instant,
}

impl Clock {
    fn line(&self, what: &str) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        println!("{}  +{:>7} ms  {what}", rfc3339_utc(now), self.start.elapsed().as_millis());
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a time since the Unix epoch.
fn rfc3339_utc(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day number counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 { shifted_month + 3 } else { shifted_month - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(rfc3339_utc(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(Duration::from_millis(951_782_400_123)), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339_utc(Duration::from_secs(1_709_251_199)), "2024-02-29T23:59:59.000Z");
        assert_eq!(rfc3339_utc(Duration::from_secs(4_102_444_800)), "2100-01-01T00:00:00.000Z");
    }
}
