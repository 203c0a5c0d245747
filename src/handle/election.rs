//! [`ElectionHandle`]: one contender in an election, run on an actix System of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::watch;
use tracing::warn;
use uuid::Uuid;

use super::leadership::{ConfirmMode, Leadership};
use super::relay::{mark_stopped, ConfirmGrant, Relay, ResignVia};
use super::thread::{ActorThread, Actors};
use crate::config::{ElectionConfig, SessionConfig};
use crate::contender::{
    ElectionError, GetFencingToken, HasLeadership, LeaderWrite, LeadershipClaim, ProveLeadership, StopElection,
    Subscribe,
};
use crate::error::{ConfigError, ZkError};
use crate::session::{StopSession, ZkSession};
use crate::supervisor::ElectionSupervisor;
use crate::zk::{WriteOp, WriteResult};

/// Default of [`ElectionHandleBuilder::shutdown_timeout`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Builder of an [`ElectionHandle`]; start with [`ElectionHandle::builder`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until started"]
pub struct ElectionHandleBuilder {
    session: SessionConfig,
    election: ElectionConfig,
    component: String,
    address: String,
    leader_path: String,
    confirm: ConfirmMode,
    shutdown_timeout: Duration,
}

impl ElectionHandleBuilder {
    /// The contender's component name. Required (left empty, [`ElectionHandleBuilder::start`]
    /// answers [`ConfigError::EmptyComponent`]).
    pub fn component(mut self, component: impl Into<String>) -> Self {
        self.component = component.into();
        self
    }

    /// The address published in the leader node while the contender leads. Required (left
    /// empty, [`ElectionHandleBuilder::start`] answers [`ConfigError::EmptyAddress`]).
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }

    /// Where the contender's leader information is published. Required (left empty,
    /// [`ElectionHandleBuilder::start`] answers [`ConfigError::InvalidPath`]).
    pub fn leader_path(mut self, leader_path: impl Into<String>) -> Self {
        self.leader_path = leader_path.into();
        self
    }

    /// Who confirms grants (default [`ConfirmMode::Auto`]).
    pub fn confirm(mut self, mode: ConfirmMode) -> Self {
        self.confirm = mode;
        self
    }

    /// How long stopping may take (default [`DEFAULT_SHUTDOWN_TIMEOUT`]): the election's
    /// `StopElection` and then closing the session share it. Dropping a handle blocks the dropping
    /// thread for at most this (plus a second).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Starts the session and the election on a System of their own and subscribes the
    /// contender; answers once subscribed (not once connected: the
    /// [`leadership`](ElectionHandle::leadership) watch tells what follows).
    ///
    /// # Errors
    /// [`ElectionError::Config`] for an empty component or address, an invalid leader path or
    /// one overlapping the latch path; [`ElectionError::Unencodable`] for an address the codec
    /// cannot write; [`ElectionError::Stopped`] if the actor thread could not be started.
    pub async fn start(self) -> Result<ElectionHandle, ElectionError> {
        // The supervisor checks these too; checked here, nothing is started for nothing.
        if self.component.is_empty() {
            return Err(ConfigError::EmptyComponent.into());
        }
        if self.address.is_empty() {
            return Err(ConfigError::EmptyAddress.into());
        }
        self.election.check_leader_path(&self.leader_path)?;
        let leadership = Arc::new(watch::Sender::new(Leadership::Follower));
        let (errors, errors_rx) = watch::channel(None);
        let (component, confirm, shutdown_timeout) = (self.component.clone(), self.confirm, self.shutdown_timeout);
        let actors = ElectionActors { spec: self, leadership: leadership.clone(), errors };
        let mark = leadership.clone();
        let on_exit = move || {
            mark.send_replace(Leadership::Stopped);
        };
        let name = format!("zk-election-{component}");
        let (thread, started) = ActorThread::spawn(&name, actors, shutdown_timeout, on_exit).await?;
        Ok(ElectionHandle {
            inner: Arc::new(Inner {
                component,
                confirm,
                started,
                leadership,
                errors: errors_rx,
                thread: tokio::sync::Mutex::new(Some(thread)),
            }),
        })
    }
}

/// One contender in a leader election, for programs that do not use actix: the session, the
/// election supervisor and the contender run on an actix `System` on a thread of their own, and
/// the handle talks to them from any async runtime (or thread).
///
/// The handle is cheap to clone; clones share the contender. Leadership is a
/// [`tokio::sync::watch`] of [`Leadership`]; fencing is [`ElectionHandle::fencing_token`],
/// [`ElectionHandle::prove_leadership`] and [`ElectionHandle::leader_write`].
///
/// [`ElectionHandle::shutdown`] stops the election (its latch node and leader node are deleted,
/// the watch shows [`Leadership::Stopped`]), closes the session, stops the System and joins its
/// thread. Dropping the last clone does the same, blocking the dropping thread until done or
/// the shutdown timeout has passed; in async code, prefer `shutdown().await`.
///
/// See the [module documentation](crate::handle) for an example.
#[derive(Clone)]
pub struct ElectionHandle {
    inner: Arc<Inner>,
}

struct Inner {
    component: String,
    confirm: ConfirmMode,
    started: Started,
    leadership: Arc<watch::Sender<Leadership>>,
    errors: watch::Receiver<Option<ElectionError>>,
    /// `None` once shut down. Dropped last (with `Inner`): stops everything if still running.
    thread: tokio::sync::Mutex<Option<ActorThread>>,
}

impl std::fmt::Debug for ElectionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElectionHandle")
            .field("component", &self.inner.component)
            .field("confirm", &self.inner.confirm)
            .field("leadership", &*self.inner.leadership.borrow())
            .finish_non_exhaustive()
    }
}

impl ElectionHandle {
    /// A builder of a handle for an election with `election` over a session with `session`.
    pub fn builder(session: SessionConfig, election: ElectionConfig) -> ElectionHandleBuilder {
        ElectionHandleBuilder {
            session,
            election,
            component: String::new(),
            address: String::new(),
            leader_path: String::new(),
            confirm: ConfirmMode::Auto,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// The contender's component name.
    pub fn component(&self) -> &str {
        &self.inner.component
    }

    /// A receiver of the contender's leadership; see [`Leadership`] for what each value means.
    /// Use [`watch::Receiver::wait_for`] to wait for a value, [`watch::Receiver::changed`] to
    /// follow every change.
    pub fn leadership(&self) -> watch::Receiver<Leadership> {
        self.inner.leadership.subscribe()
    }

    /// The leadership as of now.
    pub fn current(&self) -> Leadership {
        *self.inner.leadership.borrow()
    }

    /// A receiver of the last error the election reported to the contender (it keeps running
    /// after each: a failed publish, a refused session, a failed automatic confirm).
    pub fn errors(&self) -> watch::Receiver<Option<ElectionError>> {
        self.inner.errors.clone()
    }

    /// Confirms the grant with `leader_session` ([`ConfirmMode::Explicit`]; in auto mode the
    /// handle has confirmed already and this answers `Ok(())` for the current leadership). On
    /// `Ok` the watch shows [`Leadership::Leading`], unless a revoke came first.
    ///
    /// # Errors
    /// [`ElectionError::StaleLeaderSession`] for a session other than the one granted,
    /// [`ElectionError::NotLeader`] once revoked, [`ElectionError::Stopped`] after shutdown.
    pub async fn confirm(&self, leader_session: Uuid) -> Result<(), ElectionError> {
        self.inner.started.relay.send(ConfirmGrant(leader_session)).await?
    }

    /// Whether the contender leads, by the supervisor's own state (no ZooKeeper round trip):
    /// see [`HasLeadership`].
    pub async fn has_leadership(&self) -> bool {
        let Some(leader_session) = self.current().leader_session() else { return false };
        let ask = HasLeadership::leader_session(self.inner.component.clone(), leader_session);
        self.inner.started.supervisor.send(ask).await.unwrap_or(false)
    }

    /// Whether the contender leads, proven through ZooKeeper's leader (linearizable): see
    /// [`ProveLeadership`]. `Ok(false)` when not leading.
    ///
    /// # Errors
    /// When ZooKeeper could not be asked; then nothing is proven either way.
    pub async fn prove_leadership(&self) -> Result<bool, ElectionError> {
        let Some(leader_session) = self.current().leader_session() else { return Ok(false) };
        let ask = ProveLeadership {
            component: self.inner.component.clone(),
            claim: LeadershipClaim::LeaderSession(leader_session),
        };
        self.inner.started.supervisor.send(ask).await?
    }

    /// The fencing token of the contender's confirmed leadership, as the supervisor has it;
    /// `None` unless it leads.
    pub async fn fencing_token(&self) -> Option<i64> {
        let ask = GetFencingToken { component: self.inner.component.clone() };
        self.inner.started.supervisor.send(ask).await.ok().flatten()
    }

    /// Writes `ops` to ZooKeeper, all or none, only while the current leadership holds: see
    /// [`LeaderWrite`]. Answers one [`WriteResult`] per op.
    ///
    /// # Errors
    /// [`ElectionError::NotLeader`] (nothing written) unless leading;
    /// [`ElectionError::ZooKeeper`] when an op failed (nothing written).
    pub async fn leader_write(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteResult>, ElectionError> {
        match self.current() {
            Leadership::Leading { leader_session, .. } => self.leader_write_in(leader_session, ops).await,
            Leadership::Stopped => Err(ElectionError::Stopped),
            _ => Err(ElectionError::NotLeader),
        }
    }

    /// [`ElectionHandle::leader_write`] pinned to the leadership with `leader_session`: refused
    /// with [`ElectionError::NotLeader`] once that leadership ended, even if another one began
    /// since (so work prepared under one leadership never lands under the next).
    pub async fn leader_write_in(
        &self,
        leader_session: Uuid,
        ops: Vec<WriteOp>,
    ) -> Result<Vec<WriteResult>, ElectionError> {
        let write = LeaderWrite { component: self.inner.component.clone(), leader_session, ops };
        self.inner.started.supervisor.send(write).await?
    }

    /// Gives up leadership and queues again at the back of the latch (the watch shows
    /// [`Leadership::Follower`]); see [`Resign`](crate::contender::Resign). The watch changes
    /// before the supervisor is asked: once this returns, it no longer shows the leadership
    /// given up (it may show a newer one). To leave for good, [`shutdown`](Self::shutdown).
    pub async fn resign(&self) -> Result<(), ElectionError> {
        self.inner.started.relay.send(ResignVia).await?
    }

    /// Stops the election (watch: [`Leadership::Stopped`]; latch and leader node deleted),
    /// closes the session, stops the System and joins its thread, within the shutdown timeout.
    /// Answers what stopping the election answered. Affects every clone; a concurrent call waits
    /// for the first, later calls answer `Ok(())` at once.
    pub async fn shutdown(&self) -> Result<(), ElectionError> {
        // Held while stopping: a concurrent call waits for this one. If this future is dropped
        // midway, the thread stays here and is stopped with the handle.
        let mut thread = self.inner.thread.lock().await;
        let Some(running) = thread.as_mut() else { return Ok(()) };
        let stopped = running.finish().await;
        *thread = None;
        stopped
    }
}

/// The addresses a handle keeps.
#[derive(Clone)]
struct Started {
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
    relay: Addr<Relay>,
    leadership: Arc<watch::Sender<Leadership>>,
}

/// What the System of an [`ElectionHandle`] runs.
struct ElectionActors {
    /// What the builder was told.
    spec: ElectionHandleBuilder,
    leadership: Arc<watch::Sender<Leadership>>,
    errors: watch::Sender<Option<ElectionError>>,
}

impl Actors for ElectionActors {
    type Started = Started;

    async fn start(self) -> Result<Started, ElectionError> {
        let spec = self.spec;
        let session = ZkSession::start(spec.session);
        let supervisor = ElectionSupervisor::start(session.clone(), spec.election);
        let relay = Relay {
            component: spec.component.clone(),
            supervisor: supervisor.clone(),
            confirm: spec.confirm,
            grant: None,
            leadership: self.leadership.clone(),
            errors: self.errors,
        }
        .start();
        let subscribe = Subscribe::new(spec.component, spec.address, spec.leader_path, relay.clone().recipient());
        match supervisor.send(subscribe).await.map_err(ElectionError::from).and_then(|answer| answer) {
            Ok(()) => Ok(Started { session, supervisor, relay, leadership: self.leadership }),
            Err(err) => {
                let _ = supervisor.send(StopElection).await;
                let _ = session.send(StopSession).await;
                Err(err)
            }
        }
    }

    async fn stop(started: Started, within: Duration) -> Result<(), ElectionError> {
        let deadline = Instant::now() + within;
        // Stopped from the moment the stop is sent: no revoke follows.
        mark_stopped(&started.leadership);
        let stopped = match started.supervisor.send(StopElection).timeout(within).await {
            Ok(answer) => answer,
            Err(MailboxError::Timeout) => Err(ZkError::Timeout(within).into()),
            Err(MailboxError::Closed) => Err(ElectionError::Stopped),
        };
        // Closing the session deletes our ephemeral nodes even where the stop could not.
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(200));
        if started.session.send(StopSession).timeout(left).await.is_err() {
            warn!("the ZooKeeper session did not close in time");
        }
        stopped
    }
}
