//! The zk-election library in this process: each contender is what one zk-elect process holds
//! (a session on its own arbiter, a supervisor, a contender that confirms every grant at once),
//! without the process around it.
//!
//! A contender starts the way zk-elect does (session started, supervisor subscribed at once,
//! not waiting for the connection) and leaves the way it does on `quit` (`StopElection`; then, if it led,
//! a grace of [`HANDOVER_GRACE`]; then the session closed), so that the two figures differ by the
//! process and nothing else.

use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use zk_election::{ElectionSupervisor, LeadershipEvent, StopElection, StopSession, ZkSession};

use crate::peer::{Announced, STEP_LIMIT};
use crate::setup::{join_now, session, within, Event, SECOND};

/// zk-elect's default session timeout.
const SESSION_TIMEOUT_SECS: u32 = 6;
/// zk-elect's `HANDOVER_GRACE` (src/bin/zk_elect/commands.rs): a leader that left keeps its
/// session this long, out of its successor's way.
const HANDOVER_GRACE: Duration = Duration::from_millis(20);

/// Starts in-process contenders of one election.
pub(crate) struct LibraryPeer {
    pub(crate) connect: String,
    pub(crate) latch: String,
    pub(crate) leader: String,
}

/// One in-process contender.
pub(crate) struct Contender {
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
    events: mpsc::UnboundedReceiver<Event>,
    /// Its leave, once asked.
    leaving: Option<JoinHandle<Result<(), String>>>,
    /// Asked to leave (`leaving` may have been awaited since).
    left: bool,
    /// It published: it leads until it leaves.
    led: bool,
}

impl LibraryPeer {
    pub(crate) async fn spawn(&self, address: &str) -> Result<Contender, String> {
        let session = session(&self.connect, SESSION_TIMEOUT_SECS * SECOND)?;
        let (sender, events) = mpsc::unbounded_channel();
        let supervisor = join_now(&session, &self.latch, &self.leader, address, 0, &sender).await?;
        Ok(Contender { session, supervisor, events, leaving: None, left: false, led: false })
    }
}

impl Contender {
    /// Waits for `Published`; notes `Granted` on the way.
    pub(crate) async fn announced(&mut self) -> Result<Announced, String> {
        let deadline = tokio::time::Instant::now() + STEP_LIMIT;
        let mut granted = None;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(Event { at, event: LeadershipEvent::Granted { .. }, .. })) => granted = Some(at),
                Ok(Some(Event { at, event: LeadershipEvent::Published { .. }, .. })) => {
                    self.led = true;
                    return Ok(Announced { granted, leads: at });
                }
                Ok(Some(Event { event: LeadershipEvent::Error { error, .. }, .. })) => {
                    return Err(format!("election error: {error}"))
                }
                Ok(Some(_)) => {}
                Ok(None) => return Err("the contender stopped".to_owned()),
                Err(_) => return Err(format!("not published within {STEP_LIMIT:?}")),
            }
        }
    }

    /// Starts leaving as zk-elect does on `quit`; answers the moment it was asked.
    pub(crate) fn leave(&mut self) -> Instant {
        let at = Instant::now();
        self.left = true;
        let (supervisor, session, led) = (self.supervisor.clone(), self.session.clone(), self.led);
        self.leaving = Some(actix::spawn(async move {
            within(STEP_LIMIT, "stop", supervisor.send(StopElection))
                .await?
                .map_err(|e| format!("stop: {e}"))?
                .map_err(|e| format!("stop failed: {e}"))?;
            if led {
                tokio::time::sleep(HANDOVER_GRACE).await;
            }
            within(STEP_LIMIT, "session close", session.send(StopSession)).await?.map_err(|e| e.to_string())
        }));
        at
    }

    /// Waits until it has left, or leaves now if it was never asked to.
    pub(crate) async fn finish(mut self) -> Result<(), String> {
        if !self.left {
            self.leave();
        }
        match self.leaving.take() {
            Some(leaving) => leaving.await.map_err(|e| format!("leave task: {e}"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Contender {
    /// A contender dropped by a failed round leaves anyway, so that its nodes and session do
    /// not outlive the round.
    fn drop(&mut self) {
        if !self.left {
            self.supervisor.do_send(StopElection);
            self.session.do_send(StopSession);
        }
    }
}
