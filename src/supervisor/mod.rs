//! The election supervisor: the state machine of Flink's `ZooKeeperLeaderElectionService`, one
//! row per handler, as actor-private state (ARCHITECTURE.md traces a grant through it).
//!
//! | event | here |
//! |---|---|
//! | subscribe | [`Handler<Subscribe>`]: validates, joins the latch with the first contender |
//! | latch: is leader | `on_latch`: only if running and within the session lease: every contender → `Role::Granted` with a fresh leader session, **granted** |
//! | latch: not leader, lease lapsed | `revoke_all`: every contender → `Role::Follower` (its leader node, cache and write state dropped), **revoked** |
//! | confirm | [`Handler<Confirm>`]: only if leading and the ID is the one granted: → `Role::Leading`, publish |
//! | leader node changed | [`Handler<NodeChanged>`]: only while leading: rewrite when absent, foreign, undecodable or different |
//! | publish | `publish.rs`: one guarded multi-op (latch node must exist); refused writes retried, the latch given up after the publish patience |
//! | stop | `leave.rs`: → `Lifecycle::Stopped` first; leader nodes and latch node deleted in one guarded multi-op (retried after the next reconnect if the connection broke it) |

mod contenders;
mod fencing;
mod leave;
mod publish;
mod role;

use actix::prelude::*;
use tracing::{debug, field, info, info_span, warn, Span};
use uuid::Uuid;

use crate::ask::AsksSession;
use crate::codec::LeaderInfo;
use crate::config::ElectionConfig;
use crate::contender::{Confirm, ElectionError, LeadershipEvent, Resign, Stop, Subscribe};
use crate::error::ConfigError;
use crate::latch::{LatchEvent, LeaderLatch, Requeue};
use crate::metrics::{ElectionMetrics, GetMetrics};
use crate::node_cache::{NodeChanged, NodeView};
use crate::policy::ConnectionLossPolicy;
use crate::session::{
    ConnectionStateChanged, Lease, LeaseChanged, NodeAcl, SessionFailed, Stat, SubscribeConnection, SubscribeFailures,
    SubscribeLease, WriteOp, ZkSession,
};
use crate::telemetry::ContenderMeter;
use crate::trace::InSpanExt;
use contenders::Contenders;
use leave::Leaving;
use role::{Contender, Role, Write};

/// Whether the election runs, and what only a running or a stopped one has.
enum Lifecycle {
    /// Contenders take part. `latch` exists from the first subscribe on; `held` while we hold
    /// the latch.
    Running { latch: Option<Addr<LeaderLatch>>, held: Option<Held> },
    /// Stopped: every late event is ignored. `pending_leave`: nodes a stop could not delete
    /// for want of a connection, deleted after the next reconnect in the same session.
    Stopped { pending_leave: Option<Leaving> },
}

/// The latch as we hold it.
#[derive(Clone, Debug)]
struct Held {
    /// Our latch node: the guard of every leader write.
    node: String,
    /// The zxid that created it, which every leader on it gets as its fencing token. The
    /// leader is the lowest live latch node, and every node created later has a larger czxid,
    /// so successive leaders' tokens strictly increase (ARCHITECTURE.md, "Fencing").
    fencing_token: i64,
}

/// The election supervisor for one latch path. Start it with [`ElectionSupervisor::start`].
pub struct ElectionSupervisor {
    session: Addr<ZkSession>,
    config: ElectionConfig,
    lifecycle: Lifecycle,
    /// Our ZooKeeper session ID, to recognise leader nodes we own.
    zk_session: Option<i64>,
    /// The session's lease: nobody leads here while it does not hold, whatever the latch says.
    lease: Option<Lease>,
    /// ACL of the nodes we create, resolved at start from the config and the session's auth.
    acl: NodeAcl,
    /// By component name, sized to what it holds (see `contenders.rs` for why not a map).
    contenders: Contenders,
    /// Bumped whenever every grant ends (revoke, stop): answers to requests made for an
    /// earlier leadership are dropped.
    epoch: u64,
    metrics: ElectionMetrics,
    /// `election{latch, zk_session}`: every event of this election, its latch and caches.
    span: Span,
}

impl std::fmt::Debug for ElectionSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectionSupervisor")
            .field("latch_path", &self.config.latch_path())
            .field("zk_session", &self.zk_session)
            .field("running", &matches!(self.lifecycle, Lifecycle::Running { .. }))
            .field("contenders", &self.contenders.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ElectionSupervisor {
    /// Starts a supervisor for the election `config` over `session`, on the current arbiter.
    #[must_use = "an actor stops once no `Addr` to it is left"]
    pub fn start(session: Addr<ZkSession>, config: ElectionConfig) -> Addr<ElectionSupervisor> {
        ElectionSupervisor {
            session,
            lifecycle: Lifecycle::Running { latch: None, held: None },
            zk_session: None,
            lease: None,
            acl: NodeAcl::Open,
            span: info_span!("election", latch = %config.latch_path(), zk_session = field::Empty),
            contenders: Contenders::default(),
            epoch: 0,
            metrics: ElectionMetrics::default(),
            config,
        }
        .start()
    }

    fn running(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Running { .. })
    }

    /// Our latch node while we hold the latch.
    fn held(&self) -> Option<&str> {
        self.held_latch().map(|held| held.node.as_str())
    }

    fn held_latch(&self) -> Option<&Held> {
        match &self.lifecycle {
            Lifecycle::Running { held, .. } => held.as_ref(),
            Lifecycle::Stopped { .. } => None,
        }
    }

    /// The fencing token of our leadership: the czxid of the latch node we hold.
    fn fencing_token(&self) -> Option<i64> {
        self.held_latch().map(|held| held.fencing_token)
    }

    /// Whether the node with `stat` is an ephemeral of our current ZooKeeper session.
    fn owns(&self, stat: &Stat) -> bool {
        Some(stat.ephemeral_owner) == self.zk_session
    }

    /// Remembers our ZooKeeper session ID (to recognise nodes we own) and names it in our span.
    fn set_zk_session(&mut self, zk_session: Option<i64>) {
        // Recorded on change only: a formatter shows every recorded value, the last one current.
        if let Some(id) = zk_session.filter(|id| Some(*id) != self.zk_session) {
            self.span.record("zk_session", field::display(format_args!("{id:#x}")));
        }
        self.zk_session = zk_session;
    }

    /// Whether the session's lease holds: the server is known to keep our session (and with it
    /// our latch node) at least until then.
    fn lease_holds(&self) -> bool {
        self.lease.as_ref().is_some_and(Lease::holds)
    }

    /// Whether we may lead now: running, first in the latch, and within the session's lease.
    fn leading(&self) -> bool {
        self.held().is_some() && self.lease_holds()
    }

    fn grant(&mut self, component: &str) {
        let Some(fencing_token) = self.fencing_token() else { return };
        let Some(contender) = self.contenders.get_mut(component) else { return };
        let leader_session = Uuid::new_v4();
        contender.role = Role::Granted { leader_session };
        self.metrics.grants += 1;
        contender.meter.granted();
        info!(component, %leader_session, fencing_token, "leadership granted");
        let component = component.to_owned();
        contender.send(LeadershipEvent::Granted { component, leader_session, fencing_token });
    }

    /// Grants every contender that holds no grant, if we may lead.
    fn grant_all(&mut self) {
        if !self.leading() {
            return;
        }
        let due: Vec<String> =
            self.contenders.iter().filter(|(_, c)| matches!(c.role, Role::Follower)).map(|(k, _)| k.clone()).collect();
        for component in due {
            self.grant(&component);
        }
    }

    /// Revokes every grant: what leading owned goes with the role.
    fn revoke_all(&mut self) {
        self.epoch += 1;
        for (component, contender) in self.contenders.iter_mut() {
            if matches!(std::mem::replace(&mut contender.role, Role::Follower), Role::Follower) {
                continue;
            }
            self.metrics.revokes += 1;
            contender.meter.revoked();
            info!(component, "leadership revoked");
            contender.send(LeadershipEvent::Revoked { component: component.clone() });
        }
    }

    /// Revokes at once if the lease ran out while grants stand. Called first in every handler:
    /// a process resumed after a pause must step down before it answers or does anything else,
    /// not when the session's report of the lapse reaches us.
    fn enforce_lease(&mut self) {
        let granted = self.contenders.values().any(|c| !matches!(c.role, Role::Follower));
        if granted && self.held().is_some() && !self.lease_holds() {
            info!("session lease lapsed: stepping down");
            self.revoke_all();
        }
    }

    fn on_latch(&mut self, event: LatchEvent) {
        let Lifecycle::Running { held, .. } = &mut self.lifecycle else { return };
        match event {
            LatchEvent::IsLeader { node, czxid } => {
                *held = Some(Held { node, fencing_token: czxid });
                self.grant_all();
            }
            LatchEvent::NotLeader => {
                *held = None;
                self.revoke_all();
            }
            LatchEvent::Failed(error) => self.report_all(ElectionError::ZooKeeper(error)),
        }
    }

    fn report_all(&self, error: ElectionError) {
        for (component, contender) in self.contenders.iter() {
            contender.send(LeadershipEvent::Error { component: component.clone(), error: error.clone() });
        }
    }

    fn report(&self, component: &str, error: ElectionError) {
        if let Some(contender) = self.contenders.get(component) {
            warn!(component, %error, "election error");
            contender.send(LeadershipEvent::Error { component: component.to_owned(), error });
        }
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
        if let Lifecycle::Running { latch: Some(latch), .. } = &self.lifecycle {
            latch.do_send(Requeue { with });
        }
    }

    fn validate(&self, msg: &Subscribe) -> Result<(), ElectionError> {
        if !self.running() {
            return Err(ElectionError::Stopped);
        }
        if msg.component.is_empty() {
            return Err(ConfigError::EmptyComponent.into());
        }
        if msg.address.is_empty() {
            return Err(ConfigError::EmptyAddress.into());
        }
        self.config.check_leader_path(&msg.leader_path)?;
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

    fn start_latch(&self, participant_id: String, ctx: &mut Context<Self>) -> Addr<LeaderLatch> {
        LeaderLatch::new(
            self.session.clone(),
            self.config.latch_path().to_owned(),
            participant_id,
            self.acl.clone(),
            self.config.policy(),
            ctx.address().recipient(),
        )
        .start()
    }
}

impl AsksSession for ElectionSupervisor {
    fn session(&self) -> &Addr<ZkSession> {
        &self.session
    }

    fn epoch(&self) -> u64 {
        self.epoch
    }

    fn span(&self) -> &Span {
        &self.span
    }

    fn count_request(&mut self) {
        self.metrics.zk_requests += 1;
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
                        act.set_zk_session(status.zk_session);
                        act.lease = Some(status.lease);
                        act.acl = act.config.acl().cloned().unwrap_or(status.default_acl);
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
        let participant = self.config.participant_id().map_or_else(|| msg.address.clone(), str::to_owned);
        let meter = ContenderMeter::new(self.config.latch_path(), &msg.component);
        let contender = Contender::new(msg.contender, msg.address, msg.leader_path, meter);
        self.contenders.insert(msg.component.clone(), contender);
        let new_latch = match &self.lifecycle {
            Lifecycle::Running { latch: None, .. } => Some(self.start_latch(participant, ctx)),
            _ => None,
        };
        if let (Some(new_latch), Lifecycle::Running { latch, .. }) = (new_latch, &mut self.lifecycle) {
            *latch = Some(new_latch);
        }
        // Already leading: the newcomer leads with us.
        if self.leading() {
            self.grant(&msg.component);
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
        let (running, leading) = (self.running(), self.leading());
        let Some(contender) = self.contenders.get_mut(&msg.component) else {
            return Err(ElectionError::UnknownContender(msg.component));
        };
        if !running {
            debug!(component = %msg.component, "confirm after stop ignored");
            return Err(ElectionError::Stopped);
        }
        if !leading {
            debug!(component = %msg.component, "confirm while not leader ignored");
            return Err(ElectionError::NotLeader);
        }
        let confirmed = msg.leader_session;
        match contender.role {
            Role::Granted { leader_session } if leader_session == confirmed => {}
            // Repeated confirm: already published or publishing.
            Role::Leading { leader_session, .. } if leader_session == confirmed => return Ok(()),
            ref role => {
                debug!(component = %msg.component, %confirmed, "stale confirm ignored");
                return Err(ElectionError::StaleLeaderSession { confirmed, granted: role.granted() });
            }
        }
        contender.role = Role::Leading { leader_session: confirmed, node: Default::default() };
        self.metrics.confirms += 1;
        contender.meter.confirmed();
        info!(component = %msg.component, leader_session = %confirmed, "leadership confirmed");
        self.publish(&msg.component, ctx);
        Ok(())
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
        let component = component.clone();
        // Only a leader watches its node; a report from a cache being closed is late.
        let Role::Leading { node, .. } = &mut contender.role else { return };
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
        if !writing {
            self.rewrite_if_needed(&component, ctx);
        }
    }
}

impl Handler<ConnectionStateChanged> for ElectionSupervisor {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        self.set_zk_session(msg.zk_session);
        if !self.running() {
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
        if self.running() {
            self.report_all(ElectionError::ZooKeeper(msg.error));
        }
    }
}

impl Handler<Resign> for ElectionSupervisor {
    type Result = ResponseActFuture<Self, Result<(), ElectionError>>;

    fn handle(&mut self, msg: Resign, ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        self.enforce_lease();
        if !self.running() {
            return Box::pin(actix::fut::ready(Err(ElectionError::Stopped)));
        }
        if !msg.rejoin {
            return Box::pin(Handler::<Stop>::handle(self, Stop, ctx));
        }
        self.requeue();
        Box::pin(actix::fut::ready(Ok(())))
    }
}

impl Handler<GetMetrics> for ElectionSupervisor {
    type Result = ResponseActFuture<Self, ElectionMetrics>;

    fn handle(&mut self, _msg: GetMetrics, _ctx: &mut Context<Self>) -> Self::Result {
        let latch = match &self.lifecycle {
            Lifecycle::Running { latch, .. } => latch.clone(),
            Lifecycle::Stopped { .. } => None,
        };
        let fetch = async move {
            match latch {
                Some(latch) => latch.send(crate::latch::GetLatchMetrics).await.ok(),
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
