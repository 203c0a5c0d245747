//! The latch actor: a leader latch compatible with Apache Curator's `LeaderLatch`.
//!
//! Each participant creates `{latch_path}/_c_{uuid}-latch-{seq}` (EPHEMERAL_SEQUENTIAL, data =
//! participant ID). The child with the lowest sequence leads; every other participant watches
//! only its immediate predecessor, so a leader change wakes exactly one process. Unlike Curator,
//! every participant also watches its own node, armed once per node at its first look at the
//! line: a node deleted underneath it (by an operator, or with the whole latch path) demotes a
//! leader at once and sends a waiting participant back into line, and a failover costs no extra
//! request.
//!
//! When its predecessor goes, a waiting participant lists the latch again even if that
//! predecessor led. Sequence numbers only grow, so nobody can have slipped in ahead; but its
//! own node may have gone in the same breath (an operator clearing the latch), and leading on
//! the notification alone would grant it on a deleted node, with an old fencing token, after a
//! successor with a newer one (`tests/latch_handover.rs`). The second look costs one read.
//!
//! State: `Link` (the session as the latch sees it) and `Place` (where we stand in line),
//! changed in `on_connection` and in the continuations of the few requests below.

mod join;
mod messages;
mod state;

use std::time::Duration;

use actix::prelude::*;
use tracing::{debug, field, info, info_span, warn, Span};

use crate::ask::AsksSession;
use crate::error::ZkError;
use crate::policy::ConnectionLossPolicy;
use crate::session::{
    ConnectionState, ConnectionStateChanged, Delete, GetChildren, GetData, GuardedMulti, NodeAcl, SubscribeConnection,
    WatchEvent, WatchFired, WriteOp, ZkSession,
};
use crate::trace::InSpanExt;
pub use messages::*;
pub use state::participants_in_order;
use state::{InLine, Link, Place, WatchSlot};

/// Pause before retrying after an error that is not about the connection (e.g. an ACL denial).
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

/// The latch actor; one per participant. Started by the election supervisor.
pub struct LeaderLatch {
    session: Addr<ZkSession>,
    latch_path: String,
    participant_id: String,
    acl: NodeAcl,
    policy: ConnectionLossPolicy,
    owner: Recipient<LatchEvent>,
    link: Link,
    place: Place,
    /// Nodes of ours that must go (left behind by a reset or a resign) but whose delete has not
    /// been confirmed yet. While our session lives they would stand in line forever, ahead of
    /// everyone, so they are deleted again on every reconnect until the server confirms.
    stale_nodes: Vec<String>,
    /// Name prefixes of creates whose outcome is unknown and that a reset overtook: if such a
    /// node exists in our session it is just as stale.
    stale_prefixes: Vec<String>,
    /// Bumped on every reset and on close: answers to older requests are dropped.
    epoch: u64,
    stats: LatchMetrics,
    /// `latch{node}`, remade for every node we create.
    span: Span,
    /// The span current where the latch was made (the election's): the parent of `span`.
    parent_span: Span,
}

impl std::fmt::Debug for LeaderLatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderLatch")
            .field("latch_path", &self.latch_path)
            .field("participant_id", &self.participant_id)
            .field("link", &self.link)
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

impl AsksSession for LeaderLatch {
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
        self.stats.requests += 1;
    }
}

impl LeaderLatch {
    /// A latch at `latch_path` for participant `participant_id`, reporting to `owner`.
    pub fn new(
        session: Addr<ZkSession>,
        latch_path: String,
        participant_id: String,
        acl: NodeAcl,
        policy: ConnectionLossPolicy,
        owner: Recipient<LatchEvent>,
    ) -> Self {
        LeaderLatch {
            session,
            latch_path,
            participant_id,
            acl,
            policy,
            owner,
            link: Link::Down,
            place: Place::Outside,
            stale_nodes: Vec::new(),
            stale_prefixes: Vec::new(),
            epoch: 0,
            stats: LatchMetrics::default(),
            span: latch_span(&Span::current(), None),
            parent_span: Span::current(),
        }
    }

    /// A fresh span for our new node (a formatter would show a re-recorded field twice).
    fn name_span(&mut self, node: &str) {
        self.span = latch_span(&self.parent_span, Some(node));
    }

    /// Takes our node in line as leader or not, telling the owner of a change.
    fn set_leader(&mut self, leader: bool) {
        let Place::InLine(line) = &mut self.place else { return };
        if line.leader == leader {
            return;
        }
        line.leader = leader;
        let event = if leader {
            LatchEvent::IsLeader { node: line.node.clone(), czxid: line.czxid }
        } else {
            LatchEvent::NotLeader
        };
        info!(leader, "latch leadership changed");
        self.owner.do_send(event);
    }

    /// Leaves our place: the owner hears `NotLeader` if we led; answers our node, if any.
    fn leave_place(&mut self) -> Place {
        self.set_leader(false);
        std::mem::replace(&mut self.place, Place::Outside)
    }

    /// Drops our node (if any) and joins the latch again with a fresh one.
    fn reset(&mut self, ctx: &mut Context<Self>) {
        self.epoch += 1;
        match self.leave_place() {
            // The previous node may belong to an older session; delete it so it cannot lead.
            Place::InLine(line) => self.stale_nodes.push(line.node),
            // A create whose answer we never got may have left a node behind.
            Place::Joining { prefix } | Place::Unsure { prefix } => self.stale_prefixes.push(prefix),
            Place::Outside => {}
        }
        self.delete_stale(ctx);
        if self.link.has_session() {
            self.create_node(ctx);
        }
    }

    /// A request failed because of the connection. The next `Reconnected` resumes; should the
    /// connection in fact be up (a disconnect too short to be reported), resume after a pause.
    fn wait_for_connection(&mut self, err: ZkError, ctx: &mut Context<Self>) {
        debug!(error = %err, "latch waits for the connection");
        let epoch = self.epoch;
        ctx.run_later(RETRY_AFTER_ERROR, move |act, ctx| {
            let _span = act.span.clone().entered();
            if act.epoch == epoch && act.link == Link::Up {
                act.resume(ctx);
            }
        });
    }

    /// Picks up where we are after the connection came back in the same session.
    fn resume(&mut self, ctx: &mut Context<Self>) {
        self.delete_stale(ctx);
        match &mut self.place {
            // The create or search under way decides.
            Place::Joining { .. } => {}
            Place::InLine(line) => {
                line.watching = None;
                self.check_leadership(ctx);
            }
            // The create may have landed without an answer: look before creating another.
            Place::Unsure { .. } => self.find_lost_node(ctx),
            Place::Outside => self.reset(ctx),
        }
    }

    /// Lists the participants and either takes the lead or watches the predecessor.
    fn check_leadership(&mut self, ctx: &mut Context<Self>) {
        let list = GetChildren { path: self.latch_path.clone(), watch: None };
        self.ask(ctx, list, |act, result, ctx| match result {
            Ok(children) => act.on_children(children, ctx),
            // The latch path vanished (container cleanup, operator): our node went with it.
            Err(ZkError::NoNode) => act.reset(ctx),
            Err(err) if err.is_transient() => act.wait_for_connection(err, ctx),
            Err(err) => act.on_error(err, ctx),
        });
    }

    fn on_children(&mut self, children: Vec<String>, ctx: &mut Context<Self>) {
        let Some(node) = self.place.node().map(str::to_owned) else { return };
        let our_name = node.rsplit('/').next().unwrap_or_default();
        let ordered = participants_in_order(&children);
        let Some(position) = ordered.iter().position(|name| *name == our_name) else {
            info!(node = %node, "our latch node is gone; rejoining");
            self.reset(ctx);
            return;
        };
        // Once per node (re-armed only after it fired or failed): its deletion tells us at once.
        self.arm_watch(WatchSlot::OwnNode, node, ctx);
        if position == 0 {
            if self.link == Link::Suspended && !self.place.leads() {
                // Learnt over a connection that has dropped since: confirm after reconnect.
                debug!("first in line while suspended; waiting for the reconnect");
                return;
            }
            self.set_leader(true);
        } else {
            self.set_leader(false);
            let predecessor = format!("{}/{}", self.latch_path, ordered[position - 1]);
            self.arm_watch(WatchSlot::Predecessor, predecessor, ctx);
        }
    }

    /// Marks the watch `slot` as armed on `path`; false if it already was (or we are not in
    /// line).
    fn claim_watch(&mut self, slot: WatchSlot, path: &str) -> bool {
        let Place::InLine(line) = &mut self.place else { return false };
        match slot {
            WatchSlot::Predecessor if line.watching.as_deref() != Some(path) => line.watching = Some(path.to_owned()),
            WatchSlot::OwnNode if !line.own_watch => line.own_watch = true,
            _ => return false,
        }
        true
    }

    /// Forgets the watch `slot` (it fired, or could not be set).
    fn release_watch(&mut self, slot: WatchSlot) {
        if let Place::InLine(line) = &mut self.place {
            match slot {
                WatchSlot::Predecessor => line.watching = None,
                WatchSlot::OwnNode => line.own_watch = false,
            }
        }
    }

    /// Sets a data watch on `path` unless one is armed there already; if the node is already
    /// gone, re-checks at once.
    fn arm_watch(&mut self, slot: WatchSlot, path: String, ctx: &mut Context<Self>) {
        if !self.claim_watch(slot, &path) {
            return;
        }
        let read = GetData { path, watch: Some(ctx.address().recipient()) };
        self.ask(ctx, read, move |act, result, ctx| {
            let Err(err) = result else { return };
            act.release_watch(slot);
            match err {
                ZkError::NoNode => act.check_leadership(ctx),
                err if err.is_transient() => act.wait_for_connection(err, ctx),
                err => act.on_error(err, ctx),
            }
        });
    }

    fn on_error(&mut self, err: ZkError, ctx: &mut Context<Self>) {
        warn!(error = %err, "latch operation failed; retrying");
        self.owner.do_send(LatchEvent::Failed(err));
        let epoch = self.epoch;
        ctx.run_later(RETRY_AFTER_ERROR, move |act, ctx| {
            let _span = act.span.clone().entered();
            if act.epoch != epoch || act.link == Link::Closed {
                return;
            }
            match act.place {
                Place::InLine(_) => act.check_leadership(ctx),
                Place::Joining { .. } => {}
                Place::Outside | Place::Unsure { .. } => act.create_node(ctx),
            }
        });
    }

    fn on_connection(&mut self, state: ConnectionState, ctx: &mut Context<Self>) {
        match state {
            ConnectionState::Connected => {
                self.link = Link::Up;
                self.reset(ctx);
            }
            ConnectionState::Suspended => {
                self.link = Link::Suspended;
                if self.policy == ConnectionLossPolicy::Standard {
                    self.set_leader(false);
                }
            }
            ConnectionState::Reconnected { same_session: true } => {
                self.link = Link::Up;
                // Our node and watches survived; a check restores leadership if we still lead
                // (Standard) or confirms we still do (SessionTolerant, which never let go).
                self.resume(ctx);
            }
            ConnectionState::Reconnected { same_session: false } => {
                self.link = Link::Up;
                // Whatever the old session owned is gone (or goes when the server expires it).
                self.forget_stale();
                self.reset(ctx);
            }
            ConnectionState::Lost => {
                self.link = Link::Down;
                self.forget_stale();
                self.set_leader(false);
                // The node (if any) went with the session; the reset after the reconnect
                // lists it as stale all the same. Watches and requests under way are void.
                self.place = match std::mem::replace(&mut self.place, Place::Outside) {
                    Place::InLine(line) => Place::InLine(InLine::new(line.node, line.czxid)),
                    Place::Joining { prefix } => Place::Unsure { prefix },
                    other => other,
                };
            }
        }
    }
}

/// `latch{node}` under `parent`; a fresh one per node, since a formatter prints every value
/// ever recorded on a field.
fn latch_span(parent: &Span, node: Option<&str>) -> Span {
    let span = info_span!(parent: parent, "latch", node = field::Empty);
    if let Some(node) = node {
        span.record("node", field::display(node));
    }
    span
}

impl Actor for LeaderLatch {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let subscribe = self.session.send(SubscribeConnection(ctx.address().recipient()));
        ctx.wait(
            subscribe
                .into_actor(self)
                .map(|status, act, ctx| match status {
                    Ok(status) if status.is_connected() => act.on_connection(ConnectionState::Connected, ctx),
                    Ok(_) => debug!("latch waits for the session"),
                    Err(_) => {
                        act.owner.do_send(LatchEvent::Failed(ZkError::SessionStopped));
                        ctx.stop();
                    }
                })
                .in_span(&self.span),
        );
    }
}

impl Handler<ConnectionStateChanged> for LeaderLatch {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        if self.link != Link::Closed {
            self.on_connection(msg.state, ctx);
        }
    }
}

impl Handler<WatchFired> for LeaderLatch {
    type Result = ();

    fn handle(&mut self, msg: WatchFired, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        if self.link == Link::Closed || msg.event == WatchEvent::SessionEnded {
            return;
        }
        self.stats.watches_fired += 1;
        let Place::InLine(line) = &self.place else { return };
        let slot = if line.watching.as_deref() == Some(msg.path.as_str()) {
            WatchSlot::Predecessor
        } else if line.own_watch && line.node == msg.path {
            WatchSlot::OwnNode
        } else {
            return;
        };
        self.release_watch(slot);
        self.check_leadership(ctx);
    }
}

impl Handler<Requeue> for LeaderLatch {
    type Result = ();

    fn handle(&mut self, msg: Requeue, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        if self.link == Link::Closed {
            return;
        }
        if let (Some(node), false) = (self.place.node().map(str::to_owned), msg.with.is_empty()) {
            // Taken out of the reset's hands: this delete carries the owner's writes.
            self.leave_place();
            let mut ops = msg.with;
            ops.push(WriteOp::Delete { path: node.clone(), version: None });
            let multi = GuardedMulti { guard: node.clone(), guard_version: None, ops };
            // Not dropped when stale: the reset below starts a new epoch at once.
            self.ask_any(ctx, multi, move |act, result, _, ctx| {
                if result.is_err() && act.link != Link::Closed {
                    act.stale_nodes.push(node);
                    act.delete_stale(ctx);
                }
            });
        }
        self.reset(ctx);
    }
}

impl Handler<StopLatch> for LeaderLatch {
    type Result = Option<String>;

    fn handle(&mut self, _msg: StopLatch, ctx: &mut Context<Self>) -> Option<String> {
        let _span = self.span.clone().entered();
        // Closed before the caller deletes our node: its watch firing must not start a rejoin.
        self.link = Link::Closed;
        self.epoch += 1;
        // Best effort: nodes of ours still waiting to be deleted go too. (A create still in
        // flight deletes its node when its answer finds us closed.)
        for path in std::mem::take(&mut self.stale_nodes) {
            self.session.do_send(Delete { path, version: None });
        }
        // The owner stopped first and ignores us from now on; no NotLeader is owed.
        match std::mem::replace(&mut self.place, Place::Outside) {
            Place::InLine(line) => {
                ctx.stop();
                Some(line.node)
            }
            // The create (or search) under way deletes what it finds, then stops us.
            Place::Joining { .. } => None,
            Place::Outside | Place::Unsure { .. } => {
                ctx.stop();
                None
            }
        }
    }
}

impl Handler<GetLatchMetrics> for LeaderLatch {
    type Result = MessageResult<GetLatchMetrics>;

    fn handle(&mut self, _msg: GetLatchMetrics, _ctx: &mut Context<Self>) -> Self::Result {
        let node = self.place.node().map(str::to_owned);
        MessageResult(LatchMetrics { node, is_leader: self.place.leads(), ..self.stats.clone() })
    }
}
