//! Publishing a leader's information: one guarded multi-op per attempt (our latch node must
//! still exist, so a deposed leader can never overwrite its successor), rewritten whenever the
//! node is not exactly ours, retried while refused, given up after the publish patience.

use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;
use tracing::{debug, info, warn};
use uuid::Uuid;

use super::lead::{Checked, Lead};
use super::role::{Role, Write};
use super::ElectionSupervisor;
use crate::codec::LeaderInfo;
use crate::config::Backoff;
use crate::contender::ElectionError;
use crate::node_cache::{LeaderNodeCache, NodeChanged, NodeView, Refresh};
use crate::path;
use crate::zk::{Create, Exists, GuardedMulti, NodeMode, Parents, Stat, WriteOp, ZkError};

/// Attempts of one publish when the node changes under us between read and write.
const PUBLISH_ATTEMPTS: u32 = 8;
/// Pause before retrying a publish that failed because of the connection.
const PUBLISH_RETRY: Duration = Duration::from_millis(500);
/// Pauses between retries of a publish ZooKeeper refused: short at first (an operator fixing
/// an ACL should not wait long), never more than a second.
const REFUSED_PUBLISH_BACKOFF: Backoff = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1) };

/// One publish under way: whose leader information goes where, under which leadership and
/// latch node, at which attempt.
#[derive(Clone, Debug)]
pub(super) struct PublishRound {
    component: String,
    leader_session: Uuid,
    /// Our latch node when the publish started; every write is guarded by it.
    guard: String,
    leader_path: String,
    data: Vec<u8>,
    /// The fencing token published with it.
    fencing_token: i64,
    attempt: u32,
}

impl PublishRound {
    fn next(self) -> Self {
        PublishRound { attempt: self.attempt + 1, ..self }
    }
}

impl ElectionSupervisor {
    /// Starts writing the leader information of `component` unless a write is under way.
    pub(super) fn publish(&mut self, component: &str, lead: &Lead, ctx: &mut Context<Self>) {
        let (guard, fencing_token) = (lead.latch_node().to_owned(), lead.fencing_token());
        let Some(contender) = self.contenders.get_mut(component) else { return };
        let Some(leader_session) = contender.role().confirmed() else { return };
        let Some(node) = contender.node_of(leader_session) else { return };
        if let Write::InFlight { again } = &mut node.write {
            *again = true;
            return;
        }
        node.write = Write::InFlight { again: false };
        let info = LeaderInfo::new(contender.address.clone(), leader_session).with_fencing_token(fencing_token);
        let leader_path = contender.leader_path.clone();
        let component = component.to_owned();
        match self.config.codec().encode(&info) {
            Ok(data) => {
                let round =
                    PublishRound { component, leader_session, guard, leader_path, data, fencing_token, attempt: 1 };
                self.publish_attempt(round, lead, ctx);
            }
            // Checked at subscribe; kept as an error event rather than a panic.
            Err(err) => {
                contender.meter.publish_failed();
                self.publish_done(&component, leader_session, ctx);
                self.report(&component, ElectionError::Unencodable(err.into()));
            }
        }
    }

    /// Whether the publish `round` may still write under `lead`: we hold the same latch node,
    /// and the contender still leads under the same leader session.
    fn entitled(&self, lead: Option<&Lead>, round: &PublishRound) -> bool {
        lead.is_some_and(|lead| lead.latch_node() == round.guard)
            && self.contenders.get(&round.component).is_some_and(|c| c.role().confirmed() == Some(round.leader_session))
    }

    /// The leader node as the round's contender last saw it.
    fn view(&self, round: &PublishRound) -> Option<&NodeView> {
        self.contenders.get(&round.component)?.role().node().map(|node| &node.view)
    }

    /// One attempt of a publish: decides the write from what we know of the leader node, then
    /// writes it. The first attempt trusts the cache's view (nothing known means "create":
    /// after a clean handover the node is gone, and a failover costs no read); every op is
    /// versioned, so a stale view fails safely and the next attempt reads first.
    fn publish_attempt(&mut self, round: PublishRound, lead: &Lead, ctx: &mut Context<Self>) {
        if round.attempt == 1 {
            let known = match self.view(&round) {
                Some(NodeView::Present { stat, .. }) => Some(*stat),
                _ => None,
            };
            let ops = self.leader_write(&round, known.as_ref());
            return self.write_leader_node(round, ops, lead, ctx);
        }
        self.port.ask(ctx, Exists::new(round.leader_path.clone()), move |act, stat, ctx| {
            // Re-checked after every answer: a stop, revoke or lapse in between must not write.
            act.with_lead(|act, lead| match (lead, stat) {
                (Some(lead), Ok(stat)) if act.entitled(Some(lead), &round) => {
                    let ops = act.leader_write(&round, stat.as_ref());
                    act.write_leader_node(round, ops, lead, ctx);
                }
                (lead, Err(err)) if act.entitled(lead, &round) => act.publish_failed(&round, err, lead, ctx),
                _ => act.publish_done(&round.component, round.leader_session, ctx),
            })
        });
    }

    /// The writes that put the round's data at its leader path, given the node's stat if it
    /// exists.
    fn leader_write(&self, round: &PublishRound, stat: Option<&Stat>) -> Vec<WriteOp> {
        let (path, data) = (round.leader_path.clone(), round.data.clone());
        let create = WriteOp::Create {
            path: path.clone(),
            data: data.clone(),
            mode: NodeMode::Ephemeral,
            acl: self.acl.clone(),
        };
        match stat {
            None => vec![create],
            Some(stat) if self.owns(stat) => {
                vec![WriteOp::SetData { path, data, version: Some(stat.version) }]
            }
            // Someone else's node (a stale leader's, or a foreign write): replace it.
            Some(stat) => vec![WriteOp::Delete { path, version: Some(stat.version) }, create],
        }
    }

    /// Sends the guarded write of one publish attempt and handles its outcome. The guard is
    /// the latch node `lead` holds: a write without one cannot be expressed.
    fn write_leader_node(&mut self, round: PublishRound, ops: Vec<WriteOp>, lead: &Lead, ctx: &mut Context<Self>) {
        let write = GuardedMulti { guard: lead.latch_node().to_owned(), guard_version: None, ops };
        self.port.ask(ctx, write, move |act, result, ctx| {
            act.with_lead(|act, lead| act.on_written(round, result, lead, ctx));
        });
    }

    /// What a guarded write of the leader node answered, judged with the lead as it is now.
    fn on_written(
        &mut self,
        round: PublishRound,
        result: Result<Vec<crate::zk::WriteResult>, ZkError>,
        lead: Option<&Lead>,
        ctx: &mut Context<Self>,
    ) {
        let component = round.component.clone();
        let Some(lead) = lead.filter(|lead| self.entitled(Some(lead), &round)) else {
            // Revoked, stopped or lapsed meanwhile: whatever landed, this leadership is over.
            return self.publish_done(&component, round.leader_session, ctx);
        };
        {
            match result {
                Ok(_) => self.published(&round, ctx),
                Err(ZkError::GuardFailed { .. }) => {
                    // Our latch node is gone: we are no longer leader. No retry, no write; the
                    // latch tells us the rest.
                    info!(component, "publish refused: latch node gone");
                    self.publish_done(&component, round.leader_session, ctx);
                }
                Err(ZkError::NoNode) if round.attempt == 1 && path::parent(&round.leader_path) != "/" => {
                    self.create_parents_then_retry(round, ctx);
                }
                Err(ZkError::NodeExists | ZkError::BadVersion | ZkError::NoNode)
                    if round.attempt < PUBLISH_ATTEMPTS =>
                {
                    debug!(component, attempt = round.attempt, "leader node not as expected; reading it and retrying");
                    self.publish_attempt(round.next(), lead, ctx);
                }
                Err(err) => self.publish_failed(&round, err, Some(lead), ctx),
            }
        }
    }

    /// Our write landed. Every view from before it is stale: forget it and let the cache say
    /// what is there now (a new cache reads at start; a running one is asked to read again).
    fn published(&mut self, round: &PublishRound, ctx: &mut Context<Self>) {
        self.metrics.publishes += 1;
        let (component, leader_session, fencing_token) =
            (round.component.as_str(), round.leader_session, round.fencing_token);
        info!(component, leader_path = round.leader_path, %leader_session, "leader information published");
        let me = ctx.address().recipient();
        let zookeeper = self.port.zookeeper();
        if let Some(contender) = self.contenders.get_mut(component) {
            let path = contender.leader_path.clone();
            if let Some(node) = contender.node_of(leader_session) {
                node.view = NodeView::Unknown;
                node.trouble = Default::default();
                match &node.cache {
                    Some(cache) => cache.do_send(Refresh),
                    None => node.cache = Some(LeaderNodeCache::new(zookeeper, path, me).start()),
                }
                contender.published(component, leader_session, fencing_token);
            }
        }
        self.publish_done(component, leader_session, ctx);
    }

    /// A publish failed: ends it, reports the error (once per leadership), and tries again
    /// later for as long as we stay entitled — nothing else would, when the leader node's view
    /// does not change meanwhile. Connection trouble is retried at a steady pace (the
    /// connection-loss policy decides about leadership then); a refusal (an ACL, a quota) with
    /// backoff, until the election's publish patience runs out: then we give the latch up, so
    /// that a leader that cannot publish does not keep everyone else waiting.
    fn publish_failed(&mut self, round: &PublishRound, err: ZkError, lead: Option<&Lead>, ctx: &mut Context<Self>) {
        if let Some(contender) = self.contenders.get(&round.component) {
            contender.meter.publish_failed();
        }
        self.publish_done(&round.component, round.leader_session, ctx);
        if !self.entitled(lead, round) {
            return;
        }
        let patience = self.config.publish_patience();
        let Some(node) = self.contenders.get_mut(&round.component).and_then(|c| c.node_of(round.leader_session)) else {
            return;
        };
        let trouble = &mut node.trouble;
        let first_time = !trouble.reported.contains(&err);
        if first_time {
            trouble.reported.push(err.clone());
        }
        let retry_in = if err.is_transient() {
            Some(PUBLISH_RETRY)
        } else {
            let since = *trouble.refused_since.get_or_insert_with(Instant::now);
            trouble.refusals += 1;
            let refusals = trouble.refusals;
            (since.elapsed() < patience).then(|| crate::backoff::delay(REFUSED_PUBLISH_BACKOFF, refusals))
        };
        let give_up = ElectionError::PublishAbandoned {
            attempts: trouble.refusals,
            after: trouble.refused_since.map_or(Duration::ZERO, |since| since.elapsed()),
            last: err.clone(),
        };
        if first_time {
            self.report(&round.component, err.into());
        }
        match retry_in {
            Some(delay) => self.retry_publish_after(round, delay, ctx),
            None => {
                // Handed on: reported, revoked, and queued again at the back.
                warn!(component = round.component, error = %give_up, "giving the latch up");
                self.report(&round.component, give_up);
                self.requeue_with(Vec::new());
            }
        }
    }

    fn retry_publish_after(&mut self, round: &PublishRound, delay: Duration, ctx: &mut Context<Self>) {
        let round = round.clone();
        ctx.run_later(delay, move |act, ctx| {
            let _span = act.port.span().clone().entered();
            act.with_lead(|act, lead| match lead {
                Some(lead) if act.entitled(Some(lead), &round) => {
                    debug!(component = round.component, "retrying a failed publish");
                    act.publish(&round.component, lead, ctx);
                }
                _ => {}
            });
        });
    }

    /// The leader path's parents are missing: create them (persistent, like Flink), then retry.
    fn create_parents_then_retry(&mut self, round: PublishRound, ctx: &mut Context<Self>) {
        let parent = path::parent(&round.leader_path).to_owned();
        let create =
            Create::new(parent, Vec::new(), NodeMode::Persistent).acl(self.acl.clone()).parents(Parents::Persistent);
        self.port.ask(ctx, create, move |act, result, ctx| {
            act.with_lead(|act, lead| match (result, lead) {
                (Ok(_) | Err(ZkError::NodeExists), Some(lead)) if act.entitled(Some(lead), &round) => {
                    act.publish_attempt(round.next(), lead, ctx)
                }
                (Ok(_) | Err(ZkError::NodeExists), _) => act.publish_done(&round.component, round.leader_session, ctx),
                (Err(err), lead) => act.publish_failed(&round, err, lead, ctx),
            })
        });
    }

    /// Ends a publish of `component` under `leader_session`; runs the one that was requested
    /// meanwhile, if still needed. (A publish of an older leadership ended long ago: its write
    /// state went with it.)
    fn publish_done(&mut self, component: &str, leader_session: Uuid, ctx: &mut Context<Self>) {
        let Some(node) = self.contenders.get_mut(component).and_then(|c| c.node_of(leader_session)) else {
            return;
        };
        if std::mem::take(&mut node.write) == (Write::InFlight { again: true }) {
            self.with_lead(|act, lead| {
                if let Some(lead) = lead {
                    act.rewrite_if_needed(component, lead, ctx);
                }
            });
        }
    }

    /// Rewrites the leader node when the node is not exactly ours.
    fn rewrite_if_needed(&mut self, component: &str, lead: &Lead, ctx: &mut Context<Self>) {
        let Some(contender) = self.contenders.get(component) else { return };
        let Role::Leading { leader_session, node } = contender.role() else { return };
        if !self.node_is_ours(&node.view, &contender.address, *leader_session, lead.fencing_token()) {
            self.metrics.rewrites += 1;
            contender.meter.rewrite();
            if self.names_another_leader(&node.view, *leader_session) {
                warn!(component, view = ?node.view, "the leader node names another leader while we lead");
                contender.meter.conflict();
            }
            debug!(component, view = ?node.view, "leader node is not ours; rewriting");
            self.publish(component, lead, ctx);
        }
    }

    /// Whether the leader node as seen names a leader session other than ours: two leaders
    /// claimed at once (a stale leader's late write, a foreign writer).
    fn names_another_leader(&self, view: &NodeView, leader_session: Uuid) -> bool {
        match view {
            NodeView::Present { data, .. } => {
                self.config.codec().decode(data).is_ok_and(|info| info.leader_session != leader_session)
            }
            _ => false,
        }
    }

    /// Whether the leader node as seen holds exactly `address`, `leader_session` and (where the
    /// codec carries one) `fencing_token`, in a node our session owns.
    fn node_is_ours(&self, view: &NodeView, address: &str, leader_session: Uuid, fencing_token: i64) -> bool {
        match view {
            NodeView::Present { data, stat } => {
                self.owns(stat)
                    && self.config.codec().decode(data).is_ok_and(|info| {
                        info.address == address
                            && info.leader_session == leader_session
                            && info.fencing_token.is_none_or(|token| token == fencing_token)
                    })
            }
            NodeView::Absent | NodeView::Unreadable(_) => false,
            // Not read yet: the read that is under way will tell.
            NodeView::Unknown => true,
        }
    }
}

impl Checked<NodeChanged> for ElectionSupervisor {
    type Reply = ();

    fn checked(&mut self, msg: NodeChanged, lead: Option<&Lead>, ctx: &mut Context<Self>) {
        let Some((component, contender)) = self.contenders.iter_mut().find(|(_, c)| c.leader_path == msg.path) else {
            return;
        };
        let component = component.clone();
        // Only a leader watches its node; a report from a cache being closed is late.
        let Some(node) = contender.role().confirmed().and_then(|session| contender.node_of(session)) else { return };
        let unreadable = match &msg.view {
            NodeView::Unreadable(error) => Some(error.clone()),
            _ => None,
        };
        node.view = msg.view;
        let writing = match &mut node.write {
            // Judge the node once our own write has landed.
            Write::InFlight { again } => {
                *again = true;
                true
            }
            Write::Idle => false,
        };
        if let Some(error) = unreadable {
            // Worth knowing (someone locked our node away); the rewrite replaces it.
            self.report(&component, ElectionError::ZooKeeper(error));
        }
        if let (false, Some(lead)) = (writing, lead) {
            self.rewrite_if_needed(&component, lead, ctx);
        }
    }
}
