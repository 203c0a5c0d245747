//! `zk-elect`: leader election over Apache ZooKeeper from the shell, a thin layer over the
//! `zk_election` crate.
//!
//! - `campaign` joins an election and publishes an address while leading;
//! - `observe` prints every change of a leader node, numbered, stale while ZooKeeper is out of
//!   reach (`--read-only`: read through a quorum loss), and with `--history` how terms ended;
//! - `run` runs a command only while leading.
//!
//! Events go to stdout, one per line (JSON objects with `--json`); logs go to stderr (`RUST_LOG`,
//! default `warn`). Until the first session is established the first event is `connection`
//! with state `connecting`; `--connect-timeout-ms` bounds that wait. Each command stops cleanly
//! on SIGINT, SIGTERM, the end of stdin or a line `quit`: it leaves the election (its nodes are
//! deleted), closes the session (a leader 20 ms later, out of its successor's way), prints
//! `stopped` and exits 0.
//!
//! `--http ADDR` (any subcommand; IP:PORT, port 0 for any free one) starts a sidecar HTTP server
//! there, and nowhere without it. Its first event is `http` with the `address` bound; then
//! `GET /metrics` serves the library's metrics in Prometheus text format (`zk_election_is_leader`
//! and the others of `zk_election::telemetry`; empty when built without the `metrics` feature),
//! `GET /leader` who leads as JSON (`{"sequence":…,"address":…,"leader_session":…,
//! "fencing_token":…,"stale_since_ms":…}`, or `"address":null,"vacant":true`; `campaign` and `run`
//! watch their leader path for it), `GET /leader/watch` the same as server-sent events (the
//! current value first, each with an `id:`; a reconnect with `Last-Event-ID` resumes),
//! `GET /leader/history` the terms seen, `GET /candidates` the line, `GET /` a status page for
//! people, and `GET /healthz` 200 while the session is connected, or suspended within its lease,
//! else 503.
//! One request per connection; other paths get 404, other methods 405. A port already taken
//! ends the command with exit code 1 before it connects.
//!
//! Exit codes: 2 for bad arguments, 1 for failures before the election runs (such as no session
//! within `--connect-timeout-ms`). Either way the reason goes to stderr. Stdout gets it too, as an
//! `error` event, for every exit-1 failure and, in JSON mode, for bad arguments only the library
//! could tell (after connecting), so that a JSON reader learns why its stream ended. Bad
//! arguments found before connecting (every flag, overlapping paths, an address the codec cannot
//! write), and any in text mode, leave stdout empty, like clap's own errors.

#[path = "zk_elect/attempts.rs"]
mod attempts;
#[path = "zk_elect/child.rs"]
mod child;
#[path = "zk_elect/cli.rs"]
mod cli;
#[path = "zk_elect/commands/mod.rs"]
mod commands;
#[path = "zk_elect/credentials.rs"]
mod credentials;
#[path = "zk_elect/deadline.rs"]
mod deadline;
#[path = "zk_elect/guardian.rs"]
mod guardian;
#[path = "zk_elect/health.rs"]
mod health;
#[path = "zk_elect/http/mod.rs"]
mod http;
#[path = "zk_elect/output.rs"]
mod output;
#[path = "zk_elect/relay.rs"]
mod relay;
#[path = "zk_elect/termination.rs"]
mod termination;
#[path = "zk_elect/tree.rs"]
mod tree;

use std::io::IsTerminal;
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::cli::{Cli, Command};
use crate::output::Output;

fn main() {
    // `run` starts its command through a copy of us in guardian mode (see guardian.rs).
    guardian::run_if_selected();
    // Exits with code 2 and clap's message on bad arguments.
    let (cli, session) = Cli::parse_checked();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let colors = std::io::stderr().is_terminal();
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(colors).with_filter(filter);
    tracing_subscriber::registry().with(logs).with(attempts::layer()).init();

    let common = match &cli.command {
        Command::Campaign { common, .. }
        | Command::Candidates { common, .. }
        | Command::Observe { common, .. }
        | Command::Run { common, .. } => common,
    };
    if let Some(warning) = common.credentials.deprecation() {
        tracing::warn!("{warning}");
    }
    let json = common.json;
    let out = Output::new(json);
    let system = actix_rt::System::new();
    let result = system.block_on(async move {
        match cli.command {
            Command::Campaign { common, election } => commands::campaign(common, session, election, out).await,
            Command::Observe { common, leader_path, latch_path, history, .. } => {
                let args = commands::ObserveArgs { leader_path, latch_path, history };
                commands::observe(common, session, args, out).await
            }
            Command::Candidates { common, latch_path } => commands::candidates(common, session, latch_path, out).await,
            Command::Run { common, election, grace_ms, command } => {
                commands::run(common, session, election, Duration::from_millis(grace_ms), command, out).await
            }
        }
    });
    let code = result.unwrap_or_else(|failure| failure.exit(out));
    // Exit without tearing the actix system down: the session arbiter and the thread blocked on
    // stdin have nothing left to do, and everything we print is already flushed.
    std::process::exit(code);
}
