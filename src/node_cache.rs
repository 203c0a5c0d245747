//! The leader-node cache actor: Curator `NodeCache` semantics for one path.
//!
//! Keeps the last seen data and stat of the node, re-arms its watch after every event and after
//! every reconnect, and tells its owner [`NodeChanged`] whenever what it sees differs from what
//! it saw before.
//!
//! [`LeaderNodeCache::persistent`] watches with one persistent watch per session instead
//! (ZooKeeper 3.6+, falling back to one-shot watches on servers that refuse it): a deletion is
//! known from its event alone, without a read, and no change falls between a watch firing and
//! the next one being set.

use actix::prelude::*;
use tracing::{debug, info_span};

use crate::port::{ConnectionStateChanged, OwnsPort, Port, Subscription, WatchFired, ZooKeeper};
use crate::zk::{AddWatch, ConnectionState, Exists, GetData, Stat, WatchEvent, ZkError};

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

/// Forget what was seen and read the node again now: the owner hears the fresh view even if
/// it did not change (e.g. after the owner's own write, which made its view stale).
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct Refresh;

/// Stop the cache. Its watch is left to fire into nothing.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct StopCache;

/// The cache actor for one path.
pub struct LeaderNodeCache {
    /// Its epoch moves on with every refresh: only the newest read may update the view, so a
    /// slow stale answer never overwrites a fresher one. Its span is
    /// `leader_node_cache{path}`, inside the span of whoever created the cache.
    port: Port,
    path: String,
    owner: Recipient<NodeChanged>,
    view: NodeView,
    watches: Watches,
}

/// How the cache hears of changes to its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Watches {
    /// A one-shot watch with every read, set again after it fires.
    OneShot,
    /// One persistent watch per session; `set` once the server took it.
    Persistent { set: bool },
}

impl std::fmt::Debug for LeaderNodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderNodeCache").field("path", &self.path).field("view", &self.view).finish_non_exhaustive()
    }
}

impl OwnsPort for LeaderNodeCache {
    fn port(&self) -> &Port {
        &self.port
    }
}

impl LeaderNodeCache {
    /// A cache of `path` over `zookeeper`, reporting to `owner`.
    pub fn new(zookeeper: impl Into<ZooKeeper>, path: String, owner: Recipient<NodeChanged>) -> Self {
        let span = info_span!("leader_node_cache", path = %path);
        let port = Port::new(zookeeper.into(), span);
        LeaderNodeCache { port, path, owner, view: NodeView::Unknown, watches: Watches::OneShot }
    }

    /// A cache of `path` that watches it with a persistent watch (see the module docs).
    pub fn persistent(zookeeper: impl Into<ZooKeeper>, path: String, owner: Recipient<NodeChanged>) -> Self {
        LeaderNodeCache { watches: Watches::Persistent { set: false }, ..LeaderNodeCache::new(zookeeper, path, owner) }
    }

    /// Starts a new read of the node; answers to older ones are dropped.
    fn refresh(&mut self, ctx: &mut Context<Self>) {
        self.port.next_epoch();
        match self.watches {
            Watches::OneShot => self.read(ctx),
            Watches::Persistent { set: true } => self.read_plain(ctx),
            Watches::Persistent { set: false } => self.add_watch(ctx),
        }
    }

    /// Asks for the persistent watch, then reads; a server before 3.6 gets one-shot watches.
    fn add_watch(&mut self, ctx: &mut Context<Self>) {
        self.port.watch(ctx, AddWatch::new(self.path.clone()), |act, result, ctx| match result {
            Ok(()) => {
                act.watches = Watches::Persistent { set: true };
                act.read_plain(ctx);
            }
            Err(err) if err.is_transient() => act.read_failed(err, ctx),
            Err(err) => {
                debug!(error = %err, "no persistent watch; one-shot watches instead");
                act.watches = Watches::OneShot;
                act.read(ctx);
            }
        });
    }

    /// Reads the node without a watch: the persistent one tells of every change.
    fn read_plain(&mut self, ctx: &mut Context<Self>) {
        self.port.ask(ctx, GetData::new(self.path.clone()), |act, result, ctx| match result {
            Ok((data, stat)) => act.seen(NodeView::Present { data, stat }),
            Err(ZkError::NoNode) => act.seen(NodeView::Absent),
            Err(err) if err.is_transient() => act.read_failed(err, ctx),
            Err(err) => {
                act.seen(NodeView::Unreadable(err));
                act.refresh_later(UNREADABLE_POLL, ctx);
            }
        });
    }

    /// Reads the node with a watch: data if it exists, else an exists-watch for its creation.
    fn read(&mut self, ctx: &mut Context<Self>) {
        self.port.watch(ctx, GetData::new(self.path.clone()), |act, result, ctx| match result {
            Ok((data, stat)) => act.seen(NodeView::Present { data, stat }),
            Err(ZkError::NoNode) => act.watch_creation(ctx),
            Err(err) if err.is_transient() => act.read_failed(err, ctx),
            // The node exists (else NoNode) but we may not read it. ZooKeeper tells nobody
            // about changes to such a node: poll.
            Err(err) => {
                act.seen(NodeView::Unreadable(err));
                act.refresh_later(UNREADABLE_POLL, ctx);
            }
        });
    }

    /// The node is absent: watch for its creation. If it appeared in between, read it again.
    fn watch_creation(&mut self, ctx: &mut Context<Self>) {
        self.port.watch(ctx, Exists::new(self.path.clone()), |act, result, ctx| match result {
            Ok(None) => act.seen(NodeView::Absent),
            Ok(Some(_)) => act.read(ctx),
            Err(err) if err.is_transient() => act.read_failed(err, ctx),
            Err(err) => debug!(error = %err, "leader node read failed"),
        });
    }

    /// Tells the owner about a view that differs from the last one.
    fn seen(&mut self, view: NodeView) {
        if view != self.view {
            self.view = view.clone();
            self.owner.do_send(NodeChanged { path: self.path.clone(), view });
        }
    }

    /// Transient trouble: the next reconnect triggers a fresh read. Should none come (the
    /// connection was back before anyone noticed it gone), read again after a pause unless a
    /// newer read started meanwhile: without a read, no watch is armed.
    fn read_failed(&mut self, err: ZkError, ctx: &mut Context<Self>) {
        debug!(error = %err, "leader node read failed; retrying");
        self.refresh_later(RETRY_READ, ctx);
    }

    /// Reads again after `delay`, unless a newer read has started meanwhile.
    fn refresh_later(&self, delay: std::time::Duration, ctx: &mut Context<Self>) {
        let epoch = self.port.epoch();
        ctx.run_later(delay, move |act, ctx| {
            let _span = act.port.span().clone().entered();
            if epoch == act.port.epoch() {
                act.refresh(ctx);
            }
        });
    }
}

impl Actor for LeaderNodeCache {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let subscription = Subscription::connection(ctx.address().recipient());
        self.port.subscribe(ctx, subscription, |act, status, ctx| match status {
            Ok(status) if status.is_connected() => act.refresh(ctx),
            Ok(_) => {}
            Err(_) => ctx.stop(),
        });
    }
}

impl Handler<ConnectionStateChanged> for LeaderNodeCache {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        match msg.state {
            // A new session has none of the old one's watches, and the client does not set a
            // persistent watch again on a server that lost it (a restart): ask again.
            ConnectionState::Connected | ConnectionState::Reconnected { .. } => {
                if let Watches::Persistent { set } = &mut self.watches {
                    *set = false;
                }
                self.refresh(ctx)
            }
            ConnectionState::Suspended | ConnectionState::Lost => {}
        }
    }
}

impl Handler<WatchFired> for LeaderNodeCache {
    type Result = ();

    fn handle(&mut self, msg: WatchFired, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        if msg.path != self.path {
            return;
        }
        match (self.watches, msg.event) {
            (_, WatchEvent::SessionEnded) => {}
            // The event says all there is: no read, and none under way counts any more.
            (Watches::Persistent { set: true }, WatchEvent::Deleted) => {
                self.port.next_epoch();
                self.seen(NodeView::Absent);
            }
            _ => self.refresh(ctx),
        }
    }
}

impl Handler<Refresh> for LeaderNodeCache {
    type Result = ();

    fn handle(&mut self, _msg: Refresh, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        self.view = NodeView::Unknown;
        self.refresh(ctx);
    }
}

impl Handler<StopCache> for LeaderNodeCache {
    type Result = ();

    fn handle(&mut self, _msg: StopCache, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        ctx.stop();
    }
}
