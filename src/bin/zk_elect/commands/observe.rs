//! `observe`: print every change of the leader node, numbered and with its freshness, and with
//! `--history` every term that ended, until told to stop.

use tracing::info;
use zk_election::session::SubscribeFailures;
use zk_election::SessionConfig;

use super::{stop_retriever, Connected, ExitCode, Failure, Left};
use crate::cli::Common;
use crate::output::{Event, Output};
use crate::relay::Input;
use crate::termination::Termination;

/// What `observe` watches.
pub struct ObserveArgs {
    /// The leader node.
    pub leader_path: String,
    /// The latch, whose line tells how terms end.
    pub latch_path: Option<String>,
    /// Print each term once it ended.
    pub history: bool,
}

/// `observe`: print every leader change (numbered, stale while ZooKeeper is out of reach), and
/// with `--history` every term that ended, until told to stop.
pub async fn observe(
    common: Common,
    session: SessionConfig,
    args: ObserveArgs,
    out: Output,
) -> Result<ExitCode, Failure> {
    let mut termination = Termination::install().map_err(|err| format!("cannot watch signals and stdin: {err}"))?;
    let mut connected = Connected::start(&common, session, out).await?;
    // Campaigns hear of a session that cannot be established from their supervisor; an
    // observer has none.
    connected
        .session
        .send(SubscribeFailures(connected.relay.clone().recipient()))
        .await
        .map_err(|_| "the session actor stopped")?;
    // The session is the observer's alone: a persistent watch misses no change.
    let latch_path = args.latch_path.as_deref();
    let retriever = connected.retrieve(&common, &args.leader_path, latch_path, args.history, true).await?;
    let reason = loop {
        tokio::select! {
            reason = termination.wait() => break reason,
            Some(input) = connected.next_input() => match input {
                Input::Connection(state) => out.emit(Event::Connection(state)),
                Input::Observed(observation) => out.emit(Event::Observed(&observation)),
                Input::TermEnded(term) => out.emit(Event::Term(&term)),
                Input::SessionFailed(error) => out.emit(Event::Error(&error.to_string())),
                Input::Leadership(_) => {}
            },
        }
    };
    info!(?reason, "stopping");
    stop_retriever(Some(retriever)).await;
    connected.close(Left::Quietly, out).await;
    Ok(0)
}
