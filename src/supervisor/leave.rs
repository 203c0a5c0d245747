//! Leaving: [`StopElection`] ends running first (so nothing reaches a contender and no publish
//! starts from there on), then our leader nodes and latch node are deleted — in one guarded
//! multi-op when every version is known — and a leave the connection interrupted is finished
//! after the next reconnect in the same session. [`Resign`] gives leadership up and queues
//! again at the back.
//!
//! `StopElection` is the one message handled without the lease check: it never acts on
//! leadership, it ends it, and it tells the contenders nothing (they asked for it).

use std::pin::Pin;

use actix::prelude::*;
use tracing::info;

use super::grant::Change;
use super::lead::{Checked, Lead};
use super::role::Write;
use super::{ElectionSupervisor, Lifecycle};
use crate::contender::{ElectionError, Resign, StopElection};
use crate::latch::{Leftovers, StopLatch};
use crate::node_cache::NodeView;
use crate::trace::InSpanExt;
use crate::zk::{ConnectionState, Delete, Exists, GetChildren, GuardedMulti, WriteOp, ZkError};

/// How long an interrupted leave waits before it tries again, reconnect or not.
const LEAVE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// How long `StopElection` waits for ZooKeeper to confirm our nodes gone before it answers
/// [`ElectionError::StopDeferred`] (the leave goes on): a stop during an outage must not
/// wait for the session to end, which can outlast a container's stop grace period. A healthy
/// link confirms in a round trip; without a lease the stop does not wait at all.
const STOP_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// What a stopped supervisor must delete: its latch node, and its leader nodes (with the version
/// its cache saw, if any), and whatever else of ours its latch left (nodes a reset left behind,
/// creates whose outcome is unknown), all ephemeral nodes of the session `zk_session`.
#[derive(Clone, Debug)]
pub(super) struct Leaving {
    latch_node: Option<String>,
    leader_nodes: Vec<(String, Option<i32>)>,
    leftovers: Leftovers,
    zk_session: Option<i64>,
    /// The leave record, if our latch held the latch: written with the latch node's delete.
    record: Option<WriteOp>,
}

/// One step of deleting our nodes, answering the errors that kept something alive.
type Deleting = Pin<Box<dyn ActorFuture<ElectionSupervisor, Output = Vec<ZkError>>>>;

impl ElectionSupervisor {
    /// Every contender's leader path, with the version of its node when the cache saw it as
    /// ours and no write of ours is in flight (only then is the version worth trusting).
    pub(super) fn own_leader_nodes(&self) -> Vec<(String, Option<i32>)> {
        let nodes = self.contenders.values().map(|contender| {
            let version = match contender.role().node() {
                Some(node) => match &node.view {
                    NodeView::Present { stat, .. } if node.write == Write::Idle && self.owns(stat) => {
                        Some(stat.version)
                    }
                    _ => None,
                },
                None => None,
            };
            (contender.leader_path.clone(), version)
        });
        nodes.collect()
    }

    /// Deletes of our leader nodes whose versions we know, for the multi-op that deletes our
    /// latch node (the latch adds the leave record if it holds the latch).
    pub(super) fn own_leader_node_deletes(&self) -> Vec<WriteOp> {
        let deletes = self
            .own_leader_nodes()
            .into_iter()
            .filter_map(|(path, version)| version.map(|version| WriteOp::Delete { path, version: Some(version) }));
        deletes.collect()
    }

    /// Deletes what `leaving` names; answers the errors. A leave the connection interrupted is
    /// remembered: our nodes live on with our session, and the latch node would stand in line
    /// until the session ends, reaching the head with nobody behind it. They are deleted after
    /// the next reconnect in the same session (Curator's "guaranteed delete"); a lost session
    /// takes them with it. A leave that succeeded leaves nothing to remember.
    fn leave(&mut self, leaving: Leaving) -> impl ActorFuture<Self, Output = Vec<ZkError>> + 'static {
        let remembered = leaving.clone();
        self.delete_our_nodes(leaving).map(move |errors, act, ctx| {
            let interrupted = !errors.is_empty() && errors.iter().all(ZkError::is_transient);
            if interrupted && remembered.zk_session.is_some() {
                info!("our nodes are deleted after the next reconnect in this session");
                act.lifecycle = Lifecycle::Stopped { pending_leave: Some(remembered) };
                // The reconnect may have been announced while this leave was still under way
                // (sent while suspended, it failed only afterwards): then none is coming, and
                // only trying again finds out.
                ctx.run_later(LEAVE_RETRY, |act, ctx| act.retry_pending_leave(ctx));
            }
            errors
        })
    }

    /// Tries a remembered leave again (if a reconnect or the session's loss has not settled
    /// it meanwhile).
    fn retry_pending_leave(&mut self, ctx: &mut Context<Self>) {
        let Lifecycle::Stopped { pending_leave } = &mut self.lifecycle else { return };
        let Some(leaving) = pending_leave.take() else { return };
        let retry = self.leave(leaving).map(|errors, _act, _ctx| {
            info!(errors = errors.len(), "left on a retry");
        });
        ctx.spawn(retry.in_span(self.port.span()));
    }

    /// Deletes our leader nodes and our latch node, every leader-node delete guarded by the
    /// latch node so that a successor's node is never touched. When every leader node's
    /// version is known from the cache, one multi-op does it all (a clean handover costs one
    /// request); otherwise, or when that multi-op finds something changed, each leader node is
    /// read, then deleted if ours, and the latch node last.
    fn delete_our_nodes(&mut self, leaving: Leaving) -> Deleting {
        // Without a session nothing can be ours, and there is nothing to delete.
        if leaving.zk_session.is_none() {
            return Box::pin(actix::fut::ready(Vec::new()));
        }
        let known: Option<Vec<WriteOp>> = leaving
            .leader_nodes
            .iter()
            .map(|(path, version)| {
                version.map(|version| WriteOp::Delete { path: path.clone(), version: Some(version) })
            })
            .collect();
        let (Some(node), Some(mut ops)) = (leaving.latch_node.clone(), known) else {
            return self.delete_one_by_one(leaving, Vec::new());
        };
        ops.extend(leaving.record.clone());
        ops.push(WriteOp::Delete { path: node.clone(), version: None });
        // Answers are stale by design here (the stop moved the epoch on): each is acted on.
        let multi = self.port.call(GuardedMulti { guard: node, guard_version: None, ops });
        Box::pin(multi.then(move |(result, _), act, _ctx| -> Deleting {
            match result {
                Ok(_) => act.delete_leftovers(leaving.leftovers, Vec::new()),
                // Disconnected: the careful path would fail the same way, only later.
                Err(err) if err.is_transient() => Box::pin(actix::fut::ready(vec![err])),
                // A node changed under us (or our latch node is gone): read and decide per node.
                Err(_) => act.delete_one_by_one(leaving, Vec::new()),
            }
        }))
    }

    /// The careful path: the first leader node left (read, deleted if ours), then the rest,
    /// then the latch node.
    fn delete_one_by_one(&mut self, mut leaving: Leaving, mut errors: Vec<ZkError>) -> Deleting {
        if !leaving.leader_nodes.is_empty() {
            let (path, _) = leaving.leader_nodes.remove(0);
            let owner = leaving.zk_session.unwrap_or_default();
            let guard = leaving.latch_node.clone();
            return Box::pin(self.delete_own_leader_node(path, guard, owner).then(move |result, act, _ctx| {
                if let Err(err) = result {
                    errors.push(err);
                }
                act.delete_one_by_one(leaving, errors)
            }));
        }
        let Some(node) = leaving.latch_node.take() else { return self.delete_leftovers(leaving.leftovers, errors) };
        Box::pin(self.delete_latch_node(node, leaving.record.take()).then(move |result, act: &mut Self, _ctx| {
            if let Err(err) = result {
                errors.push(err);
            }
            act.delete_leftovers(leaving.leftovers, errors)
        }))
    }

    /// Deletes our latch node, with the leave record if one is given; a record that cannot be
    /// written (the latch path's ACL refuses it) never keeps the node alive.
    fn delete_latch_node(
        &mut self,
        node: String,
        record: Option<WriteOp>,
    ) -> Pin<Box<dyn ActorFuture<Self, Output = Result<(), ZkError>>>> {
        let settle = |result: Result<(), ZkError>| match result {
            Ok(()) | Err(ZkError::NoNode) => Ok(()),
            Err(err) => Err(err),
        };
        let Some(record) = record else {
            return Box::pin(self.port.call(Delete::new(node)).map(move |(result, _), _, _| settle(result)));
        };
        let ops = vec![record, WriteOp::Delete { path: node.clone(), version: None }];
        let multi = self.port.call(GuardedMulti { guard: node.clone(), guard_version: None, ops });
        Box::pin(multi.then(move |(result, _), act, _ctx| -> Pin<Box<dyn ActorFuture<Self, Output = _>>> {
            match result {
                Ok(_) => Box::pin(actix::fut::ready(Ok(()))),
                Err(err) if err.is_transient() => Box::pin(actix::fut::ready(Err(err))),
                // Gone already, or the record refused: the node alone.
                Err(_) => act.delete_latch_node(node, None),
            }
        }))
    }

    /// The latch's leftovers: nodes a reset left behind, then the nodes creates of unknown
    /// outcome may have made (found by their name prefix in one listing).
    fn delete_leftovers(&mut self, mut leftovers: Leftovers, mut errors: Vec<ZkError>) -> Deleting {
        if let Some(node) = leftovers.stale.pop() {
            return Box::pin(self.port.call(Delete::new(node)).then(
                move |(result, _), act: &mut Self, _ctx| -> Deleting {
                    match result {
                        Ok(()) | Err(ZkError::NoNode) => {}
                        Err(err) => errors.push(err),
                    }
                    act.delete_leftovers(leftovers, errors)
                },
            ));
        }
        if leftovers.unsure.is_empty() {
            return Box::pin(actix::fut::ready(errors));
        }
        let latch_path = self.config.latch_path().to_owned();
        let list = self.port.call(GetChildren::new(latch_path.clone()));
        Box::pin(list.then(move |(children, _), act, _ctx| -> Deleting {
            let names: Vec<&str> = leftovers.unsure.iter().filter_map(|prefix| prefix.rsplit('/').next()).collect();
            match children {
                Ok(children) => {
                    leftovers.stale = children
                        .iter()
                        .filter(|child| names.iter().any(|name| child.starts_with(name)))
                        .map(|child| format!("{latch_path}/{child}"))
                        .collect();
                    leftovers.unsure.clear();
                    act.delete_leftovers(leftovers, errors)
                }
                Err(ZkError::NoNode) => Box::pin(actix::fut::ready(errors)),
                Err(err) => {
                    errors.push(err);
                    Box::pin(actix::fut::ready(errors))
                }
            }
        }))
    }

    /// Deletes the leader node at `path` if the session `owner` owns it; guarded by our latch
    /// node when we still hold one.
    fn delete_own_leader_node(
        &mut self,
        path: String,
        guard: Option<String>,
        owner: i64,
    ) -> Pin<Box<dyn ActorFuture<Self, Output = Result<(), ZkError>>>> {
        Box::pin(self.port.call(Exists::new(path.clone())).then(
            move |(stat, _), act, _ctx| -> Pin<Box<dyn ActorFuture<Self, Output = Result<(), ZkError>>>> {
                let stat = match stat {
                    Ok(Some(stat)) if stat.ephemeral_owner == owner => stat,
                    Ok(_) => return Box::pin(actix::fut::ready(Ok(()))),
                    Err(err) => return Box::pin(actix::fut::ready(Err(err))),
                };
                let version = Some(stat.version);
                let settle = |result: Result<(), ZkError>| match result {
                    Ok(()) | Err(ZkError::NoNode | ZkError::BadVersion | ZkError::GuardFailed { .. }) => Ok(()),
                    Err(err) => Err(err),
                };
                match guard {
                    Some(guard) => {
                        let ops = vec![WriteOp::Delete { path, version }];
                        let multi = act.port.call(GuardedMulti { guard, guard_version: None, ops });
                        Box::pin(multi.map(move |(result, _), _, _| settle(result.map(drop))))
                    }
                    None => {
                        Box::pin(act.port.call(Delete { path, version }).map(move |(result, _), _, _| settle(result)))
                    }
                }
            },
        ))
    }

    pub(super) fn on_connection_after_stop(&mut self, state: ConnectionState, ctx: &mut Context<Self>) {
        let Lifecycle::Stopped { pending_leave } = &mut self.lifecycle else { return };
        let Some(leaving) = pending_leave.take() else { return };
        match state {
            ConnectionState::Reconnected { same_session: true } => {
                let retry = self.leave(leaving).map(|errors, _act, _ctx| {
                    info!(errors = errors.len(), "left after the reconnect");
                });
                ctx.spawn(retry.in_span(self.port.span()));
            }
            // Still disconnected: keep waiting.
            ConnectionState::Suspended => *pending_leave = Some(leaving),
            // The session is gone, and our ephemeral nodes with it.
            ConnectionState::Lost | ConnectionState::Connected | ConnectionState::Reconnected { .. } => {}
        }
    }
}

impl Handler<StopElection> for ElectionSupervisor {
    type Result = ResponseActFuture<Self, Result<(), ElectionError>>;

    fn handle(&mut self, _msg: StopElection, ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.port.span().clone().entered();
        let leader_nodes = self.own_leader_nodes();
        // Original order: running ends and every grant goes first, so nothing reaches a
        // contender and no publish starts from here on.
        let Lifecycle::Running { latch, .. } =
            std::mem::replace(&mut self.lifecycle, Lifecycle::Stopped { pending_leave: None })
        else {
            return Box::pin(actix::fut::ready(Ok(())));
        };
        info!("stopping election");
        self.port.next_epoch();
        for (component, contender) in self.contenders.iter_mut() {
            let _ = contender.change_role(component, Change::Stop);
            contender.meter.stopped();
        }
        let zk_session = self.zk_session;
        // The latch first stops reacting, so deleting its node does not make it rejoin.
        let close_latch = async move {
            match latch {
                Some(latch) => latch.send(StopLatch).await.unwrap_or_default(),
                None => Leftovers::default(),
            }
        };
        let span = self.port.span().clone();
        // The leave runs on its own, so that the answer can come before it ends.
        let (left, outcome) = tokio::sync::oneshot::channel();
        let leave = close_latch
            .into_actor(self)
            .then(move |mut leftovers: Leftovers, act, _ctx| {
                let (latch_node, record) = (leftovers.node.take(), leftovers.record.take());
                act.leave(Leaving { latch_node, leader_nodes, leftovers, zk_session, record })
            })
            .map(|errors, _act, _ctx| {
                info!(errors = errors.len(), "election left");
                let _ = left.send(errors);
            });
        ctx.spawn(leave.in_span(&span));
        // Disconnected, or without a lease: the server may not be reachable at all.
        let suspended = matches!(self.connection, Some(ConnectionState::Suspended | ConnectionState::Lost));
        let patience = if self.lease_holds() && !suspended { STOP_PATIENCE } else { std::time::Duration::ZERO };
        Box::pin(tokio::time::timeout(patience, outcome).into_actor(self).map(move |outcome, _act, _ctx| {
            match outcome {
                Ok(Ok(errors)) if errors.is_empty() => Ok(()),
                Ok(Ok(errors)) if errors.iter().all(ZkError::is_transient) => Err(ElectionError::StopDeferred(errors)),
                Ok(Ok(errors)) => Err(ElectionError::StopFailed(errors)),
                // The actor is stopping: its session, and our nodes with it, are going.
                Ok(Err(_)) => Ok(()),
                Err(_) => {
                    info!(?patience, "stopped; our nodes are deleted once ZooKeeper answers");
                    Err(ElectionError::StopDeferred(Vec::new()))
                }
            }
        }))
    }
}

impl Checked<Resign> for ElectionSupervisor {
    type Reply = Result<(), ElectionError>;

    /// Every contender of the supervisor shares its latch, so resigning revokes them all and
    /// queues the latch again at the back of the line.
    fn checked(&mut self, msg: Resign, _lead: Option<&Lead>, _ctx: &mut Context<Self>) -> Self::Reply {
        if !self.running() {
            return Err(ElectionError::Stopped);
        }
        if !self.contenders.contains_key(&msg.component) {
            return Err(ElectionError::UnknownContender(msg.component));
        }
        info!(component = %msg.component, "resigning: queueing again at the back");
        self.requeue_with(Vec::new());
        Ok(())
    }
}
