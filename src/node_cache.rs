//! The leader-node cache actor: Curator `NodeCache` semantics for one path.
//!
//! Keeps the last seen data and stat of the node, re-arms its watch after every event and after
//! every reconnect, and tells its owner [`NodeChanged`] whenever what it sees differs from what
//! it saw before.

use actix::prelude::*;
use tracing::{debug, info_span, Span};

use crate::error::ZkError;
use crate::session::{
    ConnectionState, ConnectionStateChanged, Exists, GetData, Stat, SubscribeConnection, WatchEvent, WatchFired,
    ZkSession,
};
use crate::trace::InSpanExt;

/// Pause between reads of a node we may not read (no watch can be set on it).
const UNREADABLE_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// Pause before reading again after a read the connection broke.
const RETRY_READ: std::time::Duration = std::time::Duration::from_millis(500);

/// What the cache knows about its node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NodeView {
    /// Not read yet (or unreadable right now).
    #[default]
    Unknown,
    /// The node does not exist.
    Absent,
    /// The node exists with this data and stat.
    Present {
        /// The node's data.
        data: Vec<u8>,
        /// The node's stat (version, ephemeral owner, …).
        stat: Stat,
    },
    /// The node exists but we may not read it (its ACL denies us: [`ZkError::NoAuth`]).
    /// ZooKeeper notifies nobody about such a node, so the cache reads it again every second
    /// until it is gone or readable.
    Unreadable(ZkError),
}

/// Sent to the cache's owner whenever the view of the node changes.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct NodeChanged {
    /// The cached path.
    pub path: String,
    /// The new view.
    pub view: NodeView,
}

/// Ask the cache for its current view.
#[derive(Message)]
#[rtype(result = "NodeView")]
pub struct GetView;

/// Forget what was seen and read the node again now: the owner hears the fresh view even if
/// it did not change (e.g. after the owner's own write, which made its view stale).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Refresh;

/// Stop the cache. Its watch is left to fire into nothing.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseCache;

/// The cache actor for one path.
pub struct LeaderNodeCache {
    session: Addr<ZkSession>,
    path: String,
    owner: Recipient<NodeChanged>,
    view: NodeView,
    /// Bumped on every refresh; only the newest read may update the view, so a slow stale
    /// answer never overwrites a fresher one.
    reads: u64,
    /// ZooKeeper requests issued, for metrics.
    requests: u64,
    /// `leader_node_cache{path}`, inside the span of whoever created the cache.
    span: Span,
}

impl LeaderNodeCache {
    /// A cache of `path` reporting to `owner`.
    pub fn new(session: Addr<ZkSession>, path: String, owner: Recipient<NodeChanged>) -> Self {
        let span = info_span!("leader_node_cache", path = %path);
        LeaderNodeCache { session, path, owner, view: NodeView::Unknown, reads: 0, requests: 0, span }
    }

    /// Reads the node with a watch: data if it exists, else an exists-watch for its creation.
    /// A node we may not read is read again every [`UNREADABLE_POLL`].
    fn refresh(&mut self, ctx: &mut Context<Self>) {
        self.reads += 1;
        let read = self.reads;
        let session = self.session.clone();
        let path = self.path.clone();
        let me = ctx.address().recipient::<WatchFired>();
        let fetch = async move {
            let mut requests = 0;
            let view = loop {
                requests += 1;
                match session.send(GetData { path: path.clone(), watch: Some(me.clone()) }).await {
                    Ok(Ok((data, stat))) => break Ok(NodeView::Present { data, stat }),
                    Ok(Err(ZkError::NoNode)) => {}
                    Ok(Err(err)) if err.is_transient() => break Err(err),
                    // The node exists (else NoNode) but we may not read it.
                    Ok(Err(err)) => break Ok(NodeView::Unreadable(err)),
                    Err(mailbox) => break Err(mailbox.into()),
                }
                // Absent: watch for its creation. If it appeared in between, read it again.
                requests += 1;
                match session.send(Exists { path: path.clone(), watch: Some(me.clone()) }).await {
                    Ok(Ok(None)) => break Ok(NodeView::Absent),
                    Ok(Ok(Some(_))) => {}
                    Ok(Err(err)) => break Err(err),
                    Err(mailbox) => break Err(mailbox.into()),
                }
            };
            (view, requests)
        };
        ctx.spawn(
            fetch
                .into_actor(self)
                .map(move |(result, requests), act, ctx| {
                    act.requests += requests;
                    if matches!(result, Ok(NodeView::Unreadable(_))) && read == act.reads {
                        // ZooKeeper tells nobody about changes to a node they may not read: poll.
                        act.refresh_later(read, UNREADABLE_POLL, ctx);
                    }
                    match result {
                        Ok(view) if read == act.reads && view != act.view => {
                            act.view = view.clone();
                            act.owner.do_send(NodeChanged { path: act.path.clone(), view });
                        }
                        Ok(_) => {}
                        // Transient trouble: the next reconnect triggers a fresh read. Should none come
                        // (the connection was back before anyone noticed it gone), read again after a
                        // pause unless a newer read started meanwhile: without a read, no watch is armed.
                        Err(err) if err.is_transient() && read == act.reads => {
                            debug!(error = %err, "leader node read failed; retrying");
                            act.refresh_later(read, RETRY_READ, ctx);
                        }
                        Err(err) => debug!(error = %err, "leader node read failed"),
                    }
                })
                .in_span(&self.span),
        );
    }

    /// Reads again after `delay`, unless a read newer than `read` has started meanwhile.
    fn refresh_later(&self, read: u64, delay: std::time::Duration, ctx: &mut Context<Self>) {
        ctx.run_later(delay, move |act, ctx| {
            let _span = act.span.clone().entered();
            if read == act.reads {
                act.refresh(ctx);
            }
        });
    }
}

impl Actor for LeaderNodeCache {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let subscribe = self.session.send(SubscribeConnection(ctx.address().recipient()));
        ctx.wait(
            subscribe
                .into_actor(self)
                .map(|status, act, ctx| match status {
                    Ok(status) if status.is_connected() => act.refresh(ctx),
                    Ok(_) => {}
                    Err(_) => ctx.stop(),
                })
                .in_span(&self.span),
        );
    }
}

impl Handler<ConnectionStateChanged> for LeaderNodeCache {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        match msg.state {
            ConnectionState::Connected | ConnectionState::Reconnected { .. } => self.refresh(ctx),
            ConnectionState::Suspended | ConnectionState::Lost => {}
        }
    }
}

impl Handler<WatchFired> for LeaderNodeCache {
    type Result = ();

    fn handle(&mut self, msg: WatchFired, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        if msg.event != WatchEvent::SessionEnded && msg.path == self.path {
            self.refresh(ctx);
        }
    }
}

impl Handler<Refresh> for LeaderNodeCache {
    type Result = ();

    fn handle(&mut self, _msg: Refresh, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.view = NodeView::Unknown;
        self.refresh(ctx);
    }
}

impl Handler<GetView> for LeaderNodeCache {
    type Result = MessageResult<GetView>;

    fn handle(&mut self, _msg: GetView, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.view.clone())
    }
}

impl Handler<CloseCache> for LeaderNodeCache {
    type Result = ();

    fn handle(&mut self, _msg: CloseCache, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        ctx.stop();
    }
}
