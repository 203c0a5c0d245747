//! The election supervisor: the state machine of Flink's `ZooKeeperLeaderElectionService`
//! (DESIGN.md §1), one row per handler, as actor-private state.
//!
//! | event | here |
//! |---|---|
//! | subscribe | [`Handler<Subscribe>`]: validates, joins the latch with the first contender (the leader-node cache starts with the first publish) |
//! | latch: is leader | `on_latch`: only if running, fresh `issued` per contender, `confirmed = None`, **granted** |
//! | latch: not leader | only if running, both IDs cleared, **revoked** |
//! | confirm | [`Handler<Confirm>`]: only if running, latch held and `id == issued`: `confirmed = id`, publish |
//! | leader node changed | [`Handler<NodeChanged>`]: only if running, latch held, confirmed: rewrite when absent, foreign, undecodable or different |
//! | publish | `publish`: one guarded multi-op (latch node must exist), from the cached view first, re-read on conflict |
//! | stop | [`Handler<Stop>`]: `running = false` and IDs cleared first; leader nodes and latch node deleted in one guarded multi-op (retried after the next reconnect if the connection broke it); caches closed; errors collected |

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tracing::{debug, field, info, info_span, warn, Span};
use uuid::Uuid;

use crate::codec::LeaderInfo;
use crate::config::{Backoff, ElectionConfig};
use crate::contender::{Confirm, ElectionError, HasLeadership, LeadershipEvent, Resign, Stop, Subscribe};
use crate::error::{ConfigError, ZkError};
use crate::latch::{CloseLatch, LatchEvent, LeaderLatch, Requeue};
use crate::metrics::{ElectionMetrics, GetMetrics};
use crate::node_cache::{CloseCache, LeaderNodeCache, NodeChanged, NodeView, Refresh};
use crate::path;
use crate::policy::ConnectionLossPolicy;
use crate::session::{
    ConnectionState, ConnectionStateChanged, Create, Delete, Exists, GuardedMulti, Lease, LeaseChanged, NodeAcl,
    NodeMode, Parents, SessionFailed, Stat, SubscribeConnection, SubscribeFailures, SubscribeLease, WriteOp, ZkSession,
};
use crate::trace::InSpanExt;

/// Attempts of one publish when the node changes under us between read and write.
const PUBLISH_ATTEMPTS: u32 = 8;
/// Pause before retrying a publish that failed because of the connection.
const PUBLISH_RETRY: Duration = Duration::from_millis(500);
/// Pauses between retries of a publish ZooKeeper refused: short at first (an operator fixing
/// an ACL should not wait long), never more than a second.
const REFUSED_PUBLISH_BACKOFF: Backoff = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1) };

/// Leader-node writes that failed under the current grant.
#[derive(Debug, Default)]
struct PublishTrouble {
    /// The first refusal (an error the connection does not explain), if any.
    refused_since: Option<Instant>,
    /// Refused attempts so far.
    refusals: u32,
    /// Errors already reported under this grant: each once, not once per retry.
    reported: Vec<ZkError>,
}

/// One publish under way: whose leader information goes where, under which grant and latch
/// node, at which attempt.
#[derive(Clone, Debug)]
struct PublishRound {
    component: String,
    session_id: Uuid,
    /// Our latch node when the publish started; every write is guarded by it.
    guard: String,
    leader_path: String,
    data: Vec<u8>,
    attempt: u32,
}

impl PublishRound {
    fn next(self) -> Self {
        PublishRound { attempt: self.attempt + 1, ..self }
    }
}

/// One subscribed contender and its leadership bookkeeping.
struct Contender {
    recipient: Recipient<LeadershipEvent>,
    address: String,
    leader_path: String,
    /// Session ID handed out with the last grant.
    issued: Option<Uuid>,
    /// Session ID the contender confirmed (equal to `issued` once confirmed).
    confirmed: Option<Uuid>,
    /// Watches the leader node from our first publish until leadership ends: followers watch
    /// nothing, so a leader change wakes one process, not every contender.
    cache: Option<Addr<LeaderNodeCache>>,
    /// The leader node as the cache last saw it.
    view: NodeView,
    /// A publish is in flight; another request waits in `publish_again`.
    publishing: bool,
    publish_again: bool,
    /// Failed writes under the current grant.
    trouble: PublishTrouble,
}

/// The election supervisor for one latch path. Start it with [`ElectionSupervisor::start`].
pub struct ElectionSupervisor {
    session: Addr<ZkSession>,
    config: ElectionConfig,
    /// False once stopped; every late event is ignored from then on.
    running: bool,
    latch: Option<Addr<LeaderLatch>>,
    /// Our latch node while we hold the latch: the guard of every leader write.
    latch_node: Option<String>,
    /// Our ZooKeeper session ID, to recognise leader nodes we own.
    zk_session_id: Option<i64>,
    /// The session's lease: nobody leads here while it does not hold, whatever the latch says.
    lease: Option<Lease>,
    /// ACL of the nodes we create, resolved at start from the config and the session's auth.
    acl: NodeAcl,
    contenders: BTreeMap<String, Contender>,
    metrics: ElectionMetrics,
    /// Nodes a stop could not delete for want of a connection, to delete after the reconnect.
    pending_leave: Option<Leaving>,
    /// `election{latch, zk_session}`: every event of this election, its latch and caches.
    span: Span,
}

impl ElectionSupervisor {
    /// Starts a supervisor for the election `config` over `session`, on the current arbiter.
    pub fn start(session: Addr<ZkSession>, config: ElectionConfig) -> Addr<ElectionSupervisor> {
        ElectionSupervisor {
            session,
            running: true,
            latch: None,
            latch_node: None,
            zk_session_id: None,
            lease: None,
            acl: NodeAcl::Open,
            span: info_span!("election", latch = %config.latch_path(), zk_session = field::Empty),
            contenders: BTreeMap::new(),
            metrics: ElectionMetrics::default(),
            pending_leave: None,
            config,
        }
        .start()
    }

    /// Every contender's leader path, with the version of its node when the cache saw it as
    /// ours and no write of ours is in flight (only then is the version worth trusting).
    fn own_leader_nodes(&self) -> Vec<(String, Option<i32>)> {
        let nodes = self.contenders.values().map(|contender| {
            let version = match &contender.view {
                NodeView::Present { stat, .. } if !contender.publishing && self.owns(stat) => Some(stat.version),
                _ => None,
            };
            (contender.leader_path.clone(), version)
        });
        nodes.collect()
    }

    /// Whether the node with `stat` is an ephemeral of our current ZooKeeper session.
    fn owns(&self, stat: &Stat) -> bool {
        Some(stat.ephemeral_owner) == self.zk_session_id
    }

    /// Remembers our ZooKeeper session ID (to recognise nodes we own) and names it in our span.
    fn set_zk_session(&mut self, session_id: Option<i64>) {
        // Recorded on change only: a formatter shows every recorded value, the last one current.
        if let Some(id) = session_id.filter(|id| Some(*id) != self.zk_session_id) {
            self.span.record("zk_session", field::display(format_args!("{id:#x}")));
        }
        self.zk_session_id = session_id;
    }

    fn send_event(contender: &Contender, event: LeadershipEvent) {
        contender.recipient.do_send(event);
    }

    fn grant(&mut self, component: &str) {
        let Some(contender) = self.contenders.get_mut(component) else { return };
        let session_id = Uuid::new_v4();
        contender.issued = Some(session_id);
        contender.confirmed = None;
        contender.trouble = PublishTrouble::default();
        self.metrics.grants += 1;
        info!(component, leader_session_id = %session_id, "leadership granted");
        Self::send_event(contender, LeadershipEvent::Granted { component: component.to_owned(), session_id });
    }

    /// Whether the session's lease holds: the server is known to keep our session (and with it
    /// our latch node) at least until then.
    fn lease_holds(&self) -> bool {
        self.lease.as_ref().is_some_and(Lease::holds)
    }

    /// Whether we may lead now: running, first in the latch, and within the session's lease.
    fn leading(&self) -> bool {
        self.running && self.latch_node.is_some() && self.lease_holds()
    }

    /// Grants every contender that holds no grant, if we may lead.
    fn grant_all(&mut self) {
        if !self.leading() {
            return;
        }
        let due: Vec<String> =
            self.contenders.iter().filter(|(_, c)| c.issued.is_none()).map(|(k, _)| k.clone()).collect();
        for component in due {
            self.grant(&component);
        }
    }

    /// Revokes every grant: caches closed, views forgotten, IDs void.
    fn revoke_all(&mut self) {
        for (component, contender) in &mut self.contenders {
            if let Some(cache) = contender.cache.take() {
                cache.do_send(CloseCache);
            }
            contender.view = NodeView::Unknown;
            if contender.issued.take().is_some() {
                contender.confirmed = None;
                self.metrics.revokes += 1;
                info!(component, "leadership revoked");
                Self::send_event(contender, LeadershipEvent::Revoked { component: component.clone() });
            }
        }
    }

    /// Revokes at once if the lease ran out while grants stand. Called first in every handler:
    /// a process resumed after a pause must step down before it answers or does anything else,
    /// not when the session's report of the lapse reaches us.
    fn enforce_lease(&mut self) {
        if self.running
            && self.latch_node.is_some()
            && !self.lease_holds()
            && self.contenders.values().any(|c| c.issued.is_some())
        {
            info!("session lease lapsed: stepping down");
            self.revoke_all();
        }
    }

    fn on_latch(&mut self, event: LatchEvent) {
        if !self.running {
            return;
        }
        match event {
            LatchEvent::IsLeader { node } => {
                self.latch_node = Some(node);
                self.grant_all();
            }
            LatchEvent::NotLeader => {
                self.latch_node = None;
                self.revoke_all();
            }
            LatchEvent::Failed(error) => self.report_all(ElectionError::ZooKeeper(error)),
        }
    }

    fn report_all(&self, error: ElectionError) {
        for (component, contender) in &self.contenders {
            Self::send_event(contender, LeadershipEvent::Error { component: component.clone(), error: error.clone() });
        }
    }

    fn report(&self, component: &str, error: ElectionError) {
        if let Some(contender) = self.contenders.get(component) {
            warn!(component, %error, "election error");
            Self::send_event(contender, LeadershipEvent::Error { component: component.to_owned(), error });
        }
    }

    /// Whether the leader node as seen holds exactly our address and confirmed session ID,
    /// in a node our session owns.
    fn node_is_ours(&self, contender: &Contender, confirmed: Uuid) -> bool {
        match &contender.view {
            NodeView::Present { data, stat } => {
                self.owns(stat)
                    && self
                        .config
                        .codec()
                        .decode(data)
                        .is_ok_and(|info| info.address == contender.address && info.session_id == confirmed)
            }
            NodeView::Absent | NodeView::Unreadable(_) => false,
            // Not read yet: the read that is under way will tell.
            NodeView::Unknown => true,
        }
    }

    /// Starts writing the leader information of `component` unless a write is under way.
    fn publish(&mut self, component: &str, ctx: &mut Context<Self>) {
        let Some(contender) = self.contenders.get_mut(component) else { return };
        if contender.publishing {
            contender.publish_again = true;
            return;
        }
        let (Some(session_id), Some(guard)) = (contender.confirmed, self.latch_node.clone()) else { return };
        contender.publishing = true;
        let info = LeaderInfo::new(contender.address.clone(), session_id);
        let leader_path = contender.leader_path.clone();
        match self.config.codec().encode(&info) {
            Ok(data) => {
                let round =
                    PublishRound { component: component.to_owned(), session_id, guard, leader_path, data, attempt: 1 };
                self.publish_attempt(round, ctx);
            }
            // Checked at subscribe; kept as an error event rather than a panic.
            Err(err) => {
                self.publish_done(component, ctx);
                self.report(component, ElectionError::Unencodable(err.into()));
            }
        }
    }

    /// Whether the publish `round` may still write: we run, hold the same latch node, and the
    /// contender still confirms the same session ID.
    fn still_entitled(&self, round: &PublishRound) -> bool {
        self.running
            && self.latch_node.as_deref() == Some(round.guard.as_str())
            && self.contenders.get(&round.component).is_some_and(|c| c.confirmed == Some(round.session_id))
    }

    /// One attempt of a publish: decides the write from what we know of the leader node, then
    /// writes in one multi-op guarded by our latch node, so a deposed leader can never
    /// overwrite its successor. The first attempt trusts the cache's view (nothing known means
    /// "create": after a clean handover the node is gone, and a failover costs no read); every
    /// op is versioned, so a stale view fails safely and the next attempt reads first.
    fn publish_attempt(&mut self, round: PublishRound, ctx: &mut Context<Self>) {
        if round.attempt == 1 {
            let known = match self.contenders.get(&round.component).map(|c| &c.view) {
                Some(NodeView::Present { stat, .. }) => Some(*stat),
                _ => None,
            };
            let ops = self.leader_write(&round, known.as_ref());
            return self.write_leader_node(round, ops, ctx);
        }
        self.metrics.zk_requests += 1;
        let read = self.session.send(Exists { path: round.leader_path.clone(), watch: None });
        ctx.spawn(
            read.into_actor(self)
                .map(move |stat, act, ctx| {
                    // Re-checked after every await: a stop or revoke in between must not write.
                    if !act.still_entitled(&round) {
                        return act.publish_done(&round.component, ctx);
                    }
                    match stat.map_err(ZkError::from).and_then(|r| r) {
                        Ok(stat) => {
                            let ops = act.leader_write(&round, stat.as_ref());
                            act.write_leader_node(round, ops, ctx);
                        }
                        Err(err) => act.publish_failed(&round, err, ctx),
                    }
                })
                .in_span(&self.span),
        );
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

    /// Sends the guarded write of one publish attempt and handles its outcome.
    fn write_leader_node(&mut self, round: PublishRound, ops: Vec<WriteOp>, ctx: &mut Context<Self>) {
        self.metrics.zk_requests += 1;
        let write = self.session.send(GuardedMulti { guard: round.guard.clone(), guard_version: None, ops });
        ctx.spawn(
            write
                .into_actor(self)
                .map(move |result, act, ctx| {
                    let result = result.map_err(ZkError::from).and_then(|r| r);
                    let component = round.component.clone();
                    if !act.running {
                        return act.publish_done(&component, ctx);
                    }
                    match result {
                        Ok(()) => act.published(&round, ctx),
                        Err(ZkError::GuardFailed { .. }) => {
                            // Our latch node is gone: we are no longer leader. No retry, no write;
                            // the latch tells us the rest.
                            info!(component, "publish refused: latch node gone");
                            act.publish_done(&component, ctx);
                        }
                        Err(ZkError::NoNode) if round.attempt == 1 && path::parent(&round.leader_path) != "/" => {
                            act.create_parents_then_retry(round, ctx);
                        }
                        Err(ZkError::NodeExists | ZkError::BadVersion | ZkError::NoNode)
                            if round.attempt < PUBLISH_ATTEMPTS =>
                        {
                            debug!(
                                component,
                                attempt = round.attempt,
                                "leader node not as expected; reading it and retrying"
                            );
                            act.publish_attempt(round.next(), ctx);
                        }
                        Err(err) => act.publish_failed(&round, err, ctx),
                    }
                })
                .in_span(&self.span),
        );
    }

    /// Our write landed. Every view from before it is stale: forget it and let the cache say
    /// what is there now (a new cache reads at start; a running one is asked to read again).
    fn published(&mut self, round: &PublishRound, ctx: &mut Context<Self>) {
        self.metrics.publishes += 1;
        let (component, session_id) = (round.component.as_str(), round.session_id);
        info!(component, leader_path = round.leader_path, leader_session_id = %session_id, "leader information published");
        let me = ctx.address().recipient();
        let session = self.session.clone();
        if let Some(contender) = self.contenders.get_mut(component) {
            contender.view = NodeView::Unknown;
            contender.trouble = PublishTrouble::default();
            match &contender.cache {
                Some(cache) => cache.do_send(Refresh),
                None => {
                    let path = contender.leader_path.clone();
                    contender.cache = Some(LeaderNodeCache::new(session, path, me).start());
                }
            }
            let event = LeadershipEvent::Published { component: component.to_owned(), session_id };
            Self::send_event(contender, event);
        }
        self.publish_done(component, ctx);
    }

    /// A publish failed: ends it, reports the error (once per grant), and tries again later
    /// for as long as we stay entitled — nothing else would, when the leader node's view does
    /// not change meanwhile. Connection trouble is retried at a steady pace (the connection-loss
    /// policy decides about leadership then); a refusal (an ACL, a quota) with backoff, until
    /// the election's publish patience runs out: then we give the latch up, so that a leader
    /// that cannot publish does not keep everyone else waiting.
    fn publish_failed(&mut self, round: &PublishRound, err: ZkError, ctx: &mut Context<Self>) {
        self.publish_done(&round.component, ctx);
        if !self.still_entitled(round) {
            return;
        }
        let patience = self.config.publish_patience();
        let Some(contender) = self.contenders.get_mut(&round.component) else { return };
        let trouble = &mut contender.trouble;
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
            (since.elapsed() < patience).then(|| crate::session::backoff::delay(REFUSED_PUBLISH_BACKOFF, refusals))
        };
        if first_time {
            self.report(&round.component, err.clone().into());
        }
        match retry_in {
            Some(delay) => self.retry_publish_after(round, delay, ctx),
            None => self.give_up_publishing(round, err),
        }
    }

    fn retry_publish_after(&mut self, round: &PublishRound, delay: Duration, ctx: &mut Context<Self>) {
        let round = round.clone();
        ctx.run_later(delay, move |act, ctx| {
            let _span = act.span.clone().entered();
            if act.still_entitled(&round) {
                debug!(component = round.component, "retrying a failed publish");
                act.publish(&round.component, ctx);
            }
        });
    }

    /// Hands leadership on after a publish was refused for the whole patience: reports it,
    /// revokes, and queues again at the back.
    fn give_up_publishing(&mut self, round: &PublishRound, last: ZkError) {
        let Some(contender) = self.contenders.get(&round.component) else { return };
        let trouble = &contender.trouble;
        let error = ElectionError::PublishAbandoned {
            attempts: trouble.refusals,
            after: trouble.refused_since.map_or(Duration::ZERO, |since| since.elapsed()),
            last,
        };
        warn!(component = round.component, %error, "giving the latch up");
        self.report(&round.component, error);
        self.requeue();
    }

    /// Revokes every grant and queues again at the back of the latch; our leader nodes go in
    /// one multi-op with our latch node, so the successor finds the place free.
    fn requeue(&mut self) {
        let with = self
            .own_leader_nodes()
            .into_iter()
            .filter_map(|(path, version)| version.map(|version| WriteOp::Delete { path, version: Some(version) }))
            .collect();
        // Revoke first, so nobody acts as leader while the latch node is replaced.
        self.on_latch(LatchEvent::NotLeader);
        if let Some(latch) = &self.latch {
            latch.do_send(Requeue { with });
        }
    }

    /// The leader path's parents are missing: create them (persistent, like Flink), then retry.
    fn create_parents_then_retry(&mut self, round: PublishRound, ctx: &mut Context<Self>) {
        let parent = path::parent(&round.leader_path).to_owned();
        self.metrics.zk_requests += 1;
        let create =
            Create::new(parent, Vec::new(), NodeMode::Persistent).acl(self.acl.clone()).parents(Parents::Persistent);
        ctx.spawn(
            self.session
                .send(create)
                .into_actor(self)
                .map(move |result, act, ctx| match result.map_err(ZkError::from).and_then(|r| r) {
                    Ok(_) | Err(ZkError::NodeExists) if act.still_entitled(&round) => {
                        act.publish_attempt(round.next(), ctx);
                    }
                    Ok(_) | Err(ZkError::NodeExists) => act.publish_done(&round.component, ctx),
                    Err(err) => act.publish_failed(&round, err, ctx),
                })
                .in_span(&self.span),
        );
    }

    /// Ends a publish; runs the one that was requested meanwhile, if still needed.
    fn publish_done(&mut self, component: &str, ctx: &mut Context<Self>) {
        let Some(contender) = self.contenders.get_mut(component) else { return };
        contender.publishing = false;
        if std::mem::take(&mut contender.publish_again) {
            self.rewrite_if_needed(component, ctx);
        }
    }

    /// Rewrites the leader node when we are the confirmed leader and the node is not exactly ours.
    fn rewrite_if_needed(&mut self, component: &str, ctx: &mut Context<Self>) {
        if !self.running || self.latch_node.is_none() {
            return;
        }
        let Some(contender) = self.contenders.get(component) else { return };
        let Some(confirmed) = contender.confirmed else { return };
        if !self.node_is_ours(contender, confirmed) {
            self.metrics.rewrites += 1;
            debug!(component, view = ?contender.view, "leader node is not ours; rewriting");
            self.publish(component, ctx);
        }
    }

    fn validate(&self, msg: &Subscribe) -> Result<(), ElectionError> {
        if !self.running {
            return Err(ElectionError::Stopped);
        }
        if msg.component.is_empty() {
            return Err(ConfigError::EmptyComponent.into());
        }
        if msg.address.is_empty() {
            return Err(ConfigError::EmptyAddress.into());
        }
        path::validate("leader path", &msg.leader_path)?;
        if self.contenders.contains_key(&msg.component) {
            return Err(ElectionError::DuplicateComponent(msg.component.clone()));
        }
        if self.contenders.values().any(|c| c.leader_path == msg.leader_path) {
            return Err(ElectionError::DuplicateLeaderPath(msg.leader_path.clone()));
        }
        // An address the codec cannot write would fail every publish; refuse it up front.
        self.config
            .codec()
            .encode(&LeaderInfo::new(msg.address.clone(), Uuid::nil()))
            .map_err(|err| ElectionError::Unencodable(err.into()))?;
        Ok(())
    }

    fn start_latch(&mut self, participant_id: String, ctx: &mut Context<Self>) {
        let latch = LeaderLatch::new(
            self.session.clone(),
            self.config.latch_path().to_owned(),
            participant_id,
            self.acl.clone(),
            self.config.policy(),
            ctx.address().recipient(),
        );
        self.latch = Some(latch.start());
    }
}

impl Actor for ElectionSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.session.do_send(SubscribeFailures(ctx.address().recipient()));
        self.session.do_send(SubscribeLease(ctx.address().recipient()));
        let subscribe = self.session.send(SubscribeConnection(ctx.address().recipient()));
        ctx.wait(
            subscribe
                .into_actor(self)
                .map(|status, act, _ctx| {
                    if let Ok(status) = status {
                        act.set_zk_session(status.session_id);
                        act.lease = Some(status.lease);
                        act.acl = match act.config.acl() {
                            Some(acl) => acl.clone(),
                            None if status.authenticated => NodeAcl::CreatorAll,
                            None => NodeAcl::Open,
                        };
                    }
                })
                .in_span(&self.span),
        );
    }
}

impl Handler<Subscribe> for ElectionSupervisor {
    type Result = Result<(), ElectionError>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        self.validate(&msg)?;
        info!(component = %msg.component, address = %msg.address, leader_path = %msg.leader_path, "contender subscribed");
        self.contenders.insert(
            msg.component.clone(),
            Contender {
                recipient: msg.contender,
                address: msg.address.clone(),
                leader_path: msg.leader_path,
                issued: None,
                confirmed: None,
                cache: None,
                view: NodeView::Unknown,
                publishing: false,
                publish_again: false,
                trouble: PublishTrouble::default(),
            },
        );
        match self.latch {
            None => {
                let participant = self.config.participant_id().map_or(msg.address, str::to_owned);
                self.start_latch(participant, ctx);
            }
            // Already leading: the newcomer leads with us.
            Some(_) if self.leading() => self.grant(&msg.component),
            Some(_) => {}
        }
        Ok(())
    }
}

impl Handler<LatchEvent> for ElectionSupervisor {
    type Result = ();

    fn handle(&mut self, msg: LatchEvent, _ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        self.on_latch(msg);
    }
}

impl Handler<Confirm> for ElectionSupervisor {
    type Result = Result<(), ElectionError>;

    fn handle(&mut self, msg: Confirm, ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        let leading = self.leading();
        let Some(contender) = self.contenders.get_mut(&msg.component) else {
            return Err(ElectionError::UnknownContender(msg.component));
        };
        if !self.running {
            debug!(component = %msg.component, "confirm after stop ignored");
            return Err(ElectionError::Stopped);
        }
        if !leading {
            debug!(component = %msg.component, "confirm while not leader ignored");
            return Err(ElectionError::NotLeader);
        }
        if contender.issued != Some(msg.session_id) {
            debug!(component = %msg.component, confirmed = %msg.session_id, "stale confirm ignored");
            return Err(ElectionError::StaleSessionId { confirmed: msg.session_id, granted: contender.issued });
        }
        if contender.confirmed == Some(msg.session_id) {
            return Ok(()); // repeated confirm: already published or publishing
        }
        contender.confirmed = Some(msg.session_id);
        self.metrics.confirms += 1;
        info!(component = %msg.component, leader_session_id = %msg.session_id, "leadership confirmed");
        self.publish(&msg.component, ctx);
        Ok(())
    }
}

impl Handler<HasLeadership> for ElectionSupervisor {
    type Result = bool;

    fn handle(&mut self, msg: HasLeadership, _ctx: &mut Context<Self>) -> bool {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        self.leading() && self.contenders.get(&msg.component).is_some_and(|c| c.confirmed == Some(msg.session_id))
    }
}

impl Handler<NodeChanged> for ElectionSupervisor {
    type Result = ();

    fn handle(&mut self, msg: NodeChanged, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        let Some((component, contender)) = self.contenders.iter_mut().find(|(_, c)| c.leader_path == msg.path) else {
            return;
        };
        let unreadable = match &msg.view {
            NodeView::Unreadable(error) => Some(error.clone()),
            _ => None,
        };
        contender.view = msg.view;
        let component = component.clone();
        if let Some(error) = unreadable {
            // Worth knowing (someone locked our node away); the rewrite below replaces it.
            self.report(&component, ElectionError::ZooKeeper(error));
        }
        let Some(contender) = self.contenders.get_mut(&component) else { return };
        if contender.publishing {
            // Judge the node once our own write has landed.
            contender.publish_again = true;
            return;
        }
        self.rewrite_if_needed(&component, ctx);
    }
}

impl Handler<ConnectionStateChanged> for ElectionSupervisor {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        self.set_zk_session(msg.session_id);
        if !self.running {
            self.on_connection_after_stop(msg.state, ctx);
        }
    }
}

impl Handler<LeaseChanged> for ElectionSupervisor {
    type Result = ();

    /// A lapse revokes every grant. The lease holding again re-grants (fresh leader session IDs)
    /// only where the latch kept its leadership across the lapse, which only the tolerant policy
    /// does; under `Standard` the lapse came with a `Suspended` and the latch grants again
    /// itself after the reconnect.
    fn handle(&mut self, msg: LeaseChanged, _ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        if msg.holds && self.config.policy() == ConnectionLossPolicy::SessionTolerant {
            self.grant_all();
        }
    }
}

impl Handler<SessionFailed> for ElectionSupervisor {
    type Result = ();

    /// The session cannot be established (credentials refused): the contenders hear it as an
    /// error; the session keeps retrying.
    fn handle(&mut self, msg: SessionFailed, _ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        if self.running {
            self.report_all(ElectionError::ZooKeeper(msg.error));
        }
    }
}

impl Handler<Resign> for ElectionSupervisor {
    type Result = ResponseActFuture<Self, Result<(), ElectionError>>;

    fn handle(&mut self, msg: Resign, ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        if !self.running {
            return Box::pin(actix::fut::ready(Err(ElectionError::Stopped)));
        }
        if !msg.rejoin {
            return Box::pin(Handler::<Stop>::handle(self, Stop, ctx));
        }
        self.requeue();
        Box::pin(actix::fut::ready(Ok(())))
    }
}

impl Handler<Stop> for ElectionSupervisor {
    type Result = ResponseActFuture<Self, Result<(), ElectionError>>;

    fn handle(&mut self, _msg: Stop, _ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        if !self.running {
            return Box::pin(actix::fut::ready(Ok(())));
        }
        info!("stopping election");
        // Original order: running = false and both IDs cleared first, so nothing reaches a
        // contender and no publish starts from here on.
        self.running = false;
        self.latch_node = None;
        let our_session = self.zk_session_id;
        let leader_nodes = self.own_leader_nodes();
        for contender in self.contenders.values_mut() {
            contender.issued = None;
            contender.confirmed = None;
            if let Some(cache) = contender.cache.take() {
                cache.do_send(CloseCache);
            }
        }
        let latch = self.latch.take();
        // The latch first stops reacting, so deleting its node does not make it rejoin.
        let close_latch = async move {
            match latch {
                Some(latch) => latch.send(CloseLatch).await.ok().flatten(),
                None => None,
            }
        };
        Box::pin(
            close_latch
                .into_actor(self)
                .then(move |latch_node, act, _ctx| {
                    act.leave(Leaving { latch_node, leader_nodes, zk_session: our_session })
                })
                .map(|errors, _act, _ctx| {
                    info!(errors = errors.len(), "election stopped");
                    if errors.is_empty() {
                        Ok(())
                    } else {
                        Err(ElectionError::StopFailed(errors))
                    }
                })
                .in_span(&self.span),
        )
    }
}

/// What a stopped supervisor must delete: its latch node, and its leader nodes (with the version
/// its cache saw, if any), all ephemeral nodes of the session `zk_session`.
#[derive(Clone, Debug)]
struct Leaving {
    latch_node: Option<String>,
    leader_nodes: Vec<(String, Option<i32>)>,
    zk_session: Option<i64>,
}

impl ElectionSupervisor {
    /// Deletes what `leaving` names (see [`delete_our_nodes`]); answers the errors. A leave the
    /// connection interrupted is remembered: our nodes live on with our session, and the latch
    /// node would stand in line until the session ends, reaching the head with nobody behind it.
    /// They are deleted after the next reconnect in the same session (Curator's "guaranteed
    /// delete"); a lost session takes them with it. A leave that succeeded leaves nothing to
    /// remember.
    fn leave(&self, leaving: Leaving) -> impl ActorFuture<Self, Output = Vec<ZkError>> + 'static {
        let session = self.session.clone();
        let deletes = async move {
            let errors = delete_our_nodes(&session, &leaving).await;
            (leaving, errors)
        };
        deletes.into_actor(self).map(|(leaving, errors), act, _ctx| {
            let interrupted = !errors.is_empty() && errors.iter().all(ZkError::is_transient);
            if interrupted && leaving.zk_session.is_some() {
                info!("our nodes are deleted after the next reconnect in this session");
                act.pending_leave = Some(leaving);
            }
            errors
        })
    }

    fn on_connection_after_stop(&mut self, state: ConnectionState, ctx: &mut Context<Self>) {
        let Some(leaving) = self.pending_leave.take() else { return };
        match state {
            ConnectionState::Reconnected { same_session: true } => {
                let retry = self.leave(leaving).map(|errors, _act, _ctx| {
                    info!(errors = errors.len(), "left after the reconnect");
                });
                ctx.spawn(retry.in_span(&self.span));
            }
            // Still disconnected: keep waiting.
            ConnectionState::Suspended => self.pending_leave = Some(leaving),
            // The session is gone, and our ephemeral nodes with it.
            ConnectionState::Lost | ConnectionState::Connected | ConnectionState::Reconnected { .. } => {}
        }
    }
}

/// Deletes our leader nodes and our latch node, every leader-node delete guarded by the latch
/// node so that a successor's node is never touched. When every leader node's version is
/// known from the cache, one multi-op does it all (a clean handover costs one request);
/// otherwise, or when that multi-op finds something changed, each leader node is read, then
/// deleted if ours, and the latch node last. Answers the errors that kept something alive.
async fn delete_our_nodes(session: &Addr<ZkSession>, leaving: &Leaving) -> Vec<ZkError> {
    let Leaving { latch_node, leader_nodes, zk_session: our_session } = leaving.clone();
    if let Some(node) = &latch_node {
        let known: Option<Vec<WriteOp>> = leader_nodes
            .iter()
            .map(|(path, version)| {
                version.map(|version| WriteOp::Delete { path: path.clone(), version: Some(version) })
            })
            .collect();
        if let Some(mut ops) = known {
            ops.push(WriteOp::Delete { path: node.clone(), version: None });
            match session.send(GuardedMulti { guard: node.clone(), guard_version: None, ops }).await {
                Ok(Ok(())) => return Vec::new(),
                // Disconnected: the careful path would fail the same way, only later.
                Ok(Err(err)) if err.is_transient() => return vec![err],
                Err(mailbox) => return vec![mailbox.into()],
                // A node changed under us (or our latch node is gone): read and decide per node.
                Ok(Err(_)) => {}
            }
        }
    }
    let mut errors = Vec::new();
    for (path, _) in leader_nodes {
        if let Err(err) = delete_own_leader_node(session, path, latch_node.clone(), our_session).await {
            errors.push(err);
        }
    }
    if let Some(node) = latch_node {
        match session.send(Delete { path: node, version: None }).await.map_err(ZkError::from).and_then(|r| r) {
            Ok(()) | Err(ZkError::NoNode) => {}
            Err(err) => errors.push(err),
        }
    }
    errors
}

/// Deletes the leader node at `path` if our session owns it; guarded by our latch node when
/// we still hold one.
async fn delete_own_leader_node(
    session: &Addr<ZkSession>,
    path: String,
    guard: Option<String>,
    our_session: Option<i64>,
) -> Result<(), ZkError> {
    let Some(stat) = session.send(Exists { path: path.clone(), watch: None }).await?? else { return Ok(()) };
    if Some(stat.ephemeral_owner) != our_session {
        return Ok(());
    }
    let version = Some(stat.version);
    let result = match guard {
        Some(guard) => {
            session
                .send(GuardedMulti { guard, guard_version: None, ops: vec![WriteOp::Delete { path, version }] })
                .await?
        }
        None => session.send(Delete { path, version }).await?,
    };
    match result {
        Ok(()) | Err(ZkError::NoNode | ZkError::BadVersion | ZkError::GuardFailed { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

impl Handler<GetMetrics> for ElectionSupervisor {
    type Result = ResponseActFuture<Self, ElectionMetrics>;

    fn handle(&mut self, _msg: GetMetrics, _ctx: &mut Context<Self>) -> Self::Result {
        let latch = self.latch.clone();
        let fetch = async move {
            match latch {
                Some(latch) => latch.send(crate::latch::GetLatchStats).await.ok(),
                None => None,
            }
        };
        Box::pin(
            fetch
                .into_actor(self)
                .map(|stats, act, _ctx| {
                    let mut metrics = act.metrics.clone();
                    if let Some(stats) = stats {
                        metrics.latch_watches_fired = stats.watches_fired;
                        metrics.zk_requests += stats.requests;
                    }
                    metrics.is_leader = act.leading();
                    metrics
                })
                .in_span(&self.span),
        )
    }
}
