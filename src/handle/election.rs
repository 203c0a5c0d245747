//! [`ElectionHandle`]: one contender in an election, run on an actix System of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::watch;
use tracing::warn;
use uuid::Uuid;

use super::relay::{mark_stopped, ConfirmGrant, Relay, ResignVia};
use super::thread::{ActorThread, Actors};
use crate::config::{ElectionConfig, SessionConfig};
use crate::contender::{
    ElectionError, GetFencingToken, HasLeadership, LeaderWrite, LeadershipClaim, ProveLeadership, Stop, Subscribe,
};
use crate::error::{ConfigError, ZkError};
use crate::session::{StopSession, WriteOp, WriteResult, ZkSession};
use crate::supervisor::ElectionSupervisor;

/// What an [`ElectionHandle`]'s contender holds, as its [`ElectionHandle::leadership`] watch
/// tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leadership {
    /// Not leading: not first in the latch yet, revoked, or (with [`ConfirmMode::Auto`]) granted
    /// and still confirming.
    Follower,
    /// Only with [`ConfirmMode::Explicit`]: leadership is granted and waits for
    /// [`ElectionHandle::confirm`] with this leader session. Do not act as leader yet.
    Granted {
        /// The leader session to confirm.
        leader_session: Uuid,
        /// The fencing token the leadership will have.
        fencing_token: i64,
    },
    /// The supervisor accepted the confirm of this leader session: the contender leads. From
    /// here on [`ElectionHandle::leader_write`], [`ElectionHandle::prove_leadership`] and
    /// [`ElectionHandle::fencing_token`] answer for this leadership, and every system written to
    /// should be handed `fencing_token`.
    Leading {
        /// The confirmed leader session.
        leader_session: Uuid,
        /// This leadership's fencing token: larger than any earlier leader's.
        fencing_token: i64,
        /// Whether the leader node was written (at least once) with this leadership, so that
        /// leader retrieval finds it. Becomes `true` in a second change of the watch.
        published: bool,
    },
    /// The handle was shut down (or dropped, or its actor thread ended): the contender no longer
    /// takes part, and no other value follows.
    Stopped,
}

impl Leadership {
    /// Whether this is [`Leadership::Leading`].
    pub fn is_leading(&self) -> bool {
        matches!(self, Leadership::Leading { .. })
    }

    /// The confirmed leader session, while leading.
    pub fn leader_session(&self) -> Option<Uuid> {
        match self {
            Leadership::Leading { leader_session, .. } => Some(*leader_session),
            _ => None,
        }
    }

    /// The fencing token, while leading.
    pub fn fencing_token(&self) -> Option<i64> {
        match self {
            Leadership::Leading { fencing_token, .. } => Some(*fencing_token),
            _ => None,
        }
    }
}

/// Who confirms a grant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConfirmMode {
    /// The handle confirms every grant itself; the watch goes from [`Leadership::Follower`]
    /// straight to [`Leadership::Leading`] once the supervisor accepted the confirm.
    #[default]
    Auto,
    /// The watch shows [`Leadership::Granted`], and the caller confirms with
    /// [`ElectionHandle::confirm`] when it is ready to lead (e.g. has recovered its state).
    Explicit,
}

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
    /// The contender: its `component` name, the `address` published while it leads, and the
    /// `leader_path` it is published at. Required (left empty, [`ElectionHandleBuilder::start`]
    /// answers a [`ConfigError`]).
    pub fn contender(
        mut self,
        component: impl Into<String>,
        address: impl Into<String>,
        leader_path: impl Into<String>,
    ) -> Self {
        self.component = component.into();
        self.address = address.into();
        self.leader_path = leader_path.into();
        self
    }

    /// Who confirms grants (default [`ConfirmMode::Auto`]).
    pub fn confirm(mut self, mode: ConfirmMode) -> Self {
        self.confirm = mode;
        self
    }

    /// How long stopping may take (default [`DEFAULT_SHUTDOWN_TIMEOUT`]): the election's
    /// `Stop` and then closing the session share it. Dropping a handle blocks the dropping
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

    /// Starts a handle with the defaults (grants confirmed automatically): a shortcut for
    /// [`ElectionHandle::builder`], [`contender`](ElectionHandleBuilder::contender) and
    /// [`start`](ElectionHandleBuilder::start), whose errors it answers.
    pub async fn start(
        session: SessionConfig,
        election: ElectionConfig,
        component: impl Into<String>,
        address: impl Into<String>,
        leader_path: impl Into<String>,
    ) -> Result<ElectionHandle, ElectionError> {
        Self::builder(session, election).contender(component, address, leader_path).start().await
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

    /// Gives up leadership: with `rejoin` the contender queues again at the back of the latch
    /// (the watch shows [`Leadership::Follower`]); without, it leaves the election for good (the
    /// watch shows [`Leadership::Stopped`]; the session stays open until shutdown). See
    /// [`Resign`](crate::contender::Resign). The watch changes before the supervisor is asked: once this returns, it no
    /// longer shows the leadership given up (it may show a newer one).
    pub async fn resign(&self, rejoin: bool) -> Result<(), ElectionError> {
        self.inner.started.relay.send(ResignVia(rejoin)).await?
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
                let _ = supervisor.send(Stop).await;
                let _ = session.send(StopSession).await;
                Err(err)
            }
        }
    }

    async fn stop(started: Started, within: Duration) -> Result<(), ElectionError> {
        let deadline = Instant::now() + within;
        // Stopped from the moment the stop is sent: no revoke follows.
        mark_stopped(&started.leadership);
        let stopped = match started.supervisor.send(Stop).timeout(within).await {
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
