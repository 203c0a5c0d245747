//! The contenders' actor: a leader that writes with its fencing token, and can be frozen with a
//! write in hand.

use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::mpsc;
use zk_election::{Confirm, ElectionSupervisor, LeadershipEvent};

use crate::report::{Rejected, Report};
use crate::store::{Store, Write};
use crate::timeline::Timeline;
/// How long A stays frozen at most, should the script never thaw it.
const MAX_FREEZE: Duration = Duration::from_secs(15);

/// A contender that writes to the store with its fencing token once it leads.
pub struct Writer {
    name: &'static str,
    supervisor: Addr<ElectionSupervisor>,
    store: Addr<Store>,
    timeline: Timeline,
    report: mpsc::UnboundedSender<Report>,
    /// The token of the leadership this contender believes it holds.
    leading: Option<i64>,
    writes: u32,
}

impl Actor for Writer {
    type Context = Context<Self>;
}

impl Writer {
    /// A writer that does not lead yet and has written nothing.
    pub fn new(
        name: &'static str,
        supervisor: Addr<ElectionSupervisor>,
        store: Addr<Store>,
        timeline: Timeline,
        report: mpsc::UnboundedSender<Report>,
    ) -> Writer {
        Writer { name, supervisor, store, timeline, report, leading: None, writes: 0 }
    }

    /// Confirms a grant; a refusal only means the grant is already void (a revoke follows).
    fn confirm(&self, component: String, leader_session: uuid::Uuid, ctx: &mut Context<Self>) {
        let confirm = self.supervisor.send(Confirm { component, leader_session });
        ctx.spawn(confirm.into_actor(self).map(|answer, act, _ctx| match answer {
            Ok(Ok(())) => {}
            Ok(Err(err)) => act.timeline.log(act.name, format!("confirm refused: {err}")),
            Err(err) => act.timeline.log(act.name, format!("confirm not delivered: {err}")),
        }));
    }

    /// The next value this contender writes, e.g. `"A2"`.
    fn next_value(&mut self) -> String {
        self.writes += 1;
        format!("{}{}", self.name, self.writes)
    }

    /// Sends `value` with `token` now (before this handler returns) and acts on the answer.
    fn write(&mut self, value: String, token: i64, ctx: &mut Context<Self>) {
        self.timeline.log_token(self.name, format!("writes {value:?}"), token);
        let answer = self.store.send(Write { writer: self.name, token, value });
        ctx.spawn(answer.into_actor(self).map(move |answer, act, _ctx| match answer {
            Ok(Ok(())) => {}
            // A refusal proves a later leader exists: stop acting as leader before ZooKeeper says so.
            Ok(Err(Rejected { highest })) => {
                act.leading = None;
                act.timeline.log(act.name, format!("stands down: the store has seen token {highest}"));
            }
            Err(err) => act.timeline.log(act.name, format!("write not delivered: {err}")),
        }));
    }
}

impl Handler<LeadershipEvent> for Writer {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, ctx: &mut Context<Self>) {
        match event {
            LeadershipEvent::Granted { component, leader_session, fencing_token } => {
                self.timeline.log_token(self.name, "granted, confirms", fencing_token);
                self.confirm(component, leader_session, ctx);
            }
            LeadershipEvent::Published { fencing_token, .. } => {
                self.timeline.log_token(self.name, "leads (leader node published)", fencing_token);
                self.leading = Some(fencing_token);
                let value = self.next_value();
                self.write(value, fencing_token, ctx);
            }
            LeadershipEvent::Revoked { .. } => {
                self.leading = None;
                self.timeline.log(self.name, "revoked by its supervisor");
                let _ = self.report.send(Report::Revoked { who: self.name });
            }
            LeadershipEvent::Error { error, .. } => self.timeline.log(self.name, format!("election error: {error}")),
            // Events this example does not know of (the enum is non-exhaustive).
            _ => {}
        }
    }
}

/// Freeze the contender's thread, and with it everything on its arbiter, with a write in hand:
/// for `at_least`, and then until `thaw` says so (or its sender is dropped).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Freeze {
    pub at_least: Duration,
    pub thaw: std_mpsc::Receiver<()>,
}

impl Handler<Freeze> for Writer {
    type Result = ();

    fn handle(&mut self, freeze: Freeze, ctx: &mut Context<Self>) {
        let Some(token) = self.leading else {
            self.timeline.log(self.name, "asked to freeze with a write in hand, but does not lead");
            return;
        };
        // The write is prepared while leading; the pause falls between preparing and sending it.
        let value = self.next_value();
        self.timeline.log_token(self.name, format!("FROZEN with write {value:?} in hand, not yet sent"), token);
        let frozen = Instant::now();
        // Blocking on purpose: this stops the arbiter's thread, so our supervisor (which lives on
        // it) hears nothing either, like a process in a long GC pause.
        std::thread::sleep(freeze.at_least);
        let _ = freeze.thaw.recv_timeout(MAX_FREEZE);
        let what = format!("wakes after {} ms, still believes it leads", frozen.elapsed().as_millis());
        self.timeline.log_token(self.name, what, token);
        // Sent from this handler, so it leaves before anything queued meanwhile (a revoke) is seen.
        self.write(value, token, ctx);
    }
}
