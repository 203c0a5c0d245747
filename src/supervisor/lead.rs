//! The lease check, made structural: nothing acts on leadership without a [`Lead`], and the
//! only way to get one is [`ElectionSupervisor::with_lead`], which looks at the latch and the
//! session's lease at that very moment.
//!
//! A `Lead` is lent by reference to a closure, so it can be neither kept in the actor nor moved
//! into a continuation: an answer that arrives later must ask again. Its fields are private to
//! this file, so no other part of the supervisor can make one. Every message the supervisor
//! takes but `StopElection` reaches its handler through [`Checked`], which runs `with_lead`
//! first: a process resumed after a pause steps down before it answers or does anything else,
//! not when the session's report of the lapse reaches it. And while grants stand, the
//! supervisor wakes itself at the lease's end ([`ElectionSupervisor::watch_lease_end`]): a
//! contender hears of the lapse even when no message comes, whatever the session is doing.

use actix::dev::MessageResponse;
use actix::prelude::*;
use tokio::time::Instant;
use tracing::info;

use super::{ElectionSupervisor, Lifecycle};
use crate::contender::ElectionError;
use crate::latch::LatchEvent;
use crate::metrics::ElectionMetrics;
use crate::port::Lease;

/// Proof, for the length of one call, that we may act as leader: we hold the latch (this is
/// our latch node and its fencing token) and the session's lease holds.
#[derive(Debug)]
pub(super) struct Lead {
    latch_node: String,
    fencing_token: i64,
}

impl Lead {
    /// Our latch node: the guard of every leader write.
    pub fn latch_node(&self) -> &str {
        &self.latch_node
    }

    /// The leadership's fencing token: the czxid of our latch node.
    pub fn fencing_token(&self) -> i64 {
        self.fencing_token
    }
}

impl ElectionSupervisor {
    /// Runs `act` with a [`Lead`] if we may lead now. If we hold the latch but the lease ran
    /// out while grants stand, every grant is revoked first.
    pub(super) fn with_lead<R>(&mut self, act: impl FnOnce(&mut Self, Option<&Lead>) -> R) -> R {
        let lead = match &self.lifecycle {
            Lifecycle::Running { held: Some(held), .. } if self.lease_holds() => {
                Some(Lead { latch_node: held.node.clone(), fencing_token: held.fencing_token })
            }
            _ => None,
        };
        if lead.is_none() && self.holds_latch() && self.contenders.values().any(|c| c.role().granted().is_some()) {
            info!("session lease lapsed: stepping down");
            self.revoke_all();
        }
        act(self, lead.as_ref())
    }

    /// While grants stand on the latch we hold, keeps one wake-up armed at the lease's end that
    /// checks again (and so revokes once the lease is over). One wake-up per extension; a lease
    /// that ends earlier than the one armed for (a new session's) is armed for anew.
    pub(super) fn watch_lease_end(&mut self, ctx: &mut Context<Self>) {
        let granted = self.contenders.values().any(|c| c.role().granted().is_some());
        let until = self.lease.as_ref().and_then(Lease::until);
        let Lifecycle::Running { held: Some(held), .. } = &mut self.lifecycle else { return };
        let now = Instant::now();
        // A lease already over: the check that just ran revoked what stood on it.
        let (Some(until), true) = (until.filter(|until| *until > now), granted) else { return };
        match held.lease_end {
            Some((armed, _)) if armed <= until => return,
            Some((_, earlier)) => _ = ctx.cancel_future(earlier),
            None => {}
        }
        let wait = until - now;
        let wake = ctx.run_later(wait, move |act, ctx| {
            let _span = act.port.span().clone().entered();
            // Ours, not a wake-up armed since for another hold of the latch.
            if let Lifecycle::Running { held: Some(held), .. } = &mut act.lifecycle {
                if held.lease_end.is_some_and(|(armed, _)| armed == until) {
                    held.lease_end = None;
                }
            }
            act.with_lead(|_, _| ());
            act.watch_lease_end(ctx);
        });
        held.lease_end = Some((until, wake));
    }
}

/// A message the supervisor handles only after the lease check: its handler gets a
/// [`Lead`] if, at that moment, we hold the latch within the session's lease.
pub(super) trait Checked<M: Message>: Actor<Context = Context<Self>> {
    /// What the handler answers.
    type Reply: MessageResponse<Self, M>;

    /// Handles `msg`; `lead` is the proof that we may act as leader, if we may.
    fn checked(&mut self, msg: M, lead: Option<&Lead>, ctx: &mut Context<Self>) -> Self::Reply;
}

/// `Handler<M>` for each message with a [`Checked`] handler: in the election's span, after the
/// lease check. (One list, so that every message is handled the same way.)
macro_rules! checked_handlers {
    ($($message:ty => $reply:ty,)*) => {$(
        impl Handler<$message> for ElectionSupervisor {
            type Result = $reply;

            fn handle(&mut self, msg: $message, ctx: &mut Context<Self>) -> $reply {
                let _span = self.port.span().clone().entered();
                let reply = self.with_lead(|act, lead| Checked::<$message>::checked(act, msg, lead, ctx));
                self.watch_lease_end(ctx);
                reply
            }
        }
    )*};
}

checked_handlers! {
    crate::contender::Subscribe => Result<(), ElectionError>,
    crate::contender::Confirm => Result<(), ElectionError>,
    crate::contender::Resign => Result<(), ElectionError>,
    crate::contender::ReportHealth => Result<(), ElectionError>,
    crate::contender::Transfer => ResponseActFuture<Self, Result<String, ElectionError>>,
    crate::line_watch::LineChanged => (),
    crate::contender::HasLeadership => bool,
    crate::contender::ProveLeadership => ResponseActFuture<Self, Result<bool, ElectionError>>,
    crate::contender::GetFencingToken => Option<i64>,
    crate::contender::LeaderWrite => ResponseActFuture<Self, Result<Vec<crate::zk::WriteResult>, ElectionError>>,
    crate::metrics::GetElectionMetrics => ResponseActFuture<Self, ElectionMetrics>,
    LatchEvent => (),
    crate::node_cache::NodeChanged => (),
    crate::port::ConnectionStateChanged => (),
    crate::port::LeaseChanged => (),
    crate::port::SessionFailed => (),
}
