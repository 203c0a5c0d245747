//! A ready-made contender for tests and benchmarks: it confirms every grant at once and hands
//! each [`LeadershipEvent`], stamped with the moment it arrived, to a channel or a callback.
//!
//! Writing one's own contender is only needed to act on leadership; to observe an election (who
//! was granted, when it was published, what failed) this one is enough.

use std::time::Instant;

use actix::prelude::*;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::contender::{Confirm, ElectionError, LeadershipEvent};
use crate::supervisor::ElectionSupervisor;

/// What a [`RecordingContender`] does with each event it is told.
type OnEvent = Box<dyn FnMut(Instant, LeadershipEvent)>;
/// What it does with the supervisor's answer to a confirm.
type OnAnswer = Box<dyn FnMut(Uuid, Result<(), ElectionError>)>;

/// A contender that records everything it is told and confirms every grant at once.
///
/// Each event is recorded (passed to the channel or callback) *before* the grant is confirmed,
/// so a record never shows a confirm ahead of the grant that asked for it.
///
/// ```no_run
/// use actix::prelude::*;
/// use zk_election::testkit::RecordingContender;
/// use zk_election::{ElectionSupervisor, LeadershipEvent, Subscribe};
///
/// # async fn example(supervisor: Addr<ElectionSupervisor>) {
/// let (contender, mut events) = RecordingContender::channel(supervisor.clone());
/// let contender = contender.start();
/// supervisor
///     .send(Subscribe::new("jobmanager", "host:6123", "/leader", contender.recipient()))
///     .await
///     .unwrap()
///     .unwrap();
/// while let Some((at, event)) = events.recv().await {
///     if let LeadershipEvent::Published { leader_session, fencing_token, .. } = event {
///         println!("published {leader_session} (token {fencing_token}) at {at:?}");
///     }
/// }
/// # }
/// ```
pub struct RecordingContender {
    supervisor: Addr<ElectionSupervisor>,
    confirm: bool,
    on_event: OnEvent,
    /// Set: confirms are awaited and their answers reported here. Unset: sent and forgotten.
    on_answer: Option<OnAnswer>,
}

impl std::fmt::Debug for RecordingContender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingContender")
            .field("supervisor", &self.supervisor)
            .field("confirm", &self.confirm)
            .field("awaits_confirms", &self.on_answer.is_some())
            .finish_non_exhaustive()
    }
}

impl RecordingContender {
    /// A contender of `supervisor` that calls `on_event` with each event and when it arrived.
    pub fn new(supervisor: Addr<ElectionSupervisor>, on_event: impl FnMut(Instant, LeadershipEvent) + 'static) -> Self {
        RecordingContender { supervisor, confirm: true, on_event: Box::new(on_event), on_answer: None }
    }

    /// A contender of `supervisor` that sends each event, with when it arrived, into a channel;
    /// and that channel's receiving end.
    pub fn channel(
        supervisor: Addr<ElectionSupervisor>,
    ) -> (Self, mpsc::UnboundedReceiver<(Instant, LeadershipEvent)>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        // A closed receiver only means nobody listens any more; the contender goes on.
        let contender = RecordingContender::new(supervisor, move |at, event| {
            let _ = sender.send((at, event));
        });
        (contender, receiver)
    }

    /// Whether grants are confirmed at once (the default) or only recorded, leaving the confirm
    /// to the test.
    pub fn confirm_grants(mut self, confirm: bool) -> Self {
        self.confirm = confirm;
        self
    }

    /// Awaits the supervisor's answer to each confirm and calls `on_answer` with the confirmed
    /// session ID and that answer (a stopped supervisor answers [`ElectionError::Stopped`]).
    pub fn on_confirm_answer(mut self, on_answer: impl FnMut(Uuid, Result<(), ElectionError>) + 'static) -> Self {
        self.on_answer = Some(Box::new(on_answer));
        self
    }

    fn send_confirm(&mut self, confirm: Confirm, ctx: &mut Context<Self>) {
        if self.on_answer.is_none() {
            self.supervisor.do_send(confirm);
            return;
        }
        let session_id = confirm.leader_session;
        let answer = self.supervisor.send(confirm);
        let answered = async move { answer.await.unwrap_or_else(|mailbox| Err(mailbox.into())) };
        ctx.spawn(answered.into_actor(self).map(move |answer, act, _ctx| {
            if let Some(on_answer) = act.on_answer.as_mut() {
                on_answer(session_id, answer);
            }
        }));
    }
}

impl Actor for RecordingContender {
    type Context = Context<Self>;
}

impl Handler<LeadershipEvent> for RecordingContender {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, ctx: &mut Context<Self>) {
        let at = Instant::now();
        let confirm = match &event {
            LeadershipEvent::Granted { component, leader_session, .. } if self.confirm => {
                Some(Confirm { component: component.clone(), leader_session: *leader_session })
            }
            _ => None,
        };
        (self.on_event)(at, event);
        if let Some(confirm) = confirm {
            self.send_confirm(confirm, ctx);
        }
    }
}
