//! `run -- CMD`: lead, and run CMD while leading; stop it (SIGTERM, then SIGKILL after the
//! grace) when leadership ends, and leave the election when it ends by itself.

use std::process::ExitStatus;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info};
use zk_election::SessionConfig;

use super::{stop_retriever, Campaign, Connected, ExitCode, Failure};
use crate::child::{self, Child};
use crate::cli::{Common, ElectionArgs};
use crate::output::{Event, Output};
use crate::relay::Input;
use crate::termination::Termination;

/// The command of `run` while it runs.
struct Running {
    child: Child,
    /// When we asked it to stop: the moment SIGKILL follows. `None` while it may run.
    kill_at: Option<Instant>,
}

/// What happened to the running command.
enum ChildEvent {
    Exited(std::io::Result<ExitStatus>),
    GraceOver,
}

/// The next thing that happens to the running command; pending forever if none runs.
async fn child_event(running: &mut Option<Running>) -> ChildEvent {
    let Some(running) = running else { return std::future::pending().await };
    let kill_at = running.kill_at;
    tokio::select! {
        status = running.child.wait() => ChildEvent::Exited(status),
        _ = async { tokio::time::sleep_until(kill_at.expect("guarded")).await }, if kill_at.is_some() => ChildEvent::GraceOver,
    }
}

/// Reports the exit of the command; returns its exit code.
fn report_exit(status: std::io::Result<ExitStatus>, out: Output) -> ExitCode {
    match status {
        Ok(status) => {
            let (code, signal) = child::exit_code(status);
            out.emit(Event::ChildExited { code, signal });
            code
        }
        Err(err) => {
            out.emit(Event::Error(&format!("cannot wait for the command: {err}")));
            1
        }
    }
}

/// Asks the command to stop: SIGTERM now, SIGKILL when the grace period is over.
fn ask_to_stop(running: &mut Running, grace: Duration) {
    if running.kill_at.is_none() {
        debug!(pid = running.child.pid(), "sending SIGTERM to the command");
        running.child.terminate();
        running.kill_at = Some(Instant::now() + grace);
    }
}

/// Stops the command (SIGTERM, SIGKILL after `grace`) and waits until it is gone.
async fn stop_child(mut running: Running, grace: Duration, out: Output) {
    ask_to_stop(&mut running, grace);
    let mut running = Some(running);
    loop {
        match child_event(&mut running).await {
            ChildEvent::Exited(status) => {
                report_exit(status, out);
                return;
            }
            ChildEvent::GraceOver => {
                let running = running.as_mut().expect("still running");
                debug!(pid = running.child.pid(), "grace period over: killing the command's tree");
                running.child.kill();
                running.kill_at = None;
            }
        }
    }
}

/// `run`: run the command while leading.
pub async fn run(
    common: Common,
    session: SessionConfig,
    args: ElectionArgs,
    grace: Duration,
    command: Vec<String>,
    out: Output,
) -> Result<ExitCode, Failure> {
    let mut termination = Termination::install().map_err(|err| format!("cannot watch signals and stdin: {err}"))?;
    let mut connected = Connected::start(&common, session, out).await?;
    let mut campaign = Campaign::join(&connected, &common, &args, out).await?;
    let retriever = connected.retrieve_for_sidecar(&common, &args).await?;
    let mut running: Option<Running> = None;
    // `Some(code)` once the command ended by itself (or could not start): leave with its code.
    let own_exit = loop {
        tokio::select! {
            asked = termination.request_or_stop() => match asked {
                Ok(request) => campaign.on_request(request, out).await,
                Err(reason) => {
                    info!(?reason, "stopping");
                    break None;
                }
            },
            Some(input) = connected.next_input() => match input {
                Input::Connection(state) => out.emit(Event::Connection(state)),
                Input::Leadership(event) => campaign.on_event(event, out).await,
                // Only observers subscribe to these; campaigns hear them from the supervisor.
                Input::Observed(_) | Input::TermEnded(_) | Input::SessionFailed(_) => {}
            },
            event = child_event(&mut running) => match event {
                ChildEvent::Exited(status) => {
                    let asked = running.take().is_some_and(|r| r.kill_at.is_some());
                    let code = report_exit(status, out);
                    if !asked {
                        break Some(code);
                    }
                }
                ChildEvent::GraceOver => {
                    let running = running.as_mut().expect("still running");
                    debug!(pid = running.child.pid(), "grace period over: killing the command's tree");
                    running.child.kill();
                    running.kill_at = None;
                }
            },
        }
        match (&mut running, campaign.published) {
            // Leadership lost while the command runs: ask it to stop.
            (Some(child), None) => ask_to_stop(child, grace),
            // Leading with a published leader node and nothing running: start the command.
            (None, Some(published)) => {
                let env = [
                    ("ZK_ELECT_FENCING_TOKEN", published.fencing_token.to_string()),
                    ("ZK_ELECT_LEADER_SESSION_ID", published.leader_session.to_string()),
                    ("ZK_ELECT_ADDRESS", args.address.clone()),
                ];
                match Child::spawn(&command, &env, out.is_json()).await {
                    Ok(child) => {
                        out.emit(Event::ChildStarted { pid: child.pid() });
                        running = Some(Running { child, kill_at: None });
                    }
                    Err(err) => {
                        out.emit(Event::Error(&format!("cannot start {:?}: {err}", command[0])));
                        break Some(child::spawn_failure_code(&err));
                    }
                }
            }
            _ => {}
        }
    };
    // Never leave the election while the command may still act as leader.
    if let Some(running) = running.take() {
        stop_child(running, grace, out).await;
    }
    let left = campaign.leave(out).await;
    stop_retriever(retriever).await;
    connected.close(left, out).await;
    Ok(own_exit.unwrap_or(0))
}
