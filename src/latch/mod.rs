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
//! State: `Link` (the session as the latch sees it) and `Place` (where we stand in line). The
//! place changes only in `LeaderLatch::change_place`, which tells the owner when leadership
//! comes or goes: it cannot be gained or lost without the owner hearing of it.

mod candidate;
mod cleanup;
mod join;
mod leave_record;
mod messages;
mod state;
mod upkeep;

use actix::prelude::*;
use tracing::{debug, field, info, info_span, Span};

use crate::policy::ConnectionLossPolicy;
use crate::port::{ConnectionStateChanged, OwnsPort, Port, Subscription, WatchFired, ZooKeeper};
use crate::zk::{ConnectionState, GetChildren, GuardedMulti, NodeAcl, WatchEvent, WriteOp, ZkError};
pub use candidate::{priority_of, CandidateInfo};
use cleanup::Cleanup;
pub(crate) use leave_record::{leave_record, who_left};
pub use messages::*;
pub use state::participants_in_order;
use state::{Link, Place, Standing, WatchSlot};

/// The longest round trip of a proof of first place that the latch leads on at once.
const PROOF_MAX_AGE: std::time::Duration = std::time::Duration::from_millis(500);
/// How often a slow proof is asked again before the latch leads on one: a pause makes one
/// answer late, a slow link makes every answer late, and must not keep the latch from leading.
const SLOW_PROOF_RETRIES: u8 = 2;

/// The latch actor; one per participant. Started by the election supervisor.
pub struct LeaderLatch {
    port: Port,
    latch_path: String,
    /// What our node announces (its data and, for the priority, its name).
    candidate: CandidateInfo,
    acl: NodeAcl,
    policy: ConnectionLossPolicy,
    owner: Recipient<LatchEvent>,
    link: Link,
    place: Place,
    /// Nodes of ours that must go (left behind by a reset or a resign, or made by creates of
    /// unknown outcome). While our session lives they would stand in line forever, ahead of
    /// everyone, so they are deleted again on every reconnect until the server confirms.
    cleanup: Cleanup,
    stats: LatchMetrics,
    /// How long we stay out of line after we led (resigned, handed over, lost it).
    cooldown: std::time::Duration,
    /// Out of line until then: a cooldown runs.
    cooling_until: Option<tokio::time::Instant>,
    /// Out of line until the owner says [`Rejoin`] (it reported itself unhealthy).
    sitting_out: bool,
    /// The span current where the latch was made (the election's): the parent of the port's
    /// `latch{node}` span.
    parent_span: Span,
}

impl std::fmt::Debug for LeaderLatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderLatch")
            .field("latch_path", &self.latch_path)
            .field("candidate", &self.candidate)
            .field("link", &self.link)
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

impl OwnsPort for LeaderLatch {
    fn port(&self) -> &Port {
        &self.port
    }
}

impl LeaderLatch {
    /// A latch at `latch_path` for participant `participant_id` over `zookeeper`, reporting to
    /// `owner`.
    pub fn new(
        zookeeper: impl Into<ZooKeeper>,
        latch_path: String,
        candidate: impl Into<CandidateInfo>,
        acl: NodeAcl,
        policy: ConnectionLossPolicy,
        owner: Recipient<LatchEvent>,
    ) -> Self {
        LeaderLatch {
            port: Port::new(zookeeper.into(), latch_span(&Span::current(), None)),
            latch_path,
            candidate: candidate.into(),
            acl,
            policy,
            owner,
            link: Link::Down,
            place: Place::Outside,
            cleanup: Cleanup::default(),
            stats: LatchMetrics::default(),
            cooldown: std::time::Duration::ZERO,
            cooling_until: None,
            sitting_out: false,
            parent_span: Span::current(),
        }
    }

    /// Stays out of line for `cooldown` after it led, before it queues again.
    pub fn with_cooldown(mut self, cooldown: std::time::Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Starts the cooldown (if one is configured).
    fn cool_down(&mut self) {
        if !self.cooldown.is_zero() {
            self.cooling_until = Some(tokio::time::Instant::now() + self.cooldown);
        }
    }

    /// A fresh span for our new node (a formatter would show a re-recorded field twice).
    fn name_span(&mut self, node: &str) {
        self.port.set_span(latch_span(&self.parent_span, Some(node)));
    }

    /// The one place the place changes: `next` computes the new place from the old, and the
    /// owner hears `IsLeader` when we become first in line and `NotLeader` when we stop being
    /// it, whatever the reason.
    fn change_place(&mut self, next: impl FnOnce(Place) -> Place) {
        let before = std::mem::replace(&mut self.place, Place::Outside);
        let led = before.leads();
        self.place = next(before);
        let event = match (&self.place, led) {
            (Place::InLine { node, standing: Standing::First }, false) => {
                LatchEvent::IsLeader { node: node.path.clone(), czxid: node.czxid }
            }
            (place, true) if !place.leads() => {
                self.cool_down();
                LatchEvent::NotLeader
            }
            _ => return,
        };
        info!(leader = matches!(event, LatchEvent::IsLeader { .. }), "latch leadership changed");
        self.owner.do_send(event);
    }

    /// Sets our standing in line (no change unless we are in line).
    fn stand(&mut self, standing: Standing) {
        self.change_place(|place| match place {
            Place::InLine { node, .. } => Place::InLine { node, standing },
            other => other,
        });
    }

    /// Drops our node (if any) and joins the latch again with a fresh one.
    fn reset(&mut self, ctx: &mut Context<Self>) {
        self.port.next_epoch();
        let mut left = Place::Outside;
        self.change_place(|place| {
            left = place;
            Place::Outside
        });
        match left {
            // The previous node may belong to an older session; delete it so it cannot lead.
            Place::InLine { node, .. } => self.cleanup.add_node(node.path),
            // A create whose answer we never got may have left a node behind.
            Place::Joining { prefix } | Place::Unsure { prefix } => self.cleanup.add_prefix(prefix),
            Place::Outside => {}
        }
        self.delete_stale(ctx);
        if self.link.has_session() {
            self.create_node(ctx);
        }
    }

    /// Lists the participants and either takes the lead or watches the predecessor.
    pub(super) fn check_leadership(&mut self, ctx: &mut Context<Self>) {
        let list = GetChildren::new(self.latch_path.clone());
        self.port.ask(ctx, list, |act, result, ctx| match result {
            Ok(children) => act.on_children(children, ctx),
            // The latch path vanished (container cleanup, operator): our node went with it.
            Err(ZkError::NoNode) => act.reset(ctx),
            Err(err) if err.is_transient() => act.wait_for_connection(err, ctx),
            Err(err) => act.on_error(err, ctx),
        });
    }

    fn on_children(&mut self, children: Vec<String>, ctx: &mut Context<Self>) {
        let Some(node) = self.place.node().map(|node| node.path.clone()) else { return };
        let our_name = node.rsplit('/').next().unwrap_or_default();
        let ordered = participants_in_order(&children);
        let Some(position) = ordered.iter().position(|name| *name == our_name) else {
            info!(node = %node, "our latch node is gone; rejoining");
            self.reset(ctx);
            return;
        };
        // Once per node (re-armed only after it fired or failed): its deletion tells us at once.
        self.arm_watch(WatchSlot::OwnNode, node.clone(), ctx);
        if position == 0 {
            if self.link == Link::Suspended {
                // Learnt over a connection that has dropped since: confirm after reconnect.
                debug!("first in line while suspended; waiting for the reconnect");
                return;
            }
            self.prove_first(node, 0, ctx);
        } else {
            let predecessor = format!("{}/{}", self.latch_path, ordered[position - 1]);
            if self.place.leads() {
                self.stand(Standing::Behind { watching: None });
            }
            self.arm_watch(WatchSlot::Predecessor, predecessor, ctx);
        }
    }
}

impl LeaderLatch {
    /// We look first in line; lead once ZooKeeper's leader confirms that our node still exists.
    ///
    /// The listing came from whichever server we are connected to, and a follower may serve an
    /// older state: one where our own node still exists although it was deleted since (an
    /// operator, or the whole latch path), while a successor already leads on a newer node. A
    /// stale listing cannot hide a node ahead of ours (every one was created before ours, and
    /// the listing shows ours), so our own node is the only thing to make sure of: a check-only
    /// multi-op is answered by the leader, after every write it accepted before. One request
    /// per grant; it keeps fencing tokens increasing across lagging followers.
    ///
    /// A latch that kept leading across connection trouble (the tolerant policy) proves it the
    /// same way when it looks at the line again, and tells the owner `IsLeader` once more: the
    /// owner grants again only on that, never on a lease that merely holds again (the node may
    /// have been deleted while we could not hear of it).
    ///
    /// `slow` counts the proofs of this node already asked again because they took long.
    fn prove_first(&mut self, node: String, slow: u8, ctx: &mut Context<Self>) {
        let check = GuardedMulti { guard: node.clone(), guard_version: None, ops: Vec::new() };
        let sent = tokio::time::Instant::now();
        self.port.ask(ctx, check, move |act, result, ctx| {
            let still_ours = act.place.node().filter(|ours| ours.path == node).map(|ours| ours.czxid);
            match result {
                Ok(_) if act.link != Link::Up => {}
                // Proof of how things stood when the server answered: an answer that took
                // long (our process paused, say) may predate an operator deleting our node,
                // and its watch event waits behind it. Ask again rather than lead on it; an
                // answer asked after the pause comes behind that event. Only a few times: on
                // a link that is slow throughout, every answer takes long.
                Ok(_) if sent.elapsed() > PROOF_MAX_AGE && slow < SLOW_PROOF_RETRIES && still_ours.is_some() => {
                    act.prove_first(node, slow + 1, ctx)
                }
                Ok(_) => match (still_ours, act.place.leads()) {
                    (Some(_), false) => act.stand(Standing::First),
                    (Some(czxid), true) => act.owner.do_send(LatchEvent::IsLeader { node, czxid }),
                    (None, _) => {}
                },
                Err(ZkError::GuardFailed { .. }) if still_ours.is_some() => {
                    info!(node = %node, "our latch node is gone (the listing was stale); rejoining");
                    act.reset(ctx);
                }
                Err(ZkError::GuardFailed { .. }) => {}
                Err(err) if err.is_transient() => act.wait_for_connection(err, ctx),
                Err(err) => act.on_error(err, ctx),
            }
        });
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
        let subscription = Subscription::connection(ctx.address().recipient());
        self.port.subscribe(ctx, subscription, |act, status, ctx| match status {
            Ok(status) if status.is_connected() => act.on_connection(ConnectionState::Connected, ctx),
            Ok(_) => debug!("latch waits for the session"),
            Err(_) => {
                act.owner.do_send(LatchEvent::Failed(ZkError::SessionStopped));
                ctx.stop();
            }
        });
    }
}

impl Handler<ConnectionStateChanged> for LeaderLatch {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        self.on_connection(msg.state, ctx);
    }
}

impl Handler<WatchFired> for LeaderLatch {
    type Result = ();

    fn handle(&mut self, msg: WatchFired, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        if msg.event == WatchEvent::SessionEnded {
            return;
        }
        self.stats.watches_fired += 1;
        let Place::InLine { node, standing } = &self.place else { return };
        let slot = match standing {
            Standing::Behind { watching: Some(predecessor) } if *predecessor == msg.path => WatchSlot::Predecessor,
            _ if node.watch == state::OwnWatch::Armed && node.path == msg.path => WatchSlot::OwnNode,
            _ => return,
        };
        self.release_watch(slot);
        self.check_leadership(ctx);
    }
}

impl LeaderLatch {
    /// Deletes our node (with the owner's writes `with`, in one multi-op guarded by it) and
    /// joins again, unless sitting out.
    fn leave_line(&mut self, with: Vec<WriteOp>, ctx: &mut Context<Self>) {
        self.cool_down();
        let mut with = with;
        with.extend(self.leave_record());
        if let (Some(node), false) = (self.place.node().map(|node| node.path.clone()), with.is_empty()) {
            // Taken out of the reset's hands: this delete carries the owner's writes. Under way,
            // the node is still ours to hand over should we stop.
            self.change_place(|_| Place::Outside);
            self.cleanup.add_deleting(node.clone());
            let mut ops = with;
            ops.push(WriteOp::Delete { path: node.clone(), version: None });
            let multi = GuardedMulti { guard: node.clone(), guard_version: None, ops };
            // Acted on even when stale: the reset below starts a new epoch at once.
            self.port.ask_any(ctx, multi, move |act, result, _, ctx| match result {
                Ok(_) => act.cleanup.deleted(&node),
                // Our node alone, then (or the guard found it gone: the delete confirms that).
                Err(_) => {
                    act.cleanup.delete_failed(&node);
                    act.delete_stale(ctx);
                }
            });
        }
        self.reset(ctx);
    }
}

impl LeaderLatch {
    /// The leave record that goes with our node's delete, if we hold the latch: only the
    /// leader's leave is recorded, so a follower's never overwrites it.
    fn leave_record(&self) -> Option<WriteOp> {
        self.place.first().map(|node| leave_record(&self.latch_path, node.owner))
    }
}

impl Handler<Requeue> for LeaderLatch {
    type Result = ();

    fn handle(&mut self, msg: Requeue, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        self.leave_line(msg.with, ctx);
    }
}

impl Handler<SitOut> for LeaderLatch {
    type Result = ();

    fn handle(&mut self, msg: SitOut, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        info!("sitting out until healthy");
        self.sitting_out = true;
        self.leave_line(msg.with, ctx);
    }
}

impl Handler<Rejoin> for LeaderLatch {
    type Result = ();

    fn handle(&mut self, _msg: Rejoin, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        if std::mem::take(&mut self.sitting_out) && matches!(self.place, Place::Outside) && self.link.has_session() {
            info!("healthy again: queueing");
            self.create_node(ctx);
        }
    }
}

impl Handler<StopLatch> for LeaderLatch {
    type Result = MessageResult<StopLatch>;

    /// Stops at once and hands everything of ours still in ZooKeeper to the owner, which keeps
    /// at it across a reconnect; a request still under way is answered into nothing (its node,
    /// if it made one, is among the unsure).
    fn handle(&mut self, _msg: StopLatch, ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.port.span().clone().entered();
        let record = self.leave_record();
        let mut left = Place::Outside;
        // The owner stopped first and ignores what we say from now on.
        self.change_place(|place| {
            left = place;
            Place::Outside
        });
        let (stale, unsure) = std::mem::take(&mut self.cleanup).into_leftovers();
        let mut leftovers = Leftovers { node: None, stale, unsure, record };
        match left {
            Place::InLine { node, .. } => leftovers.node = Some(node.path),
            Place::Joining { prefix } | Place::Unsure { prefix } => leftovers.unsure.push(prefix),
            Place::Outside => {}
        }
        ctx.stop();
        MessageResult(leftovers)
    }
}

impl Handler<GetLatchMetrics> for LeaderLatch {
    type Result = MessageResult<GetLatchMetrics>;

    fn handle(&mut self, _msg: GetLatchMetrics, _ctx: &mut Context<Self>) -> Self::Result {
        let node = self.place.node().map(|node| node.path.clone());
        let requests = self.port.requests();
        MessageResult(LatchMetrics { node, is_leader: self.place.leads(), requests, ..self.stats.clone() })
    }
}
