//! The command line: three subcommands sharing the connection flags. Everything that can be
//! checked before connecting is checked here, so mistakes end with clap's message and exit code 2:
//! each flag by its parser, what involves several flags by [`Cli::parse_checked`].

use std::net::SocketAddr;
use std::time::Duration;

use crate::credentials::Credentials;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand};
use uuid::Uuid;
use zk_election::config::{validate_session_timeout, SessionConfigBuilder};
use zk_election::{ConfigError, ConnectionLossPolicy, ElectionConfig, LeaderInfo, LeaderInfoCodec, SessionConfig};

/// Leader election over Apache ZooKeeper from the shell (Curator-compatible latch, Flink-compatible
/// leader node).
#[derive(Debug, Parser)]
#[command(name = "zk-elect", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line and checks what involves several flags; exits with code 2 and
    /// clap's message (on stderr) on a mistake. Answers the session configuration built while
    /// checking, so that password and TLS files are read once.
    pub fn parse_checked() -> (Cli, SessionConfig) {
        let cli = Cli::parse();
        match cli.command.check() {
            Ok(session) => (cli, session),
            Err(message) => {
                let mut command = Cli::command();
                command.build();
                let name = cli.command.name();
                let command = command.find_subcommand_mut(name).unwrap_or_else(|| unreachable!("{name} is defined"));
                command.error(ErrorKind::ArgumentConflict, message).exit()
            }
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Join an election: confirm every grant at once and publish ADDRESS while leading. Runs
    /// until SIGINT/SIGTERM, end of stdin or a line `quit`, then leaves cleanly. A line
    /// `transfer ADDRESS` hands leadership to that candidate; `resign` leaves and queues again.
    Campaign {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        election: ElectionArgs,
    },
    /// List the candidates in line, first (the leader) first: position, address, priority,
    /// labels, latch node, and the leader's fencing token; then exit.
    Candidates {
        #[command(flatten)]
        common: Common,
        /// The latch (the election) to list.
        #[arg(long, value_name = "PATH", value_parser = zk_path)]
        latch_path: String,
    },
    /// Print every change of the leader published at a leader path.
    Observe {
        #[command(flatten)]
        common: Common,
        /// The leader node to watch.
        #[arg(long, value_name = "PATH", value_parser = zk_path)]
        leader_path: String,
        /// The latch of the election: its line tells how each term ended (--history, and the
        /// sidecar's /leader/history and /candidates).
        #[arg(long, value_name = "PATH", value_parser = zk_path)]
        latch_path: Option<String>,
        /// Also print each term once it ended: leader, start, end, and how it ended.
        #[arg(long)]
        history: bool,
        /// Accept a read-only session: through a ZooKeeper quorum loss, go on reading the
        /// leader node from a server that serves reads only (readonlymode.enabled), marked
        /// read_only.
        #[arg(long)]
        read_only: bool,
    },
    /// Run CMD only while leading: started after the leader node is published, sent SIGTERM
    /// (then SIGKILL after the grace period) when leadership is lost. When CMD exits by itself,
    /// leave the election and exit with its exit code.
    Run {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        election: ElectionArgs,
        /// Time CMD gets between SIGTERM and SIGKILL, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 5000)]
        grace_ms: u64,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, num_args = 1.., value_name = "CMD")]
        command: Vec<String>,
    },
}

impl Command {
    /// The subcommand's name on the command line.
    fn name(&self) -> &'static str {
        match self {
            Command::Campaign { .. } => "campaign",
            Command::Candidates { .. } => "candidates",
            Command::Observe { .. } => "observe",
            Command::Run { .. } => "run",
        }
    }

    /// What no single flag can tell; the session configuration the flags describe.
    fn check(&self) -> Result<SessionConfig, String> {
        match self {
            Command::Campaign { common, election } | Command::Run { common, election, .. } => {
                let session = common.session_config()?;
                election.check(common)?;
                Ok(session)
            }
            Command::Observe { common, read_only, .. } => common.session_config_with(|b| b.read_only(*read_only)),
            Command::Candidates { common, .. } => common.session_config(),
        }
    }
}

/// Flags every subcommand takes.
#[derive(Debug, Args)]
pub struct Common {
    /// ZooKeeper servers: host:port[,host:port...], then optionally a chroot path (/app).
    #[arg(long, value_name = "HOSTS", value_parser = connect_string)]
    pub connect: String,
    /// Session timeout to ask of ZooKeeper, in milliseconds (1000 to 2147483647).
    #[arg(long, value_name = "MS", default_value_t = 6000, value_parser = session_timeout_ms)]
    pub session_timeout_ms: u64,
    /// Give up (exit code 1) when no ZooKeeper session is established within this many
    /// milliseconds of start. Default: keep trying.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub connect_timeout_ms: Option<u64>,
    /// Format of the leader node: bincode (Rust peers) or java (Flink peers).
    #[arg(long, default_value = "bincode", value_parser = codec())]
    pub codec: LeaderInfoCodec,
    /// Print one JSON object per line instead of readable lines.
    #[arg(long)]
    pub json: bool,
    /// TLS, SASL and digest authentication.
    #[command(flatten)]
    pub credentials: Credentials,
    /// Serve GET /metrics (Prometheus), /leader, /leader/watch (server-sent events) and /healthz
    /// over HTTP at IP:PORT (port 0: any free port; the `http` event tells which). Default: no
    /// server.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
}

impl Common {
    /// The session configuration these flags describe.
    /// Passwords and TLS files are read here: a missing or unreadable one is a usage error.
    fn session_config(&self) -> Result<SessionConfig, String> {
        self.session_config_with(|builder| builder)
    }

    /// The session configuration of the flags, with what `more` adds.
    fn session_config_with(
        &self,
        more: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder,
    ) -> Result<SessionConfig, String> {
        let builder =
            SessionConfig::builder(&self.connect).session_timeout(Duration::from_millis(self.session_timeout_ms));
        more(self.credentials.apply(builder)?).build().map_err(|err| err.to_string())
    }

    /// How long to wait for the first session, if not forever.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout_ms.map(Duration::from_millis)
    }
}

/// Flags of the subcommands that join an election.
#[derive(Debug, Args)]
pub struct ElectionArgs {
    /// The latch (the election) to join.
    #[arg(long, value_name = "PATH", value_parser = zk_path)]
    pub latch_path: String,
    /// Where the leader publishes ADDRESS and its leader session ID.
    #[arg(long, value_name = "PATH", value_parser = zk_path)]
    pub leader_path: String,
    /// What to publish while leading (any non-empty text, e.g. host:port).
    #[arg(long, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub address: String,
    /// standard: give up leadership as soon as the connection drops; session-tolerant: keep it
    /// until the session is lost.
    #[arg(long, default_value = "standard", value_parser = policy())]
    pub policy: ConnectionLossPolicy,
    /// Our priority in line: leading, we hand over to a candidate of strictly higher priority
    /// once it has stood in line for --preempt-after-ms; equal priorities never preempt.
    #[arg(long, value_name = "N", default_value_t = 0, allow_negative_numbers = true)]
    pub priority: i32,
    /// A label shown in `candidates` (repeatable), e.g. --label version=2.1.
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = label)]
    pub labels: Vec<(String, String)>,
    /// How long a candidate of higher priority must stand in line before we hand over to it,
    /// in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub preempt_after_ms: u64,
    /// Never hand over to a candidate of higher priority.
    #[arg(long)]
    pub no_preemption: bool,
    /// After we resigned, handed over or lost leadership, wait this long before queueing
    /// again, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub cooldown_ms: u64,
    /// A health check run through `sh -c` every --health-interval-ms (healthy: exit code 0
    /// within the interval). After --health-failures failures in a row we step down and leave
    /// the line; the first pass queues us again (after the cooldown).
    #[arg(long, value_name = "CMD")]
    pub health_cmd: Option<String>,
    /// How often the health check runs, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub health_interval_ms: u64,
    /// Failed health checks in a row that make us step down.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub health_failures: u32,
}

impl ElectionArgs {
    /// The election these flags describe.
    pub fn config(&self, common: &Common) -> Result<ElectionConfig, ConfigError> {
        let mut builder = ElectionConfig::builder(&self.latch_path)
            .codec(common.codec)
            .policy(self.policy)
            .priority(self.priority)
            .cooldown(Duration::from_millis(self.cooldown_ms))
            .preempt_after(Duration::from_millis(self.preempt_after_ms))
            .health_failures(self.health_failures);
        if self.no_preemption {
            builder = builder.no_preemption();
        }
        for (key, value) in &self.labels {
            builder = builder.label(key, value);
        }
        builder.build()
    }

    /// The leader path must stay clear of the latch, and the address must fit the codec.
    fn check(&self, common: &Common) -> Result<(), String> {
        let election = self.config(common).map_err(|err| err.to_string())?;
        election.candidate(&self.address).validate().map_err(|err| err.to_string())?;
        election.check_leader_path(&self.leader_path).map_err(|err| err.to_string())?;
        common
            .codec
            .encode(&LeaderInfo::new(self.address.clone(), Uuid::nil()))
            .map_err(|err| format!("--address cannot be encoded with the {} codec: {err}", common.codec))?;
        Ok(())
    }
}

fn label(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err("expected KEY=VALUE with a non-empty KEY".to_owned()),
    }
}

fn session_timeout_ms(value: &str) -> Result<u64, String> {
    let ms: u64 = value.parse().map_err(|err| format!("{err}"))?;
    validate_session_timeout(Duration::from_millis(ms)).map_err(|err| err.to_string())?;
    Ok(ms)
}

fn connect_string(value: &str) -> Result<String, String> {
    SessionConfig::builder(value).build().map(|_| value.to_owned()).map_err(|err| err.to_string())
}

/// An absolute ZooKeeper path other than the root (the election's own rules).
fn zk_path(value: &str) -> Result<String, String> {
    match ElectionConfig::builder(value).build() {
        Ok(_) => Ok(value.to_owned()),
        Err(ConfigError::InvalidPath { problem, .. }) => Err(problem.to_string()),
        Err(err) => Err(err.to_string()),
    }
}

fn codec() -> impl TypedValueParser<Value = LeaderInfoCodec> {
    let names = LeaderInfoCodec::ALL.map(LeaderInfoCodec::name);
    PossibleValuesParser::new(names).map(|name| name.parse().expect("only listed names get here"))
}

fn policy() -> impl TypedValueParser<Value = ConnectionLossPolicy> {
    PossibleValuesParser::new(["standard", "session-tolerant"])
        .map(|name| name.parse().expect("only listed names get here"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn common_flags_and_defaults() {
        let cli = Cli::try_parse_from(["zk-elect", "observe", "--connect", "a:1", "--leader-path", "/l"]).unwrap();
        let Command::Observe { common, leader_path, latch_path, history, read_only } = cli.command else {
            panic!("not observe")
        };
        assert_eq!((latch_path, history, read_only), (None, false, false));
        assert_eq!((common.session_timeout_ms, common.codec, common.json), (6000, LeaderInfoCodec::Bincode, false));
        assert_eq!(leader_path, "/l");
        assert!(common.credentials.digest.is_none());
        assert!(common.http.is_none());
        let cli = Cli::try_parse_from([
            "zk-elect",
            "observe",
            "--connect",
            "a:1",
            "--leader-path",
            "/l",
            "--http",
            "127.0.0.1:0",
        ])
        .unwrap();
        let Command::Observe { common, .. } = cli.command else { panic!("not observe") };
        assert_eq!(common.http, Some("127.0.0.1:0".parse().unwrap()));
    }

    #[test]
    fn run_takes_the_command_after_the_separator() {
        let args =
            ["zk-elect", "run", "--connect", "a:1", "--latch-path", "/l", "--leader-path", "/x", "--address", "h:1"];
        let cli = Cli::try_parse_from(args.iter().chain(&["--grace-ms", "10", "--", "sleep", "--", "5"])).unwrap();
        let Command::Run { grace_ms, command, election, .. } = cli.command else { panic!("not run") };
        assert_eq!((grace_ms, command), (10, vec!["sleep".to_owned(), "--".to_owned(), "5".to_owned()]));
        assert_eq!(election.policy, ConnectionLossPolicy::Standard);
        assert!(Cli::try_parse_from(args).is_err(), "run without a command");
    }

    #[test]
    fn bad_values_are_refused() {
        let base = ["zk-elect", "campaign", "--leader-path", "/x", "--address", "h:1"];
        for bad in [
            &["--latch-path", "/l", "--connect", "a:notaport"][..],
            &["--latch-path", "/l", "--connect", "a:1", "--codec", "json"],
            &["--latch-path", "/l", "--connect", "a:1", "--policy", "lenient"],
            &["--latch-path", "/l", "--connect", "a:1", "--digest", "nocolon"],
            &["--latch-path", "/l", "--connect", "a:1", "--session-timeout-ms", "0"],
            &["--latch-path", "/l", "--connect", "a:1", "--session-timeout-ms", "999"],
            &["--latch-path", "/l", "--connect", "a:1", "--session-timeout-ms", "2147483648"],
            &["--latch-path", "/l", "--connect", "a:1", "--connect-timeout-ms", "0"],
            &["--latch-path", "/zookeeper/l", "--connect", "a:1"],
            &["--latch-path", "relative", "--connect", "a:1"],
            &["--latch-path", "/l/", "--connect", "a:1"],
            &["--latch-path", "/l"],
            &["--latch-path", "/l", "--connect", "a:1", "--http", "localhost"],
            &["--latch-path", "/l", "--connect", "a:1", "--http", "127.0.0.1:99999"],
        ] {
            let err = Cli::try_parse_from(base.iter().chain(bad)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
        for (latch, leader) in [("/x", "/x"), ("/x/l", "/x"), ("/x", "/x/l")] {
            let args = ["zk-elect", "campaign", "--connect", "a:1", "--address", "h:1"];
            let cli =
                Cli::try_parse_from(args.iter().chain(&["--latch-path", latch, "--leader-path", leader])).unwrap();
            assert!(cli.command.check().is_err_and(|e| e.contains("overlaps")), "{latch} {leader}");
        }
    }
}
