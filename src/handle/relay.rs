//! The contender inside an [`ElectionHandle`](super::ElectionHandle)'s System: turns
//! leadership events into the handle's watch, and confirms grants for it.

use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::watch;
use tracing::{debug, warn};
use uuid::Uuid;

use super::leadership::{ConfirmMode, Leadership};
use crate::contender::{Confirm, ElectionError, LeadershipEvent, Resign};
use crate::supervisor::ElectionSupervisor;

/// Confirm the grant with this leader session, through the relay (internal).
#[derive(Message)]
#[rtype(result = "Result<(), ElectionError>")]
pub(super) struct ConfirmGrant(pub(super) Uuid);

/// Resign and queue again, through the relay (internal).
#[derive(Message)]
#[rtype(result = "Result<(), ElectionError>")]
pub(super) struct ResignVia;

/// The contender inside the System: turns [`LeadershipEvent`]s into the watch, and confirms.
pub(super) struct Relay {
    pub(super) component: String,
    pub(super) supervisor: Addr<ElectionSupervisor>,
    pub(super) confirm: ConfirmMode,
    /// The grant last received and not revoked since: `(leader_session, fencing_token)`.
    pub(super) grant: Option<(Uuid, i64)>,
    pub(super) leadership: Arc<watch::Sender<Leadership>>,
    pub(super) errors: watch::Sender<Option<ElectionError>>,
}

impl Relay {
    /// Confirms `leader_session`; on success, the watch shows it leading if it is still the
    /// current grant (a revoke may have come in meanwhile).
    fn confirm(&self, leader_session: Uuid) -> impl ActorFuture<Self, Output = Result<(), ElectionError>> {
        let confirm = Confirm { component: self.component.clone(), leader_session };
        let answer = self.supervisor.send(confirm);
        async move { answer.await.map_err(ElectionError::from).and_then(|answer| answer) }.into_actor(self).map(
            move |answer, act, _ctx| {
                if answer.is_ok() {
                    act.leading(leader_session, false);
                }
                answer
            },
        )
    }

    /// The watch shows `leader_session` leading, if it is the current grant. A published
    /// leadership stays published.
    fn leading(&self, leader_session: Uuid, published: bool) {
        let Some((granted, fencing_token)) = self.grant.filter(|(granted, _)| *granted == leader_session) else {
            return;
        };
        self.leadership.send_if_modified(|now| {
            let value = match *now {
                Leadership::Stopped => return false,
                Leadership::Leading { leader_session, published: true, .. } if leader_session == granted => {
                    return false
                }
                _ => Leadership::Leading { leader_session: granted, fencing_token, published },
            };
            let changed = *now != value;
            *now = value;
            changed
        });
    }
}

impl Actor for Relay {
    type Context = Context<Self>;
}

impl Handler<LeadershipEvent> for Relay {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, ctx: &mut Context<Self>) {
        if *self.leadership.borrow() == Leadership::Stopped {
            return;
        }
        match event {
            LeadershipEvent::Granted { leader_session, fencing_token, .. } => {
                self.grant = Some((leader_session, fencing_token));
                match self.confirm {
                    ConfirmMode::Explicit => {
                        set(&self.leadership, Leadership::Granted { leader_session, fencing_token });
                    }
                    ConfirmMode::Auto => {
                        set(&self.leadership, Leadership::Follower);
                        ctx.spawn(self.confirm(leader_session).map(move |answer, act, _ctx| match answer {
                            Ok(()) => {}
                            // Revoked or stopped before the confirm arrived: nothing to tell.
                            Err(
                                ElectionError::NotLeader
                                | ElectionError::Stopped
                                | ElectionError::StaleLeaderSession { .. },
                            ) => debug!(component = %act.component, %leader_session, "automatic confirm came late"),
                            Err(error) => {
                                warn!(component = %act.component, %error, "automatic confirm failed");
                                act.errors.send_replace(Some(error));
                            }
                        }));
                    }
                }
            }
            LeadershipEvent::Revoked { .. } => {
                self.grant = None;
                set(&self.leadership, Leadership::Follower);
            }
            LeadershipEvent::Published { leader_session, .. } => self.leading(leader_session, true),
            LeadershipEvent::Error { error, .. } => {
                debug!(component = %self.component, %error, "election error");
                self.errors.send_replace(Some(error));
            }
        }
    }
}

impl Handler<ConfirmGrant> for Relay {
    type Result = ResponseActFuture<Self, Result<(), ElectionError>>;

    fn handle(&mut self, msg: ConfirmGrant, _ctx: &mut Context<Self>) -> Self::Result {
        if *self.leadership.borrow() == Leadership::Stopped {
            return Box::pin(actix::fut::ready(Err(ElectionError::Stopped)));
        }
        Box::pin(self.confirm(msg.0))
    }
}

impl Handler<ResignVia> for Relay {
    type Result = ResponseFuture<Result<(), ElectionError>>;

    fn handle(&mut self, _msg: ResignVia, _ctx: &mut Context<Self>) -> Self::Result {
        // Not leading from the moment we resign: a late confirm answer or publish report of
        // the grant given up finds no grant to show.
        self.grant = None;
        set(&self.leadership, Leadership::Follower);
        let resign = self.supervisor.send(Resign::new(self.component.clone()));
        Box::pin(async move { resign.await.map_err(ElectionError::from).and_then(|answer| answer) })
    }
}

/// Sets the watch to `Stopped` (for good).
pub(super) fn mark_stopped(leadership: &watch::Sender<Leadership>) {
    leadership.send_if_modified(|now| {
        let changed = *now != Leadership::Stopped;
        *now = Leadership::Stopped;
        changed
    });
}

/// Sets the watch to `value`, unless it shows `Stopped` or `value` already.
pub(super) fn set(leadership: &watch::Sender<Leadership>, value: Leadership) {
    leadership.send_if_modified(|now| {
        let changed = *now != Leadership::Stopped && *now != value;
        if changed {
            *now = value;
        }
        changed
    });
}
