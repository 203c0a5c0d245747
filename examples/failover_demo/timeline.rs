//! The timeline: every event of every actor arrives here, is printed in order and folded into
//! the [`State`] that the script's waits look at.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use zk_election::node_cache::NodeView;
use zk_election::{ConnectionState, LeaderInfoCodec, LeadershipEvent};

use crate::cast::name_of;
use crate::events::{Event, Log, What};
use crate::state::State;

/// What every wait of the script together may take (a run takes about 5 s).
const BUDGET: Duration = Duration::from_secs(25);

/// The demo's clock, its event queue and what it has shown so far.
pub struct Timeline {
    t0: Instant,
    receiver: mpsc::UnboundedReceiver<Event>,
    pub state: State,
}

impl Timeline {
    /// A timeline that starts now, and the log its actors report to.
    pub fn start() -> (Timeline, Log) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Timeline { t0: Instant::now(), receiver, state: State::default() }, Log(sender))
    }

    /// Lets the timeline run for `duration` (a leader leads for a moment before the next step).
    pub async fn hold(&mut self, duration: Duration) {
        let until = tokio::time::Instant::now() + duration;
        while let Ok(Some(event)) = tokio::time::timeout_at(until, self.receiver.recv()).await {
            self.apply(event);
        }
    }

    /// Prints a narration line, after every event that happened before it.
    pub fn narrate(&mut self, line: &str) {
        self.drain();
        println!("{}  {line}", self.stamp(Instant::now()));
    }

    /// Prints and applies every event already queued.
    pub fn drain(&mut self) {
        while let Ok(event) = self.receiver.try_recv() {
            self.apply(event);
        }
    }

    /// Prints and applies events until `check` finds what it looks for in the state; an error
    /// naming `what` when `within` passes first.
    pub async fn wait_until<T>(
        &mut self,
        within: Duration,
        what: &str,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, String> {
        let started = Instant::now();
        // Each wait has its own deadline, and all of them together stay within the budget.
        let deadline = tokio::time::Instant::from_std((started + within).min(self.t0 + BUDGET));
        loop {
            self.drain();
            if let Some(found) = check(&self.state) {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Ok(Some(event)) => self.apply(event),
                Ok(None) => return Err(format!("event channel closed while waiting for {what}")),
                Err(_) => {
                    return Err(format!("timed out after {} ms waiting for {what}", started.elapsed().as_millis()))
                }
            }
        }
    }

    fn apply(&mut self, event: Event) {
        if let Some(line) = self.describe(&event) {
            println!("{}  {:<9} {line}", self.stamp(event.at), event.who);
        }
        self.state.apply(event);
    }

    pub fn stamp(&self, at: Instant) -> String {
        format!("+{:>6} ms", at.saturating_duration_since(self.t0).as_millis())
    }

    fn describe(&self, event: &Event) -> Option<String> {
        Some(match &event.what {
            What::Connection(state, leader_session) => {
                let session = leader_session.map(|id| format!("zk session {id:#x}")).unwrap_or_default();
                match state {
                    ConnectionState::Connected => format!("connected    {session}"),
                    ConnectionState::Suspended => "suspended    (connection lost; the session may still live)".into(),
                    ConnectionState::Lost => "lost         (session expired or timed out)".into(),
                    ConnectionState::Reconnected { same_session: true } => format!("reconnected  {session} (same)"),
                    ConnectionState::Reconnected { same_session: false } => format!("reconnected  {session} (new)"),
                }
            }
            What::Leadership(LeadershipEvent::Granted { leader_session, .. }) => {
                format!("granted      session={leader_session}")
            }
            What::Confirmed(leader_session) => format!("confirmed    session={leader_session}"),
            What::ConfirmRefused(err) => format!("confirm refused: {err}"),
            What::Leadership(LeadershipEvent::Published { leader_session, .. }) => {
                format!("published    session={leader_session}")
            }
            What::Leadership(LeadershipEvent::Revoked { .. }) => "revoked".into(),
            What::Leadership(LeadershipEvent::Error { error, .. }) => format!("error        {error}"),
            What::Leadership(other) => format!("{other:?}"),
            What::LeaderNode(NodeView::Unknown) => return None,
            What::LeaderNode(NodeView::Absent) => "leader node absent".into(),
            What::LeaderNode(NodeView::Unreadable(err)) => format!("leader node unreadable ({err})"),
            What::LeaderNode(NodeView::Present { data, .. }) => match LeaderInfoCodec::Bincode.decode(data) {
                Ok(info) => format!("leader node = {} / {}", info.address, info.leader_session),
                Err(err) => format!("leader node undecodable ({} bytes: {err})", data.len()),
            },
            What::Queue(ids) if ids.is_empty() => "latch queue empty".into(),
            What::Queue(ids) => {
                let names: Vec<&str> = ids.iter().map(|id| name_of(id)).collect();
                format!("latch queue: {}", names.join(" ← "))
            }
            What::Stopping => "stopping".into(),
            What::Note(note) => note.clone(),
        })
    }
}
