//! The leader retrieval actor: tells whoever needs to find the leader who leads right now.
//!
//! The counterpart of Flink's `ZooKeeperLeaderRetrievalService`. A [`LeaderRetriever`] watches one
//! leader node (the one an [`ElectionSupervisor`](crate::ElectionSupervisor) publishes to) through
//! a [`LeaderNodeCache`], decodes it with the deployment's codec, and pushes every change to its
//! subscribers as a [`LeaderChanged`]:
//!
//! - [`LeaderChanged::Leader`] — the node holds a leader's address and leader session ID;
//! - [`LeaderChanged::NoLeader`] — the node is absent or empty, or our own ZooKeeper session was
//!   lost and the node has not been read again since;
//! - [`LeaderChanged::Undecodable`] — the node holds bytes the codec does not accept (written with
//!   the other codec, or by something else). Reported, never a crash.
//!
//! Subscribers see the changes in order and never the same value twice in a row. A new subscriber
//! is told the current value at once, if one is known.
//!
//! # Connection trouble
//!
//! While the connection is merely `Suspended` the last value stands (the leader's session may well
//! be alive). When our session is `Lost`, subscribers are told [`LeaderChanged::NoLeader`]: we can
//! no longer tell who leads. Once a new session is established the node is read again and the
//! value it holds is reported, even if it is the same as before the loss.
//!
//! # Example
//!
//! ```no_run
//! use actix::prelude::*;
//! use zk_election::{LeaderChanged, LeaderInfoCodec, LeaderRetriever, SubscribeLeader, ZkSession};
//!
//! /// Keeps track of where to send requests.
//! struct Client;
//!
//! impl Actor for Client {
//!     type Context = Context<Self>;
//! }
//!
//! impl Handler<LeaderChanged> for Client {
//!     type Result = ();
//!
//!     fn handle(&mut self, change: LeaderChanged, _ctx: &mut Context<Self>) {
//!         match change {
//!             LeaderChanged::Leader { address, leader_session, .. } => println!("send to {address}, tagged {leader_session}"),
//!             LeaderChanged::NoLeader => println!("hold requests: nobody leads"),
//!             LeaderChanged::Undecodable { bytes } => println!("leader node holds {bytes} foreign bytes"),
//!             LeaderChanged::Unreadable { error } => println!("leader node unreadable: {error}"),
//!             _ => {} // the enum is non-exhaustive
//!         }
//!     }
//! }
//!
//! #[actix::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let session = ZkSession::connect("127.0.0.1:2181")?;
//!     let retriever = LeaderRetriever::start(session, "/flink/leader/dispatcher", LeaderInfoCodec::Java)?;
//!     retriever.send(SubscribeLeader(Client.start().recipient())).await?;
//!     tokio::signal::ctrl_c().await?;
//!     Ok(())
//! }
//! ```

use actix::prelude::*;
use tracing::{debug, info_span};
use uuid::Uuid;

use crate::codec::LeaderInfoCodec;
use crate::error::ConfigError;
use crate::node_cache::{LeaderNodeCache, NodeChanged, NodeView, StopCache};
use crate::path;
use crate::port::{ConnectionStateChanged, OwnsPort, Port, Subscription, ZooKeeper};
use crate::zk::{ConnectionState, ZkError};

/// Who leads, as a [`LeaderRetriever`] tells its subscribers.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub enum LeaderChanged {
    /// The leader node holds this leader.
    Leader {
        /// The leader's address, as its contender subscribed it.
        address: String,
        /// The leader session ID the leader confirmed; tag requests to the leader with it.
        leader_session: Uuid,
        /// The leader's fencing token, when the codec carries one (bincode does, Flink's Java
        /// format does not).
        fencing_token: Option<i64>,
    },
    /// Nobody leads as far as we can tell: the leader node is absent or empty, or our session
    /// was lost and the node has not been read since.
    NoLeader,
    /// The leader node holds data the configured codec does not accept.
    Undecodable {
        /// How many bytes the node holds.
        bytes: usize,
    },
    /// The leader node exists but cannot be read, e.g. its ACL denies our session
    /// ([`ZkError::NoAuth`]). No watch can be set on it, so the retriever reads it again every
    /// second until it is gone or readable.
    Unreadable {
        /// Why the read failed.
        error: ZkError,
    },
}

/// Subscribe a recipient to the [`LeaderChanged`] events of a [`LeaderRetriever`]. Any number of
/// recipients may subscribe; each is told the current value at once (if known), then every
/// change. A recipient whose actor has stopped is dropped.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SubscribeLeader(pub Recipient<LeaderChanged>);

/// Ask a [`LeaderRetriever`] for its current value; `None` before the leader node was first read.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "Option<LeaderChanged>")]
pub struct GetLeader;

/// Stop a [`LeaderRetriever`]: its cache is closed and no subscriber hears from it again.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct StopRetriever;

/// The leader retrieval actor for one leader path. Start it with [`LeaderRetriever::start`]; stop
/// it with [`StopRetriever`], after which no subscriber hears from it again.
pub struct LeaderRetriever {
    /// The retriever itself only subscribes; its caches read. Its span is
    /// `leader_retriever{leader_path}`, inside the span that created the retriever.
    port: Port,
    leader_path: String,
    codec: LeaderInfoCodec,
    subscribers: Vec<Recipient<LeaderChanged>>,
    /// The value last told to subscribers; `None` until the node was first read.
    current: Option<LeaderChanged>,
    /// The cache of the current session; replaced after every session loss.
    cache: Option<Addr<LeaderNodeCache>>,
    /// Incarnation of `cache`. Changes reported by an older cache are dropped, so nothing read
    /// in a lost session can overwrite the `NoLeader` told at the loss.
    epoch: u64,
}

impl std::fmt::Debug for LeaderRetriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderRetriever")
            .field("leader_path", &self.leader_path)
            .field("codec", &self.codec)
            .field("current", &self.current)
            .field("subscribers", &self.subscribers.len())
            .finish_non_exhaustive()
    }
}

impl LeaderRetriever {
    /// A retriever of the leader node at `leader_path`, decoded with `codec`, over `zookeeper`
    /// (a session, which may be shared with elections and other retrievers).
    ///
    /// # Errors
    /// [`ConfigError::InvalidPath`] when `leader_path` is not a valid absolute ZooKeeper path.
    pub fn new(
        zookeeper: impl Into<ZooKeeper>,
        leader_path: impl Into<String>,
        codec: LeaderInfoCodec,
    ) -> Result<Self, ConfigError> {
        let leader_path = leader_path.into();
        path::validate("leader path", &leader_path)?;
        let span = info_span!("leader_retriever", leader_path = %leader_path);
        Ok(LeaderRetriever {
            port: Port::new(zookeeper.into(), span),
            codec,
            subscribers: Vec::new(),
            current: None,
            cache: None,
            epoch: 0,
            leader_path,
        })
    }

    /// Validates `leader_path` (see [`LeaderRetriever::new`]) and starts the retriever on the
    /// current arbiter. Must be called inside a running actix `System`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidPath`] when `leader_path` is not a valid absolute ZooKeeper path.
    pub fn start(
        zookeeper: impl Into<ZooKeeper>,
        leader_path: impl Into<String>,
        codec: LeaderInfoCodec,
    ) -> Result<Addr<LeaderRetriever>, ConfigError> {
        Ok(Actor::start(LeaderRetriever::new(zookeeper, leader_path, codec)?))
    }

    /// The watched leader path.
    pub fn leader_path(&self) -> &str {
        &self.leader_path
    }

    /// Replaces the leader-node cache with a fresh one, whose first read is always reported.
    fn start_cache(&mut self, ctx: &mut Context<Self>) {
        if let Some(old) = self.cache.take() {
            old.do_send(StopCache);
        }
        self.epoch += 1;
        let tap = CacheTap { epoch: self.epoch, retriever: ctx.address() }.start();
        let cache = LeaderNodeCache::new(self.port.zookeeper(), self.leader_path.clone(), tap.recipient());
        self.cache = Some(cache.start());
    }

    /// What a view of the leader node means to subscribers.
    fn interpret(&self, view: NodeView) -> Option<LeaderChanged> {
        match view {
            NodeView::Unknown => None,
            NodeView::Absent => Some(LeaderChanged::NoLeader),
            NodeView::Unreadable(error) => Some(LeaderChanged::Unreadable { error }),
            // Flink's retrieval service also reads empty data as "no leader".
            NodeView::Present { data, .. } if data.is_empty() => Some(LeaderChanged::NoLeader),
            NodeView::Present { data, .. } => match self.codec.decode(&data) {
                Ok(info) => Some(LeaderChanged::Leader {
                    address: info.address,
                    leader_session: info.leader_session,
                    fencing_token: info.fencing_token,
                }),
                Err(err) => {
                    debug!(codec = %self.codec, error = %err, "leader node is undecodable");
                    Some(LeaderChanged::Undecodable { bytes: data.len() })
                }
            },
        }
    }

    /// Tells every subscriber `value`, unless it is what they were told last.
    fn set(&mut self, value: LeaderChanged) {
        if self.current.as_ref() == Some(&value) {
            return;
        }
        debug!(?value, "leader changed");
        self.current = Some(value.clone());
        self.subscribers.retain(|subscriber| subscriber.connected());
        for subscriber in &self.subscribers {
            subscriber.do_send(value.clone());
        }
    }
}

impl OwnsPort for LeaderRetriever {
    fn port(&self) -> &Port {
        &self.port
    }
}

impl Actor for LeaderRetriever {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let subscription = Subscription::connection(ctx.address().recipient());
        self.port.subscribe(ctx, subscription, |act, status, ctx| match status {
            Ok(_) => act.start_cache(ctx),
            // No session to read through: nothing to retrieve, ever.
            Err(_) => ctx.stop(),
        });
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        if let Some(cache) = self.cache.take() {
            cache.do_send(StopCache);
        }
    }
}

impl Handler<SubscribeLeader> for LeaderRetriever {
    type Result = ();

    fn handle(&mut self, msg: SubscribeLeader, _ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        if let Some(current) = &self.current {
            msg.0.do_send(current.clone());
        }
        self.subscribers.push(msg.0);
    }
}

impl Handler<GetLeader> for LeaderRetriever {
    type Result = MessageResult<GetLeader>;

    fn handle(&mut self, _msg: GetLeader, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.current.clone())
    }
}

impl Handler<ConnectionStateChanged> for LeaderRetriever {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        if msg.state == ConnectionState::Lost {
            // The cache would stay silent if the node reads the same in the new session; a
            // fresh cache reports its first read whatever it is.
            self.start_cache(ctx);
            self.set(LeaderChanged::NoLeader);
        }
    }
}

impl Handler<StopRetriever> for LeaderRetriever {
    type Result = ();

    fn handle(&mut self, _msg: StopRetriever, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        self.subscribers.clear();
        ctx.stop();
    }
}

/// A node change tagged with the cache incarnation that saw it (internal).
#[derive(Message)]
#[rtype(result = "()")]
struct TaggedNodeChange {
    epoch: u64,
    view: NodeView,
}

impl Handler<TaggedNodeChange> for LeaderRetriever {
    type Result = ();

    fn handle(&mut self, msg: TaggedNodeChange, _ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        if msg.epoch != self.epoch {
            return; // from a cache of a lost session
        }
        if let Some(value) = self.interpret(msg.view) {
            self.set(value);
        }
    }
}

/// The owner of one cache incarnation: tags what the cache reports with its epoch. Stops with
/// the cache, which holds its only address.
struct CacheTap {
    epoch: u64,
    retriever: Addr<LeaderRetriever>,
}

impl Actor for CacheTap {
    type Context = Context<Self>;
}

impl Handler<NodeChanged> for CacheTap {
    type Result = ();

    fn handle(&mut self, msg: NodeChanged, _ctx: &mut Context<Self>) {
        self.retriever.do_send(TaggedNodeChange { epoch: self.epoch, view: msg.view });
    }
}
