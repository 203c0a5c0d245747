//! Fencing: what a leader can ask and do so that a stale leader's acts are refused rather than
//! merely unlikely.
//!
//! **The token.** A leadership's fencing token is the czxid of the latch node it holds (the
//! zxid of the transaction that created it). Zxids grow ensemble-wide with every write, so a
//! node created later has a larger czxid — across sessions, resignations, and the deletion and
//! re-creation of the latch path (which restarts sequence numbers, not zxids). The leader is
//! always the lowest live latch node; a successor can lead only after every node below it is
//! gone, and every node that could ever be below it existed before it. So when leadership
//! passes to another node, the new token is larger than every token before it. A leadership
//! granted again on the same node (a tolerant leader whose lease lapsed and held again; nobody
//! else can have led meanwhile, our node stayed first) keeps its token: tokens never decrease.

use actix::prelude::*;

use super::ElectionSupervisor;
use crate::ask::AsksSession;
use crate::contender::{ElectionError, GetFencingToken, HasLeadership, LeaderWrite, LeadershipClaim, ProveLeadership};
use crate::error::ZkError;
use crate::session::{GuardedMulti, WriteResult};
use crate::trace::InSpanExt;

impl ElectionSupervisor {
    /// Whether `component` leads with exactly `claim`, by our own state (latch held, lease
    /// holding, leadership confirmed).
    fn holds_claim(&self, component: &str, claim: LeadershipClaim) -> bool {
        let Some(leader_session) = self.contenders.get(component).and_then(|c| c.role.confirmed()) else {
            return false;
        };
        self.leading()
            && match claim {
                LeadershipClaim::LeaderSession(claimed) => claimed == leader_session,
                LeadershipClaim::FencingToken(claimed) => Some(claimed) == self.fencing_token(),
            }
    }

    /// Sends `ops` as one multi-op guarded by our latch node; a failed guard means we no longer
    /// lead.
    fn guarded(
        &mut self,
        ops: Vec<crate::session::WriteOp>,
    ) -> impl ActorFuture<Self, Output = Result<Vec<WriteResult>, ElectionError>> + 'static {
        self.count_request();
        let guard = self.held().unwrap_or_default().to_owned();
        let send = self.session.send(GuardedMulti { guard, guard_version: None, ops });
        async move {
            match send.await.map_err(ZkError::from).and_then(|r| r) {
                Ok(results) => Ok(results),
                Err(ZkError::GuardFailed { .. }) => Err(ElectionError::NotLeader),
                Err(err) => Err(err.into()),
            }
        }
        .into_actor(self)
    }
}

impl Handler<HasLeadership> for ElectionSupervisor {
    type Result = bool;

    fn handle(&mut self, msg: HasLeadership, _ctx: &mut Context<Self>) -> bool {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        self.holds_claim(&msg.component, msg.claim)
    }
}

impl Handler<ProveLeadership> for ElectionSupervisor {
    type Result = ResponseActFuture<Self, Result<bool, ElectionError>>;

    fn handle(&mut self, msg: ProveLeadership, _ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        if !self.holds_claim(&msg.component, msg.claim) {
            return Box::pin(actix::fut::ready(Ok(false)));
        }
        // A check alone: answered by ZooKeeper's leader after every write it accepted before.
        let check = self.guarded(Vec::new()).map(move |result, act, _ctx| match result {
            // Still ours by our own state too: no revoke came in while we asked.
            Ok(_) => Ok(act.holds_claim(&msg.component, msg.claim)),
            Err(ElectionError::NotLeader) => Ok(false),
            Err(err) => Err(err),
        });
        Box::pin(check.in_span(&self.span))
    }
}

impl Handler<GetFencingToken> for ElectionSupervisor {
    type Result = Option<i64>;

    fn handle(&mut self, msg: GetFencingToken, _ctx: &mut Context<Self>) -> Option<i64> {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        let confirmed = self.contenders.get(&msg.component).and_then(|c| c.role.confirmed())?;
        self.holds_claim(&msg.component, LeadershipClaim::LeaderSession(confirmed)).then(|| self.fencing_token())?
    }
}

impl Handler<LeaderWrite> for ElectionSupervisor {
    type Result = ResponseActFuture<Self, Result<Vec<WriteResult>, ElectionError>>;

    fn handle(&mut self, msg: LeaderWrite, _ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        if !self.holds_claim(&msg.component, LeadershipClaim::LeaderSession(msg.leader_session)) {
            return Box::pin(actix::fut::ready(Err(ElectionError::NotLeader)));
        }
        Box::pin(self.guarded(msg.ops).in_span(&self.span))
    }
}
