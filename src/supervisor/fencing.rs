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

use super::lead::{Checked, Lead};
use super::ElectionSupervisor;
use crate::contender::{ElectionError, GetFencingToken, HasLeadership, LeaderWrite, LeadershipClaim, ProveLeadership};
use crate::port::Freshness;
use crate::trace::InSpanExt;
use crate::zk::{GuardedMulti, WriteOp, WriteResult, ZkError};

impl ElectionSupervisor {
    /// Whether `component` leads with exactly `claim` under `lead`, by our own state (latch
    /// held, lease holding, leadership confirmed).
    fn holds_claim(&self, lead: Option<&Lead>, component: &str, claim: LeadershipClaim) -> bool {
        let (Some(lead), Some(leader_session)) =
            (lead, self.contenders.get(component).and_then(|c| c.role().confirmed()))
        else {
            return false;
        };
        match claim {
            LeadershipClaim::LeaderSession(claimed) => claimed == leader_session,
            LeadershipClaim::FencingToken(claimed) => claimed == lead.fencing_token(),
        }
    }

    /// Sends `ops` as one multi-op guarded by the latch node `lead` holds; a failed guard means
    /// we no longer lead. The answer is ZooKeeper's even if a revoke came in meanwhile (what
    /// landed, landed under the guard).
    fn guarded(
        &mut self,
        lead: &Lead,
        ops: Vec<WriteOp>,
    ) -> impl ActorFuture<Self, Output = (Result<Vec<WriteResult>, ElectionError>, Freshness)> + 'static {
        let multi = GuardedMulti { guard: lead.latch_node().to_owned(), guard_version: None, ops };
        self.port.call(multi).map(|(result, freshness), _act, _ctx| {
            let result = match result {
                Ok(results) => Ok(results),
                Err(ZkError::GuardFailed { .. }) => Err(ElectionError::NotLeader),
                Err(err) => Err(err.into()),
            };
            (result, freshness)
        })
    }
}

impl Checked<HasLeadership> for ElectionSupervisor {
    type Reply = bool;

    fn checked(&mut self, msg: HasLeadership, lead: Option<&Lead>, _ctx: &mut Context<Self>) -> bool {
        self.holds_claim(lead, &msg.component, msg.claim)
    }
}

impl Checked<ProveLeadership> for ElectionSupervisor {
    type Reply = ResponseActFuture<Self, Result<bool, ElectionError>>;

    fn checked(&mut self, msg: ProveLeadership, lead: Option<&Lead>, _ctx: &mut Context<Self>) -> Self::Reply {
        let Some(lead) = lead.filter(|lead| self.holds_claim(Some(lead), &msg.component, msg.claim)) else {
            return Box::pin(actix::fut::ready(Ok(false)));
        };
        // A check alone: answered by ZooKeeper's leader after every write it accepted before.
        let check = self.guarded(lead, Vec::new()).map(move |(result, _), act, _ctx| match result {
            // Still ours by our own state too: no revoke or lapse came in while we asked.
            Ok(_) => Ok(act.with_lead(|act, lead| act.holds_claim(lead, &msg.component, msg.claim))),
            Err(ElectionError::NotLeader) => Ok(false),
            Err(err) => Err(err),
        });
        let span = self.port.span().clone();
        Box::pin(check.in_span(&span))
    }
}

impl Checked<GetFencingToken> for ElectionSupervisor {
    type Reply = Option<i64>;

    fn checked(&mut self, msg: GetFencingToken, lead: Option<&Lead>, _ctx: &mut Context<Self>) -> Option<i64> {
        let confirmed = self.contenders.get(&msg.component).and_then(|c| c.role().confirmed())?;
        let lead = lead
            .filter(|lead| self.holds_claim(Some(lead), &msg.component, LeadershipClaim::LeaderSession(confirmed)))?;
        Some(lead.fencing_token())
    }
}

impl Checked<LeaderWrite> for ElectionSupervisor {
    type Reply = ResponseActFuture<Self, Result<Vec<WriteResult>, ElectionError>>;

    fn checked(&mut self, msg: LeaderWrite, lead: Option<&Lead>, _ctx: &mut Context<Self>) -> Self::Reply {
        let claim = LeadershipClaim::LeaderSession(msg.leader_session);
        let Some(lead) = lead.filter(|lead| self.holds_claim(Some(lead), &msg.component, claim)) else {
            return Box::pin(actix::fut::ready(Err(ElectionError::NotLeader)));
        };
        let span = self.port.span().clone();
        Box::pin(self.guarded(lead, msg.ops).map(|(result, _), _act, _ctx| result).in_span(&span))
    }
}
