//! The three subcommands, each a loop over what the library tells us and the reasons to stop
//! (`run`, which also starts and stops a command, is `run.rs`).

mod observe;
mod run;

pub use observe::{observe, ObserveArgs};
pub use run::run;

use std::time::Duration;

use actix::prelude::*;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::info;
use uuid::Uuid;
use zk_election::{
    Confirm, ConnectionState, ElectionError, ElectionSupervisor, LeaderRetriever, LeadershipEvent, Resign,
    SessionConfig, StopElection, StopRetriever, StopSession, Subscribe, SubscribeObservations, SubscribeTerms,
    Transfer, ZkSession,
};

use crate::cli::{Common, ElectionArgs};
use crate::deadline;
use crate::http::Sidecar;
use crate::output::{escape_controls, Event, Output};
use crate::relay::{Input, Relay};
use crate::termination::{Request, Termination};

/// The component name our contender subscribes under (one contender per process).
const COMPONENT: &str = "zk-elect";

/// How long a leader whose leave deleted its nodes keeps its session (and its process) before
/// closing it.
///
/// Closing the session is a write that goes through ZooKeeper's whole request pipeline, and
/// ending the process tears down threads and memory. Right after our nodes are deleted, both
/// compete with the successor's own requests (list the latch, publish its leader node) for the
/// server and the machine's CPUs: `cargo bench --bench peers` saw the successor lead 0.6 ms
/// (a quarter) later on two cores when we closed at once. Our nodes are already gone, so the
/// wait changes nothing in the election; a successor on the same LAN has published well within it.
const HANDOVER_GRACE: Duration = Duration::from_millis(20);

/// What a command ends with.
pub type ExitCode = i32;

/// Why a command could not run: a message for the user and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub message: String,
    /// 2 for arguments the library refused (like clap's own errors), 1 otherwise.
    pub code: ExitCode,
}

impl Failure {
    /// The arguments are wrong in a way only the library could tell.
    fn usage(err: impl std::fmt::Display) -> Failure {
        Failure { message: err.to_string(), code: 2 }
    }

    /// Reports the failure and ends the process with its code. The message always goes to
    /// stderr; stdout gets an `error` event too, except for usage errors in text mode, which
    /// leave stdout empty like clap's own.
    pub fn exit(self, out: Output) -> ! {
        if out.is_json() || self.code != 2 {
            out.emit(Event::Error(&self.message));
        }
        eprintln!("zk-elect: {}", escape_controls(&self.message));
        std::process::exit(self.code)
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure { message, code: 1 }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        message.to_owned().into()
    }
}

/// A session, with its connection states relayed, plus the relay's queue and the sidecar.
struct Connected {
    session: Addr<ZkSession>,
    relay: Addr<Relay>,
    inputs: UnboundedReceiver<Input>,
    sidecar: Sidecar,
}

impl Connected {
    /// Starts the sidecar (`--http`) and the session `config` (built from `common`), and prints
    /// the session's state as it is now (`connecting` before the first session). With a connect
    /// timeout, the process ends with code 1 if no session is established within it.
    async fn start(common: &Common, config: SessionConfig, out: Output) -> Result<Connected, Failure> {
        // Before the session, so that the metrics recorder sees all it does.
        let mut sidecar = Sidecar::bind(common.http, out).await?;
        let session = ZkSession::start(config);
        let (relay, inputs) = Relay::start();
        let status = session
            .send(zk_election::session::SubscribeConnection(relay.clone().recipient()))
            .await
            .map_err(|_| "the session actor stopped".to_owned())?;
        sidecar.set_connection(status.state);
        sidecar.serve(status.lease);
        match status.state {
            Some(state) => out.emit(Event::Connection(state)),
            None => {
                out.emit(Event::Connecting);
                if let Some(limit) = common.connect_timeout() {
                    deadline::arm(session.clone(), limit, common.connect.clone(), out);
                }
            }
        }
        Ok(Connected { session, relay, inputs, sidecar })
    }

    /// The next input from the library, after the sidecar has taken note of it.
    async fn next_input(&mut self) -> Option<Input> {
        let input = self.inputs.recv().await?;
        match &input {
            Input::Connection(state) => self.sidecar.set_connection(Some(*state)),
            Input::Observed(observation) => self.sidecar.observed(observation),
            Input::Leadership(_) | Input::TermEnded(_) | Input::SessionFailed(_) => {}
        }
        Some(input)
    }

    /// A retriever of the election's leader path for the sidecar's `/leader` and history, and
    /// its line for `/candidates`, if it serves.
    async fn retrieve_for_sidecar(
        &self,
        common: &Common,
        args: &ElectionArgs,
    ) -> Result<Option<Addr<LeaderRetriever>>, Failure> {
        if !self.sidecar.is_serving() {
            return Ok(None);
        }
        // The election shares the session and watches the same node: one-shot watches.
        self.retrieve(common, &args.leader_path, Some(&args.latch_path), false, false).await.map(Some)
    }

    /// A retriever of `leader_path`, its observations relayed (and the terms that end, with
    /// `terms`); it reads the line of `latch_path`, if given, to tell how terms end, and watches
    /// with a persistent watch if `persistent` (nothing else on the session watches the node).
    async fn retrieve(
        &self,
        common: &Common,
        leader_path: &str,
        latch_path: Option<&str>,
        terms: bool,
        persistent: bool,
    ) -> Result<Addr<LeaderRetriever>, Failure> {
        let mut retriever =
            LeaderRetriever::new(self.session.clone(), leader_path, common.codec).map_err(Failure::usage)?;
        if persistent {
            retriever = retriever.with_persistent_watch();
        }
        if let Some(latch_path) = latch_path {
            retriever = retriever.with_line(latch_path).map_err(Failure::usage)?;
            self.sidecar.know_line(self.session.clone(), latch_path);
        }
        let retriever = retriever.start();
        let relay = self.relay.clone();
        let subscribed = retriever.send(SubscribeObservations(relay.clone().recipient())).await;
        subscribed.map_err(|_| "the retriever stopped")?;
        if terms {
            retriever.send(SubscribeTerms(relay.recipient())).await.map_err(|_| "the retriever stopped")?;
        }
        self.sidecar.keep_history(retriever.clone());
        Ok(retriever)
    }

    /// Closes the session (our ephemeral nodes go with it) and prints `stopped`; after
    /// [`HANDOVER_GRACE`] if we handed leadership over. After a deferred leave ZooKeeper is out
    /// of reach: the close is not waited for beyond [`CLOSE_WITHOUT_LINK`] (the server ends the
    /// session within its timeout), so that a stop during an outage exits within a second.
    async fn close(self, left: Left, out: Output) {
        match left {
            Left::HandedOver => {
                tokio::time::sleep(HANDOVER_GRACE).await;
                let _ = self.session.send(StopSession).await;
            }
            Left::Quietly => _ = self.session.send(StopSession).await,
            Left::Deferred => _ = tokio::time::timeout(CLOSE_WITHOUT_LINK, self.session.send(StopSession)).await,
        }
        out.emit(Event::Stopped);
    }
}

/// How long a close is waited for when ZooKeeper could not be reached to leave the election.
const CLOSE_WITHOUT_LINK: Duration = Duration::from_millis(300);

/// How the election was left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Left {
    /// We led, and our nodes are deleted: a successor takes over.
    HandedOver,
    /// We did not lead, or the election had ended already.
    Quietly,
    /// ZooKeeper did not answer in time: our nodes go after a reconnect or with the session.
    Deferred,
}

/// A leadership whose leader node is published: what `run` hands its command.
#[derive(Clone, Copy, Debug)]
struct Published {
    leader_session: Uuid,
    fencing_token: i64,
}

/// The election side of `campaign` and `run`: prints leadership events and confirms every grant.
struct Campaign {
    supervisor: Addr<ElectionSupervisor>,
    /// The leader session ID last granted.
    granted: Option<Uuid>,
    /// Set once the leader node holds the granted ID; cleared on revoke.
    published: Option<Published>,
    /// The `--health-cmd` checker, if any.
    health: Option<tokio::task::JoinHandle<()>>,
}

impl Campaign {
    async fn join(
        connected: &Connected,
        common: &Common,
        args: &ElectionArgs,
        out: Output,
    ) -> Result<Campaign, Failure> {
        let config = args.config(common).map_err(Failure::usage)?;
        let supervisor = ElectionSupervisor::start(connected.session.clone(), config);
        let subscribe =
            Subscribe::new(COMPONENT, &args.address, &args.leader_path, connected.relay.clone().recipient());
        match supervisor.send(subscribe).await {
            Ok(Ok(())) => {
                let health = args.health_cmd.clone().map(|command| {
                    let interval = Duration::from_millis(args.health_interval_ms);
                    crate::health::spawn(supervisor.clone(), COMPONENT, command, interval, out)
                });
                Ok(Campaign { supervisor, granted: None, published: None, health })
            }
            // An address the codec cannot write, a bad path: the user's arguments.
            Ok(Err(err @ (ElectionError::Config(_) | ElectionError::Unencodable(_)))) => Err(Failure::usage(err)),
            Ok(Err(err)) => Err(err.to_string().into()),
            Err(_) => Err("the election supervisor stopped".into()),
        }
    }

    /// Prints `event`; confirms a grant at once.
    async fn on_event(&mut self, event: LeadershipEvent, out: Output) {
        match event {
            LeadershipEvent::Granted { leader_session, fencing_token, .. } => {
                self.granted = Some(leader_session);
                self.published = None;
                // Confirm first, print second. `send` queues the confirm; one yield lets the
                // supervisor (on this thread) take it and hand the leader node's write to the
                // session thread. Printing (a write(2) that wakes whoever reads us) then overlaps
                // that round trip instead of delaying it. `granted` still comes before
                // `published`, which reaches this loop only after we return.
                let confirm = self.supervisor.send(Confirm { component: COMPONENT.to_owned(), leader_session });
                tokio::task::yield_now().await;
                out.emit(Event::Granted { leader_session, fencing_token });
                match confirm.await {
                    Ok(Ok(())) => {}
                    // Revoked in the meantime: the revoke is on its way to us.
                    Ok(Err(ElectionError::NotLeader | ElectionError::StaleLeaderSession { .. })) => {}
                    Ok(Err(err)) => out.emit(Event::Error(&err.to_string())),
                    Err(_) => out.emit(Event::Error("the election supervisor stopped")),
                }
            }
            LeadershipEvent::Published { leader_session, fencing_token, .. } => {
                out.emit(Event::Published { leader_session, fencing_token });
                if self.granted == Some(leader_session) {
                    self.published = Some(Published { leader_session, fencing_token });
                }
            }
            LeadershipEvent::Revoked { .. } => {
                out.emit(Event::Revoked);
                self.granted = None;
                self.published = None;
            }
            LeadershipEvent::Error { error, .. } => out.emit(Event::Error(&error.to_string())),
            // The enum is non-exhaustive; the library adds no other event today.
            _ => {}
        }
    }

    /// Leaves the election: our leader node and latch node are deleted.
    ///
    /// Prints `revoked` first if we lead: a successor may be granted as soon as our latch node is
    /// gone, and no event reaches us after `StopElection`, so this is the last moment at which
    /// every line about our leadership still comes before anything the successor prints.
    ///
    /// Does what a line on stdin asks: a transfer or a resign.
    async fn on_request(&mut self, request: Request, out: Output) {
        let answer = match request {
            Request::Transfer(to) => self.supervisor.send(Transfer::to_address(to)).await.map(|r| r.map(Some)),
            Request::Resign => self.supervisor.send(Resign::new(COMPONENT)).await.map(|r| r.map(|()| None)),
        };
        match answer {
            Ok(Ok(Some(node))) => out.emit(Event::Transferring { to: &node }),
            Ok(Ok(None)) => {}
            Ok(Err(err)) => out.emit(Event::Error(&err.to_string())),
            Err(_) => out.emit(Event::Error("the election supervisor stopped")),
        }
    }

    /// Answers how we left.
    async fn leave(mut self, out: Output) -> Left {
        if let Some(health) = self.health.take() {
            health.abort();
        }
        let led = self.granted.take().is_some();
        if led {
            self.published = None;
            out.emit(Event::Revoked);
        }
        let result = self.supervisor.send(StopElection).await;
        match result {
            Ok(Ok(())) if led => Left::HandedOver,
            Ok(Ok(())) | Ok(Err(ElectionError::Stopped)) | Err(_) => Left::Quietly,
            Ok(Err(err)) => {
                out.emit(Event::Error(&err.to_string()));
                if matches!(err, ElectionError::StopDeferred(_)) {
                    Left::Deferred
                } else {
                    Left::Quietly
                }
            }
        }
    }
}

/// `campaign`: lead when it is our turn, until told to stop.
pub async fn campaign(
    common: Common,
    session: SessionConfig,
    args: ElectionArgs,
    out: Output,
) -> Result<ExitCode, Failure> {
    let mut termination = Termination::install().map_err(|err| format!("cannot watch signals and stdin: {err}"))?;
    let mut connected = Connected::start(&common, session, out).await?;
    let mut campaign = Campaign::join(&connected, &common, &args, out).await?;
    let retriever = connected.retrieve_for_sidecar(&common, &args).await?;
    let reason = loop {
        tokio::select! {
            asked = termination.request_or_stop() => match asked {
                Ok(request) => campaign.on_request(request, out).await,
                Err(reason) => break reason,
            },
            Some(input) = connected.next_input() => match input {
                Input::Connection(state) => out.emit(Event::Connection(state)),
                Input::Leadership(event) => campaign.on_event(event, out).await,
                // Only observers subscribe to these; campaigns hear them from the supervisor.
                Input::Observed(_) | Input::TermEnded(_) | Input::SessionFailed(_) => {}
            },
        }
    };
    info!(?reason, "stopping");
    let left = campaign.leave(out).await;
    stop_retriever(retriever).await;
    connected.close(left, out).await;
    Ok(0)
}

/// `candidates`: print the line once, then leave.
pub async fn candidates(
    common: Common,
    session: SessionConfig,
    latch_path: String,
    out: Output,
) -> Result<ExitCode, Failure> {
    let mut connected = Connected::start(&common, session, out).await?;
    // One listing: wait for a session first (--connect-timeout-ms bounds the wait).
    loop {
        match connected.next_input().await {
            Some(Input::Connection(state)) => {
                out.emit(Event::Connection(state));
                if matches!(state, ConnectionState::Connected | ConnectionState::Reconnected { .. }) {
                    break;
                }
            }
            Some(Input::SessionFailed(error)) => out.emit(Event::Error(&error.to_string())),
            Some(_) => {}
            None => return Err("the session actor stopped".into()),
        }
    }
    let line = zk_election::candidates(connected.session.clone(), &latch_path).await;
    let code = match line {
        Ok(line) => {
            for candidate in &line {
                out.emit(Event::Candidate(candidate));
            }
            0
        }
        Err(err) => {
            out.emit(Event::Error(&format!("cannot list {latch_path}: {err}")));
            1
        }
    };
    connected.close(Left::Quietly, out).await;
    Ok(code)
}

/// Stops `retriever`, if there is one, and waits for it.
async fn stop_retriever(retriever: Option<Addr<LeaderRetriever>>) {
    if let Some(retriever) = retriever {
        let _ = retriever.send(StopRetriever).await;
    }
}
