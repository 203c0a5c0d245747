//! The latch actor: a leader latch compatible with Apache Curator's `LeaderLatch`.
//!
//! Each participant creates `{latch_path}/_c_{uuid}-latch-{seq}` (EPHEMERAL_SEQUENTIAL, data =
//! participant ID). The child with the lowest sequence leads; every other participant watches
//! only its immediate predecessor, so a leader change wakes exactly one process. Unlike Curator,
//! every participant also watches its own node, armed once per node at its first look at the
//! line: a node deleted underneath it (by an operator, or with the whole latch path) demotes a
//! leader at once and sends a waiting participant back into line, and a failover costs no extra
//! request.

use std::time::Duration;

use actix::prelude::*;
use tracing::{debug, field, info, info_span, warn, Span};
use uuid::Uuid;

use crate::error::ZkError;
use crate::policy::ConnectionLossPolicy;
use crate::session::{
    ConnectionState, ConnectionStateChanged, Create, Delete, GetChildren, GetData, GuardedMulti, NodeAcl, NodeMode,
    Parents, SubscribeConnection, WatchEvent, WatchFired, WriteOp, ZkSession,
};
use crate::trace::InSpanExt;

/// The marker Curator puts before the sequence number of latch nodes.
const LATCH_MARKER: &str = "latch-";
/// Digits of the sequence suffix ZooKeeper appends (`%010d`).
const SEQUENCE_DIGITS: usize = 10;
/// Pause before retrying after an error that is not about the connection (e.g. an ACL denial).
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

/// What the latch tells its owner.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub enum LatchEvent {
    /// We hold the latch; `node` is our latch node (the guard of every leader write).
    IsLeader {
        /// Full path of our latch node.
        node: String,
    },
    /// We do not hold the latch (any more).
    NotLeader,
    /// Joining or checking the latch failed for a reason other than the connection; the latch
    /// retries by itself.
    Failed(ZkError),
}

/// Leave the latch: stop reacting to anything and stop. Answers our node, which the caller
/// must now delete: the supervisor deletes it in one multi-op together with its leader nodes,
/// so leaving costs one request. (Nodes left behind by resets are deleted by the latch itself.)
#[derive(Message)]
#[rtype(result = "Option<String>")]
pub struct CloseLatch;

/// Give up leadership (or a place in line): delete our node and create a new one at the back.
/// The writes in `with` (e.g. deleting the leader's own leader nodes) go in the same multi-op,
/// guarded by our node; if that fails, our node is deleted alone.
#[derive(Message, Default)]
#[rtype(result = "()")]
pub struct Requeue {
    /// Writes to apply atomically with deleting our node.
    pub with: Vec<WriteOp>,
}

/// Which of the latch's two watches a request arms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WatchSlot {
    Predecessor,
    OwnNode,
}

/// Counters that make the latch's behaviour observable (watch herds, resets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatchStats {
    /// Watches delivered to this participant.
    pub watches_fired: u64,
    /// Times the participant (re)created its node.
    pub nodes_created: u64,
    /// ZooKeeper requests issued.
    pub requests: u64,
    /// Our current node, if any.
    pub node: Option<String>,
    /// Whether we lead.
    pub is_leader: bool,
}

/// Ask the latch for its [`LatchStats`].
#[derive(Message)]
#[rtype(result = "LatchStats")]
pub struct GetLatchStats;

/// The latch actor; one per participant. Started by the election supervisor.
pub struct LeaderLatch {
    session: Addr<ZkSession>,
    latch_path: String,
    participant_id: String,
    acl: NodeAcl,
    policy: ConnectionLossPolicy,
    owner: Recipient<LatchEvent>,
    /// Our node (full path) once created.
    node: Option<String>,
    /// The `_c_{uuid}-latch-` prefix of the node being created, to find it again after a
    /// connection loss during create.
    pending_prefix: Option<String>,
    /// A create (or the search for a node whose create lost its answer) is under way; its
    /// outcome decides what comes next, so nothing else may start one.
    joining: bool,
    /// Nodes of ours that must go (left behind by a reset or a resign) but whose delete has not
    /// been confirmed yet. While our session lives they would stand in line forever, ahead of
    /// everyone, so they are deleted again on every reconnect until the server confirms.
    stale_nodes: Vec<String>,
    /// Name prefixes (`_c_{uuid}-latch-`) of creates whose outcome is unknown and that a reset
    /// overtook: if such a node exists in our session it is just as stale.
    stale_prefixes: Vec<String>,
    is_leader: bool,
    /// Bumped on every reset; results of requests made in an older epoch are dropped.
    epoch: u64,
    /// The predecessor whose watch is armed, while we wait in line.
    watching: Option<String>,
    /// Our node, once its watch is armed (at our first look at the line with this node, whether
    /// we lead or not).
    own_watch: Option<String>,
    closed: bool,
    /// Whether a session exists that we can work in.
    connected: bool,
    /// Between `Suspended` and the next `Reconnected` or `Lost`: what we learn meanwhile may be
    /// stale, so we never *gain* leadership then (a tolerant policy only *keeps* it).
    suspended: bool,
    stats: LatchStats,
    /// `latch{node}`, remade for every node we create.
    span: Span,
    /// The span current where the latch was made (the election's): the parent of `span`.
    parent_span: Span,
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
            node: None,
            pending_prefix: None,
            joining: false,
            stale_nodes: Vec::new(),
            stale_prefixes: Vec::new(),
            is_leader: false,
            epoch: 0,
            watching: None,
            own_watch: None,
            closed: false,
            connected: false,
            suspended: false,
            stats: LatchStats::default(),
            span: latch_span(&Span::current(), None),
            parent_span: Span::current(),
        }
    }

    /// A fresh span for our new node (a formatter would show a re-recorded field twice).
    fn name_span(&mut self, node: &str) {
        self.span = latch_span(&self.parent_span, Some(node));
    }

    fn set_leader(&mut self, leader: bool) {
        if self.is_leader == leader {
            return;
        }
        self.is_leader = leader;
        let event = match (&self.node, leader) {
            (Some(node), true) => LatchEvent::IsLeader { node: node.clone() },
            _ => LatchEvent::NotLeader,
        };
        info!(leader, "latch leadership changed");
        self.owner.do_send(event);
    }

    /// Drops our node (if any) and joins the latch again with a fresh one.
    fn reset(&mut self, ctx: &mut Context<Self>) {
        self.epoch += 1;
        self.set_leader(false);
        self.watching = None;
        self.own_watch = None;
        if let Some(old) = self.node.take() {
            // The previous node may belong to an older session; delete it so it cannot lead.
            self.stale_nodes.push(old);
        }
        if let Some(prefix) = self.pending_prefix.take() {
            // A create whose answer we never got may have left a node behind.
            self.stale_prefixes.push(prefix);
        }
        self.joining = false;
        self.delete_stale(ctx);
        if self.connected && !self.closed {
            self.create_node(ctx);
        }
    }

    /// Deletes the nodes of ours that must go; what cannot be confirmed gone stays listed for
    /// the next attempt (after a reconnect in the same session).
    fn delete_stale(&mut self, ctx: &mut Context<Self>) {
        if !self.connected {
            return;
        }
        for path in std::mem::take(&mut self.stale_nodes) {
            self.stats.requests += 1;
            let send = self.session.send(Delete { path: path.clone(), version: None });
            ctx.spawn(
                send.into_actor(self)
                    .map(move |result, act, _ctx| match result.map_err(ZkError::from).and_then(|r| r) {
                        Ok(()) | Err(ZkError::NoNode) => {
                            debug!(node = %path, "stale latch node deleted")
                        }
                        Err(err) if err.is_transient() => {
                            debug!(node = %path, error = %err, "stale latch node not deleted yet");
                            if act.connected && !act.stale_nodes.contains(&path) {
                                act.stale_nodes.push(path);
                            }
                        }
                        Err(err) => {
                            warn!(node = %path, error = %err, "cannot delete stale latch node")
                        }
                    })
                    .in_span(&self.span),
            );
        }
        if self.stale_prefixes.is_empty() {
            return;
        }
        let prefixes = std::mem::take(&mut self.stale_prefixes);
        self.stats.requests += 1;
        let send = self.session.send(GetChildren { path: self.latch_path.clone(), watch: None });
        ctx.spawn(
            send.into_actor(self)
                .map(move |result, act, ctx| match result.map_err(ZkError::from).and_then(|r| r) {
                    Ok(children) => {
                        let names = prefixes.iter().filter_map(|prefix| prefix.rsplit('/').next());
                        let names: Vec<&str> = names.collect();
                        for child in children.iter().filter(|child| names.iter().any(|name| child.starts_with(name))) {
                            act.stale_nodes.push(format!("{}/{child}", act.latch_path));
                        }
                        act.delete_stale(ctx);
                    }
                    Err(ZkError::NoNode) => {}
                    Err(_) if act.connected => act.stale_prefixes.extend(prefixes),
                    Err(_) => {}
                })
                .in_span(&self.span),
        );
    }

    /// The session that owned our stale nodes is gone, and its ephemeral nodes with it.
    fn forget_stale(&mut self) {
        self.stale_nodes.clear();
        self.stale_prefixes.clear();
    }

    fn create_node(&mut self, ctx: &mut Context<Self>) {
        let prefix = self
            .pending_prefix
            .get_or_insert_with(|| format!("{}/_c_{}-{LATCH_MARKER}", self.latch_path, Uuid::new_v4()))
            .clone();
        let request = Create::new(prefix, self.participant_id.as_bytes(), NodeMode::EphemeralSequential)
            .acl(self.acl.clone())
            .parents(Parents::Container);
        let epoch = self.epoch;
        self.stats.requests += 1;
        self.joining = true;
        let send = self.session.send(request);
        ctx.spawn(
            send.into_actor(self)
                .map(move |result, act, ctx| {
                    if act.epoch != epoch || act.closed {
                        // A reset or close overtook this create; the node must not linger. (A create
                        // that may have landed without an answer was listed by the reset already.)
                        if let Ok(Ok(created)) = result {
                            if act.closed {
                                act.session.do_send(Delete { path: created.path, version: None });
                            } else {
                                act.stale_nodes.push(created.path);
                                act.delete_stale(ctx);
                            }
                        }
                        if act.closed && act.epoch == epoch + 1 {
                            ctx.stop(); // close waited for this answer (the join under way when it came)
                        }
                        return;
                    }
                    act.joining = false;
                    match result.map_err(ZkError::from).and_then(|r| r) {
                        Ok(created) => {
                            act.name_span(&created.path);
                            let _span = act.span.clone().entered();
                            debug!("latch node created");
                            act.stats.nodes_created += 1;
                            act.node = Some(created.path);
                            act.pending_prefix = None;
                            act.check_leadership(ctx);
                        }
                        Err(ZkError::ConnectionLoss | ZkError::Timeout(_)) => act.find_lost_node(ctx),
                        Err(err) if err.is_transient() => act.wait_for_connection(err, ctx),
                        Err(err) => act.on_error(err, ctx),
                    }
                })
                .in_span(&self.span),
        );
    }

    /// After a connection loss during create, the node may exist: look for our prefix before
    /// creating another one (Curator's "protection" mode).
    fn find_lost_node(&mut self, ctx: &mut Context<Self>) {
        let Some(prefix) = self.pending_prefix.clone() else { return };
        let name_prefix = prefix.rsplit('/').next().unwrap_or_default().to_owned();
        let epoch = self.epoch;
        self.stats.requests += 1;
        self.joining = true;
        let send = self.session.send(GetChildren { path: self.latch_path.clone(), watch: None });
        ctx.spawn(
            send.into_actor(self)
                .map(move |result, act, ctx| {
                    if act.closed {
                        if let Ok(Ok(children)) = result {
                            for child in children.into_iter().filter(|child| child.starts_with(&name_prefix)) {
                                act.session
                                    .do_send(Delete { path: format!("{}/{child}", act.latch_path), version: None });
                            }
                        }
                        if act.epoch == epoch + 1 {
                            ctx.stop(); // close waited for this answer (the join under way when it came)
                        }
                        return;
                    }
                    if act.epoch != epoch {
                        return;
                    }
                    act.joining = false;
                    match result.map_err(ZkError::from).and_then(|r| r) {
                        Ok(children) => match children.into_iter().find(|child| child.starts_with(&name_prefix)) {
                            Some(found) => {
                                let node = format!("{}/{found}", act.latch_path);
                                act.name_span(&node);
                                act.node = Some(node);
                                act.pending_prefix = None;
                                act.check_leadership(ctx);
                            }
                            None => act.create_node(ctx),
                        },
                        Err(ZkError::NoNode) => act.create_node(ctx),
                        Err(err) if err.is_transient() => act.wait_for_connection(err, ctx),
                        Err(err) => act.on_error(err, ctx),
                    }
                })
                .in_span(&self.span),
        );
    }

    /// A request failed because of the connection. The next `Reconnected` resumes; should the
    /// connection in fact be up (a disconnect too short to be reported), resume after a pause.
    fn wait_for_connection(&mut self, err: ZkError, ctx: &mut Context<Self>) {
        debug!(error = %err, "latch waits for the connection");
        let epoch = self.epoch;
        ctx.run_later(RETRY_AFTER_ERROR, move |act, ctx| {
            let _span = act.span.clone().entered();
            if act.epoch == epoch && !act.closed && act.connected && !act.suspended {
                act.resume(ctx);
            }
        });
    }

    /// Picks up where we are after the connection came back in the same session.
    fn resume(&mut self, ctx: &mut Context<Self>) {
        self.delete_stale(ctx);
        if self.joining {
            return; // the create or search under way decides
        }
        match (&self.node, &self.pending_prefix) {
            (Some(_), _) => {
                self.watching = None;
                self.check_leadership(ctx);
            }
            // The create may have landed without an answer: look before creating another.
            (None, Some(_)) => self.find_lost_node(ctx),
            (None, None) => self.reset(ctx),
        }
    }

    /// Lists the participants and either takes the lead or watches the predecessor.
    fn check_leadership(&mut self, ctx: &mut Context<Self>) {
        let epoch = self.epoch;
        self.stats.requests += 1;
        let send = self.session.send(GetChildren { path: self.latch_path.clone(), watch: None });
        ctx.spawn(
            send.into_actor(self)
                .map(move |result, act, ctx| {
                    if act.epoch != epoch || act.closed {
                        return;
                    }
                    match result.map_err(ZkError::from).and_then(|r| r) {
                        Ok(children) => act.on_children(children, ctx),
                        // The latch path vanished (container cleanup, operator): our node went with it.
                        Err(ZkError::NoNode) => act.reset(ctx),
                        Err(err) if err.is_transient() => act.wait_for_connection(err, ctx),
                        Err(err) => act.on_error(err, ctx),
                    }
                })
                .in_span(&self.span),
        );
    }

    fn on_children(&mut self, children: Vec<String>, ctx: &mut Context<Self>) {
        let Some(node) = self.node.clone() else { return };
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
            if self.suspended && !self.is_leader {
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

    fn watch_slot(&mut self, slot: WatchSlot) -> &mut Option<String> {
        match slot {
            WatchSlot::Predecessor => &mut self.watching,
            WatchSlot::OwnNode => &mut self.own_watch,
        }
    }

    /// Sets a data watch on `path` unless one is armed there already; if the node is already
    /// gone, re-checks at once.
    fn arm_watch(&mut self, slot: WatchSlot, path: String, ctx: &mut Context<Self>) {
        if self.watch_slot(slot).as_deref() == Some(path.as_str()) {
            return; // the watch set earlier is still armed
        }
        *self.watch_slot(slot) = Some(path.clone());
        let epoch = self.epoch;
        self.stats.requests += 1;
        let send = self.session.send(GetData { path, watch: Some(ctx.address().recipient()) });
        ctx.spawn(
            send.into_actor(self)
                .map(move |result, act, ctx| {
                    if act.epoch != epoch || act.closed {
                        return;
                    }
                    let Err(err) = result.map_err(ZkError::from).and_then(|r| r) else { return };
                    *act.watch_slot(slot) = None;
                    match err {
                        ZkError::NoNode => act.check_leadership(ctx),
                        err if err.is_transient() => act.wait_for_connection(err, ctx),
                        err => act.on_error(err, ctx),
                    }
                })
                .in_span(&self.span),
        );
    }

    fn on_error(&mut self, err: ZkError, ctx: &mut Context<Self>) {
        warn!(error = %err, "latch operation failed; retrying");
        self.owner.do_send(LatchEvent::Failed(err));
        let epoch = self.epoch;
        ctx.run_later(RETRY_AFTER_ERROR, move |act, ctx| {
            let _span = act.span.clone().entered();
            if act.epoch == epoch && !act.closed {
                match act.node {
                    Some(_) => act.check_leadership(ctx),
                    None => act.create_node(ctx),
                }
            }
        });
    }

    fn on_connection(&mut self, state: ConnectionState, ctx: &mut Context<Self>) {
        use ConnectionLossPolicy::*;
        match state {
            ConnectionState::Connected => {
                self.connected = true;
                self.suspended = false;
                self.reset(ctx);
            }
            ConnectionState::Suspended => {
                self.suspended = true;
                if self.policy == Standard {
                    self.set_leader(false);
                }
            }
            ConnectionState::Reconnected { same_session: true } => {
                self.connected = true;
                self.suspended = false;
                // Our node and watches survived; a check restores leadership if we still lead
                // (Standard) or confirms we still do (SessionTolerant, which never let go).
                self.resume(ctx);
            }
            ConnectionState::Reconnected { same_session: false } => {
                self.connected = true;
                self.suspended = false;
                // Whatever the old session owned is gone (or goes when the server expires it).
                self.forget_stale();
                self.reset(ctx);
            }
            ConnectionState::Lost => {
                self.connected = false;
                self.suspended = false;
                self.joining = false;
                self.watching = None;
                self.own_watch = None;
                self.forget_stale();
                self.set_leader(false);
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

/// The latch participants among `children`, in leadership order: names containing `latch-`
/// followed by the server's 10-digit sequence, sorted by that sequence (zero-padded, so text
/// order is numeric order). Foreign children are ignored, also ones that merely look like
/// participants: a persistent `x-latch-0` created by hand would otherwise sort first and block
/// the election for good.
pub fn participants_in_order(children: &[String]) -> Vec<&str> {
    let mut participants: Vec<(&str, &str)> = children
        .iter()
        .filter_map(|name| {
            let sequence = &name[name.rfind(LATCH_MARKER)? + LATCH_MARKER.len()..];
            let valid = sequence.len() == SEQUENCE_DIGITS && sequence.bytes().all(|b| b.is_ascii_digit());
            valid.then_some((sequence, name.as_str()))
        })
        .collect();
    participants.sort();
    participants.into_iter().map(|(_, name)| name).collect()
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
        if !self.closed {
            self.on_connection(msg.state, ctx);
        }
    }
}

impl Handler<WatchFired> for LeaderLatch {
    type Result = ();

    fn handle(&mut self, msg: WatchFired, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        if self.closed || msg.event == WatchEvent::SessionEnded {
            return;
        }
        self.stats.watches_fired += 1;
        let path = Some(msg.path.as_str());
        for slot in [WatchSlot::Predecessor, WatchSlot::OwnNode] {
            if self.watch_slot(slot).as_deref() == path {
                *self.watch_slot(slot) = None;
                if self.node.is_some() {
                    self.check_leadership(ctx);
                }
                return;
            }
        }
    }
}

impl Handler<Requeue> for LeaderLatch {
    type Result = ();

    fn handle(&mut self, msg: Requeue, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        if self.closed {
            return;
        }
        if let (Some(node), false) = (self.node.clone(), msg.with.is_empty()) {
            // Taken out of the reset's hands: this delete carries the owner's writes.
            self.node = None;
            self.set_leader(false);
            let mut ops = msg.with;
            ops.push(WriteOp::Delete { path: node.clone(), version: None });
            self.stats.requests += 1;
            let send = self.session.send(GuardedMulti { guard: node.clone(), guard_version: None, ops });
            ctx.spawn(
                send.into_actor(self)
                    .map(move |result, act, ctx| {
                        if !matches!(result, Ok(Ok(()))) && !act.closed {
                            act.stale_nodes.push(node);
                            act.delete_stale(ctx);
                        }
                    })
                    .in_span(&self.span),
            );
        }
        self.reset(ctx);
    }
}

impl Handler<CloseLatch> for LeaderLatch {
    type Result = Option<String>;

    fn handle(&mut self, _msg: CloseLatch, ctx: &mut Context<Self>) -> Option<String> {
        let _span = self.span.clone().entered();
        // Closed before the caller deletes our node: its watch firing must not start a rejoin.
        self.closed = true;
        self.epoch += 1;
        // The owner stopped first and ignores us from now on; no NotLeader is owed.
        self.is_leader = false;
        // Best effort: nodes of ours still waiting to be deleted go too. (A create still in
        // flight deletes its node when its answer finds us closed.)
        for path in std::mem::take(&mut self.stale_nodes) {
            self.session.do_send(Delete { path, version: None });
        }
        if !self.joining {
            ctx.stop();
        } // else the create (or search) under way deletes what it finds, then stops us
        self.node.take()
    }
}

impl Handler<GetLatchStats> for LeaderLatch {
    type Result = MessageResult<GetLatchStats>;

    fn handle(&mut self, _msg: GetLatchStats, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(LatchStats { node: self.node.clone(), is_leader: self.is_leader, ..self.stats.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_sequence_and_ignores_foreign_children() {
        let children: Vec<String> = [
            "_c_b-latch-0000000003",
            "foreign",
            "_c_a-latch-0000000001",
            "lock-0000000000",
            "_c_c-latch-0000000002",
            "x-latch-",
            "_c_d-latch-12ab",
            "_c_e-latch-0",
            "_c_f-latch-00000000001",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            participants_in_order(&children),
            vec!["_c_a-latch-0000000001", "_c_c-latch-0000000002", "_c_b-latch-0000000003"]
        );
    }
}
