//! [`RetrievalHandle`]: who leads, watched from a program that does not use actix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::watch;
use tracing::warn;

use super::election::DEFAULT_SHUTDOWN_TIMEOUT;
use super::thread::{ActorThread, Actors};
use crate::codec::LeaderInfoCodec;
use crate::config::SessionConfig;
use crate::contender::ElectionError;
use crate::path;
use crate::retrieval::{LeaderChanged, LeaderRetriever, StopRetriever, SubscribeLeader};
use crate::session::{StopSession, ZkSession};

/// Leader retrieval for programs that do not use actix: a session and a [`LeaderRetriever`] of
/// one leader path, on an actix `System` of their own, told through a
/// [`tokio::sync::watch`] of `Option<LeaderChanged>` (`None` until the leader node was first
/// read).
///
/// Cheap to clone; clones share the retriever. [`RetrievalHandle::shutdown`] stops the
/// retriever, closes the session, stops the System and joins its thread; dropping the last
/// clone does the same, blocking the dropping thread until done (at most the shutdown timeout,
/// 5 s, plus a second).
///
/// ```no_run
/// use zk_election::{LeaderChanged, LeaderInfoCodec, RetrievalHandle, SessionConfig};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let session = SessionConfig::builder("127.0.0.1:2181").build()?;
/// let retrieval = RetrievalHandle::start(session, "/app/leader/jobmanager", LeaderInfoCodec::Bincode).await?;
/// let mut leader = retrieval.leader();
/// while leader.changed().await.is_ok() {
///     if let Some(LeaderChanged::Leader { address, fencing_token, .. }) = &*leader.borrow() {
///         println!("leader: {address} (token {fencing_token:?})");
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RetrievalHandle {
    inner: Arc<Inner>,
}

struct Inner {
    leader_path: String,
    leader: watch::Receiver<Option<LeaderChanged>>,
    /// `None` once shut down; dropped with `Inner`, which stops everything if still running.
    thread: tokio::sync::Mutex<Option<ActorThread>>,
}

impl std::fmt::Debug for RetrievalHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetrievalHandle")
            .field("leader_path", &self.inner.leader_path)
            .field("leader", &*self.inner.leader.borrow())
            .finish_non_exhaustive()
    }
}

impl RetrievalHandle {
    /// Starts a session with `session` and a retriever of the leader node at `leader_path`,
    /// decoded with `codec`, on a System of their own; answers once the retriever runs.
    ///
    /// # Errors
    /// [`ElectionError::Config`] for an invalid leader path (nothing is started then);
    /// [`ElectionError::Stopped`] if the actor thread could not be started.
    pub async fn start(
        session: SessionConfig,
        leader_path: impl Into<String>,
        codec: LeaderInfoCodec,
    ) -> Result<RetrievalHandle, ElectionError> {
        let leader_path = leader_path.into();
        path::validate("leader path", &leader_path)?;
        let (sender, leader) = watch::channel(None);
        let actors = RetrievalActors { session, leader_path: leader_path.clone(), codec, sender };
        let (thread, _running) =
            ActorThread::spawn("zk-election-retrieval", actors, DEFAULT_SHUTDOWN_TIMEOUT, || ()).await?;
        Ok(RetrievalHandle {
            inner: Arc::new(Inner { leader_path, leader, thread: tokio::sync::Mutex::new(Some(thread)) }),
        })
    }

    /// The watched leader path.
    pub fn leader_path(&self) -> &str {
        &self.inner.leader_path
    }

    /// A receiver of who leads: `None` until the leader node was first read, then every change
    /// the [`LeaderRetriever`] tells (see [`LeaderChanged`]). After shutdown it keeps the last
    /// value and [`watch::Receiver::changed`] answers an error.
    pub fn leader(&self) -> watch::Receiver<Option<LeaderChanged>> {
        self.inner.leader.clone()
    }

    /// Who leads as of now; `None` until the leader node was first read.
    pub fn current(&self) -> Option<LeaderChanged> {
        self.inner.leader.borrow().clone()
    }

    /// Stops the retriever, closes the session, stops the System and joins its thread. Affects
    /// every clone; a concurrent call waits for the first, later calls return at once.
    pub async fn shutdown(&self) {
        let mut thread = self.inner.thread.lock().await;
        if let Some(running) = thread.as_mut() {
            let _ = running.finish().await;
            *thread = None;
        }
    }
}

/// What the System of a [`RetrievalHandle`] runs.
struct RetrievalActors {
    session: SessionConfig,
    leader_path: String,
    codec: LeaderInfoCodec,
    sender: watch::Sender<Option<LeaderChanged>>,
}

/// The actors of a retrieval System, kept there to stop them.
#[derive(Clone)]
struct Running {
    session: Addr<ZkSession>,
    retriever: Addr<LeaderRetriever>,
}

impl Actors for RetrievalActors {
    type Started = Running;

    async fn start(self) -> Result<Running, ElectionError> {
        let session = ZkSession::start(self.session);
        let retriever = match LeaderRetriever::start(session.clone(), self.leader_path, self.codec) {
            Ok(retriever) => retriever,
            Err(err) => {
                let _ = session.send(StopSession).await;
                return Err(err.into());
            }
        };
        let tap = Tap { sender: self.sender }.start();
        if let Err(err) = retriever.send(SubscribeLeader(tap.recipient())).await {
            let _ = session.send(StopSession).await;
            return Err(err.into());
        }
        Ok(Running { session, retriever })
    }

    async fn stop(running: Running, within: Duration) -> Result<(), ElectionError> {
        let deadline = Instant::now() + within;
        let _ = running.retriever.send(StopRetriever).timeout(within).await;
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(200));
        if running.session.send(StopSession).timeout(left).await.is_err() {
            warn!("the ZooKeeper session did not close in time");
        }
        Ok(())
    }
}

/// Forwards what the retriever tells into the watch.
struct Tap {
    sender: watch::Sender<Option<LeaderChanged>>,
}

impl Actor for Tap {
    type Context = Context<Self>;
}

impl Handler<LeaderChanged> for Tap {
    type Result = ();

    fn handle(&mut self, change: LeaderChanged, _ctx: &mut Context<Self>) {
        self.sender.send_replace(Some(change));
    }
}
