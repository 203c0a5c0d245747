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
//! # Observations and history
//!
//! [`SubscribeObservations`] gives the same changes as numbered [`Observation`]s: a
//! [`LeaderState`] (where an absent or empty node is [`LeaderState::Vacant`], never "we cannot
//! tell") and its [`Freshness`]. While contact with ZooKeeper is lost — a dropped connection,
//! a lost session, servers without a quorum — the last state stays the answer, marked
//! [`Freshness::Stale`] with the moment contact was lost, until a connected session reads the
//! node again. [`GetHistory`] answers the last terms seen ([`Term`]), each with how it ended
//! ([`TermEnd`]) when the retriever knows the line ([`LeaderRetriever::with_line`]).
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

mod history;
mod line;
mod messages;
mod observation;
mod tap;

pub use history::{GetHistory, SubscribeTerms, Term, TermEnd, DEFAULT_HISTORY};
pub use messages::{GetLeader, LeaderChanged, StopRetriever, SubscribeLeader};
pub use observation::{Freshness, GetObservation, LeaderState, Observation, SubscribeObservations};

use std::time::SystemTime;

use actix::prelude::*;
use tracing::{debug, info_span};

use crate::codec::LeaderInfoCodec;
use crate::error::ConfigError;
use crate::node_cache::{LeaderNodeCache, NodeView, StopCache};
use crate::path;
use crate::port::{ConnectionStateChanged, OwnsPort, Port, Subscription, ZooKeeper};
use crate::telemetry::ObserverMeter;
use crate::zk::ConnectionState;
use history::History;
use observation::{Contact, Observations};
use tap::{CacheTap, TaggedNodeChange};

/// How often a live retriever stamps its metric of the moment the leader was last confirmed.
#[cfg(feature = "metrics")]
const CONFIRM_TICK: std::time::Duration = std::time::Duration::from_secs(1);

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
    /// The numbered reports and their subscribers.
    observations: Observations,
    /// How we are in touch with ZooKeeper: the freshness of what we report.
    contact: Contact,
    /// The latch whose line tells how terms end, if known.
    latch_path: Option<String>,
    /// Watch the leader node with a persistent watch ([`LeaderRetriever::with_persistent_watch`]).
    persistent_watch: bool,
    history: History,
    /// Who hears of each term whose end became known.
    term_subscribers: Vec<Recipient<Term>>,
    meter: ObserverMeter,
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
            observations: Observations::default(),
            contact: Contact::Live,
            latch_path: None,
            persistent_watch: false,
            history: History::new(DEFAULT_HISTORY),
            term_subscribers: Vec::new(),
            meter: ObserverMeter::new(&leader_path),
            leader_path,
        })
    }

    /// Lists the line of the latch at `latch_path` at the start of every term, so that the
    /// history tells how each term ended ([`TermEnd`]); without it, every end is
    /// [`TermEnd::Unknown`]. One `getChildren` and a read per candidate per term.
    ///
    /// # Errors
    /// [`ConfigError::InvalidPath`] when `latch_path` is not a valid absolute ZooKeeper path.
    pub fn with_line(mut self, latch_path: impl Into<String>) -> Result<Self, ConfigError> {
        let latch_path = latch_path.into();
        path::validate("latch path", &latch_path)?;
        self.latch_path = Some(latch_path);
        Ok(self)
    }

    /// Watches the leader node with one persistent watch per session (ZooKeeper 3.6+; one-shot
    /// watches on older servers) instead of a one-shot watch set again after each event: every
    /// vacancy between two leaders is seen (a one-shot watch misses it whenever the successor's
    /// node is there before the watch is set again), and a change costs one request instead of
    /// 1.6 (BENCHMARKS.md).
    ///
    /// A server before 3.6 refuses the watch ([`ZkError::Unimplemented`](crate::ZkError)) and the
    /// retriever falls back to one-shot watches for good; a 3.4 server also closes the
    /// connection after that answer, so the session reconnects once (`tests/old_server.rs`).
    ///
    /// Only on a session where nothing else watches the same node: measured with
    /// `zookeeper-client` 0.11, once an election on the same session stopped its own one-shot
    /// watch of the leader node, the persistent watch delivered no further event
    /// (`tests/observers.rs`). `zk-elect observe` uses it; the sidecar of `campaign` and `run`,
    /// whose session the election shares, does not.
    pub fn with_persistent_watch(mut self) -> Self {
        self.persistent_watch = true;
        self
    }

    /// Remembers the last `terms` terms (at least 1) instead of [`DEFAULT_HISTORY`].
    pub fn with_history(mut self, terms: usize) -> Self {
        self.history = History::new(terms);
        self
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
        let (zookeeper, path, owner) = (self.port.zookeeper(), self.leader_path.clone(), tap.recipient());
        let cache = if self.persistent_watch {
            LeaderNodeCache::persistent(zookeeper, path, owner)
        } else {
            LeaderNodeCache::new(zookeeper, path, owner)
        };
        self.cache = Some(cache.start());
    }

    /// What a view of the leader node says, and the session that owns the node.
    fn interpret(&self, view: NodeView) -> Option<(LeaderState, i64)> {
        match view {
            NodeView::Unknown => None,
            NodeView::Absent => Some((LeaderState::Vacant, 0)),
            NodeView::Unreadable(error) => Some((LeaderState::Unreadable { error }, 0)),
            // Flink's retrieval service also reads empty data as "no leader".
            NodeView::Present { data, .. } if data.is_empty() => Some((LeaderState::Vacant, 0)),
            NodeView::Present { data, stat } => match self.codec.decode(&data) {
                Ok(info) => Some((
                    LeaderState::Leading {
                        address: info.address,
                        leader_session: info.leader_session,
                        fencing_token: info.fencing_token,
                    },
                    stat.ephemeral_owner,
                )),
                Err(err) => {
                    debug!(codec = %self.codec, error = %err, "leader node is undecodable");
                    Some((LeaderState::Undecodable { bytes: data.len() }, stat.ephemeral_owner))
                }
            },
        }
    }

    /// A connected session read `state` in a node owned by `zk_session`: it is live news.
    fn read(&mut self, state: LeaderState, zk_session: i64, ctx: &mut Context<Self>) {
        let now = SystemTime::now();
        match &state {
            LeaderState::Leading { address, leader_session, fencing_token } => {
                if let Some(began) = self.history.leading(address, *leader_session, *fencing_token, zk_session, now) {
                    self.meter.term_began(began.first, began.ended_tenure, *fencing_token);
                    self.list_line(*leader_session, ctx);
                }
            }
            LeaderState::Vacant => {
                let tenure = self.history.vacant(now);
                self.meter.vacant(tenure);
            }
            // The term goes on as far as we know.
            LeaderState::Undecodable { .. } | LeaderState::Unreadable { .. } => {}
        }
        self.contact = self.contact.after_read();
        if self.contact == Contact::Live {
            self.meter.confirmed();
        }
        self.set(state.clone().into());
        self.observations.report(&state, self.contact.freshness());
    }

    /// Tells every subscriber `value`, unless it is what they were told last.
    fn set(&mut self, value: LeaderChanged) {
        if self.current.as_ref() == Some(&value) {
            return;
        }
        debug!(?value, "leader changed");
        tell_all(&mut self.subscribers, &value);
        self.current = Some(value);
    }
}

/// Sends `message` to every subscriber still there; the ones whose actor stopped are dropped.
fn tell_all<M>(subscribers: &mut Vec<Recipient<M>>, message: &M)
where
    M: Message<Result = ()> + Clone + Send + 'static,
{
    subscribers.retain(|subscriber| subscriber.connected());
    for subscriber in subscribers.iter() {
        subscriber.do_send(message.clone());
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
        // Alerting on "not confirmed for a minute" needs a timestamp that moves while all is well
        // (without metrics there is nothing to stamp: no timer).
        #[cfg(feature = "metrics")]
        ctx.run_interval(CONFIRM_TICK, |act, _ctx| {
            if act.contact == Contact::Live && act.observations.latest().is_some() {
                act.meter.confirmed();
            }
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

impl Handler<SubscribeObservations> for LeaderRetriever {
    type Result = ();

    fn handle(&mut self, msg: SubscribeObservations, _ctx: &mut Context<Self>) {
        self.observations.subscribe(msg.0);
    }
}

impl Handler<GetObservation> for LeaderRetriever {
    type Result = MessageResult<GetObservation>;

    fn handle(&mut self, _msg: GetObservation, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.observations.latest().cloned())
    }
}

impl Handler<GetHistory> for LeaderRetriever {
    type Result = MessageResult<GetHistory>;

    fn handle(&mut self, _msg: GetHistory, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.history.terms())
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
        self.contact = self.contact.after(msg.state, msg.read_only, SystemTime::now());
        self.observations.refresh(self.contact.freshness());
    }
}

impl Handler<StopRetriever> for LeaderRetriever {
    type Result = ();

    fn handle(&mut self, _msg: StopRetriever, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        self.subscribers.clear();
        self.observations.clear_subscribers();
        self.term_subscribers.clear();
        ctx.stop();
    }
}

impl Handler<TaggedNodeChange> for LeaderRetriever {
    type Result = ();

    fn handle(&mut self, msg: TaggedNodeChange, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        if msg.epoch != self.epoch {
            return; // from a cache of a lost session
        }
        if let Some((state, zk_session)) = self.interpret(msg.view) {
            self.read(state, zk_session, ctx);
        }
    }
}
