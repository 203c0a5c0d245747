//! Leaving the election on `Stop`: running ends first (so nothing reaches a contender and no
//! publish starts from there on), then our leader nodes and latch node are deleted — in one
//! guarded multi-op when every version is known — and a leave the connection interrupted is
//! finished after the next reconnect in the same session.

use actix::prelude::*;
use tracing::info;

use super::role::{Role, Write};
use super::{ElectionSupervisor, Lifecycle};
use crate::contender::{ElectionError, Stop};
use crate::error::ZkError;
use crate::latch::StopLatch;
use crate::node_cache::NodeView;
use crate::session::{ConnectionState, Delete, Exists, GuardedMulti, WriteOp, ZkSession};
use crate::trace::InSpanExt;

/// What a stopped supervisor must delete: its latch node, and its leader nodes (with the version
/// its cache saw, if any), all ephemeral nodes of the session `zk_session`.
#[derive(Clone, Debug)]
pub(super) struct Leaving {
    latch_node: Option<String>,
    leader_nodes: Vec<(String, Option<i32>)>,
    zk_session: Option<i64>,
}

impl ElectionSupervisor {
    /// Every contender's leader path, with the version of its node when the cache saw it as
    /// ours and no write of ours is in flight (only then is the version worth trusting).
    pub(super) fn own_leader_nodes(&self) -> Vec<(String, Option<i32>)> {
        let nodes = self.contenders.values().map(|contender| {
            let version = match contender.role.node() {
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
                act.lifecycle = Lifecycle::Stopped { pending_leave: Some(leaving) };
            }
            errors
        })
    }

    pub(super) fn on_connection_after_stop(&mut self, state: ConnectionState, ctx: &mut Context<Self>) {
        let Lifecycle::Stopped { pending_leave } = &mut self.lifecycle else { return };
        let Some(leaving) = pending_leave.take() else { return };
        match state {
            ConnectionState::Reconnected { same_session: true } => {
                let retry = self.leave(leaving).map(|errors, _act, _ctx| {
                    info!(errors = errors.len(), "left after the reconnect");
                });
                ctx.spawn(retry.in_span(&self.span));
            }
            // Still disconnected: keep waiting.
            ConnectionState::Suspended => *pending_leave = Some(leaving),
            // The session is gone, and our ephemeral nodes with it.
            ConnectionState::Lost | ConnectionState::Connected | ConnectionState::Reconnected { .. } => {}
        }
    }
}

impl Handler<Stop> for ElectionSupervisor {
    type Result = ResponseActFuture<Self, Result<(), ElectionError>>;

    fn handle(&mut self, _msg: Stop, _ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        let leader_nodes = self.own_leader_nodes();
        // Original order: running ends and every grant goes first, so nothing reaches a
        // contender and no publish starts from here on.
        let Lifecycle::Running { latch, .. } =
            std::mem::replace(&mut self.lifecycle, Lifecycle::Stopped { pending_leave: None })
        else {
            return Box::pin(actix::fut::ready(Ok(())));
        };
        info!("stopping election");
        self.epoch += 1;
        for contender in self.contenders.values_mut() {
            contender.role = Role::Follower; // silently: the caller asked for it
            contender.meter.stopped();
        }
        let zk_session = self.zk_session;
        // The latch first stops reacting, so deleting its node does not make it rejoin.
        let close_latch = async move {
            match latch {
                Some(latch) => latch.send(StopLatch).await.ok().flatten(),
                None => None,
            }
        };
        Box::pin(
            close_latch
                .into_actor(self)
                .then(move |latch_node, act, _ctx| act.leave(Leaving { latch_node, leader_nodes, zk_session }))
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

/// Deletes our leader nodes and our latch node, every leader-node delete guarded by the latch
/// node so that a successor's node is never touched. When every leader node's version is
/// known from the cache, one multi-op does it all (a clean handover costs one request);
/// otherwise, or when that multi-op finds something changed, each leader node is read, then
/// deleted if ours, and the latch node last. Answers the errors that kept something alive.
async fn delete_our_nodes(session: &Addr<ZkSession>, leaving: &Leaving) -> Vec<ZkError> {
    let Leaving { latch_node, leader_nodes, zk_session } = leaving.clone();
    // Without a session nothing can be ours, and there is nothing to delete.
    let Some(zk_session) = zk_session else { return Vec::new() };
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
                Ok(Ok(_)) => return Vec::new(),
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
        if let Err(err) = delete_own_leader_node(session, path, latch_node.clone(), zk_session).await {
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

/// Deletes the leader node at `path` if the session `zk_session` owns it; guarded by our latch
/// node when we still hold one.
async fn delete_own_leader_node(
    session: &Addr<ZkSession>,
    path: String,
    guard: Option<String>,
    zk_session: i64,
) -> Result<(), ZkError> {
    let Some(stat) = session.send(Exists { path: path.clone(), watch: None }).await?? else { return Ok(()) };
    if stat.ephemeral_owner != zk_session {
        return Ok(());
    }
    let version = Some(stat.version);
    let result = match guard {
        Some(guard) => session
            .send(GuardedMulti { guard, guard_version: None, ops: vec![WriteOp::Delete { path, version }] })
            .await?
            .map(drop),
        None => session.send(Delete { path, version }).await?,
    };
    match result {
        Ok(()) | Err(ZkError::NoNode | ZkError::BadVersion | ZkError::GuardFailed { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}
