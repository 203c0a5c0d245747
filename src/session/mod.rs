//! The session actor: owns the ZooKeeper client, turns its state changes into Curator-style
//! connection states, rebuilds it after session loss, keeps the session lease, and serves the
//! requests that reach it through the seam (`crate::port`).
//!
//! One session actor is shared by every latch, cache and supervisor of a process. It runs on an
//! `Arbiter` of its own so that a busy user actor never delays heartbeats or loss detection.
//!
//! Its life is one state machine, `Phase`, changed only in `ZkSession::transition`: a
//! variant holds exactly what is valid in it (the client while one exists, the lost timer while
//! suspended, the count of failed attempts while connecting), and leaving a variant drops it.
//! This folder is the only code that knows the ZooKeeper client library.

mod connect;
mod convert;
mod lease;
mod messages;
mod secure;
mod serve;
mod subscribers;
mod timing;

use std::time::Duration;

use actix::prelude::*;
use tracing::{debug, info, warn, Span};
use zookeeper_client::{Client, SessionState};

use crate::config::SessionConfig;
use crate::error::ConfigError;
use crate::port::{Lease, SessionStatus};
use crate::zk::{ConnectionState, ZkError};
use lease::LeaseTicks;
pub use messages::*;
#[cfg(feature = "testkit")]
pub use serve::ExpireSessionForTest;
use subscribers::Subscribers;

/// The `tracing` targets under which a session and the ZooKeeper client it drives log, e.g.
/// why each attempt to connect failed: for a subscriber that wants exactly those lines.
pub const LOG_TARGETS: &[&str] = &["zk_election::session", "zookeeper_client"];

/// Where the actor is in its connection life cycle.
#[derive(Debug)]
enum Phase {
    /// Building a client: the first, or one after a loss.
    Connecting {
        /// Failed builds in a row, for the backoff.
        failures: u32,
        /// A session was lost before: the next one is announced as
        /// `Reconnected { same_session: false }`.
        after_loss: bool,
    },
    /// Session established, connection up, lease held.
    Connected(Live),
    /// Connection up as far as the client knows, but the lease lapsed (the process was paused
    /// or starved): announced as `Suspended` until the lease holds again.
    Unvouched(Live),
    /// Connection down, session maybe alive; `lost_timer` declares it lost unless the client
    /// reconnects first.
    Suspended { live: Live, lost_timer: SpawnHandle },
    /// Stopped by [`StopSession`]; nothing is rebuilt.
    Stopped,
}

/// What exists while a client does.
#[derive(Debug)]
struct Live {
    client: Client,
    /// The session it established: a client that comes back with another one (a server that
    /// handed out a new session without expiring the old) has lost this one.
    session_id: i64,
    /// The connection timeout it was built with (its tick follows it).
    connection_timeout: Duration,
    /// Its lease ticks.
    ticks: LeaseTicks,
    /// Fires when the lease would end, to look whether it was extended meanwhile.
    lease_timer: Option<SpawnHandle>,
}

impl Phase {
    fn live(&self) -> Option<&Live> {
        match self {
            Phase::Connected(live) | Phase::Unvouched(live) | Phase::Suspended { live, .. } => Some(live),
            Phase::Connecting { .. } | Phase::Stopped => None,
        }
    }

    fn live_mut(&mut self) -> Option<&mut Live> {
        match self {
            Phase::Connected(live) | Phase::Unvouched(live) | Phase::Suspended { live, .. } => Some(live),
            Phase::Connecting { .. } | Phase::Stopped => None,
        }
    }
}

/// What moves the session from one phase to the next.
#[derive(Debug)]
enum Event {
    /// A client build of the current generation ended.
    Built(Result<Client, ZkError>),
    /// The current client reported a state.
    Client(SessionState),
    /// The lease may have changed (a tick extended it, or its end came).
    LeaseChecked,
    /// The lost timer of the current suspension fired.
    LostTimer,
    /// [`StopSession`].
    Stop,
}

/// The session actor. Start it with [`ZkSession::start`].
pub struct ZkSession {
    config: SessionConfig,
    /// Incarnation of the current client; reports of older incarnations are dropped.
    generation: u64,
    phase: Phase,
    /// The session timeout the server granted last. It outlives clients on purpose: every
    /// later client derives its timing from it (a tiny asked timeout would make the client give
    /// up healthy connections).
    last_negotiated: Option<Duration>,
    /// Until when the server is known to hold the session; shared read-only with supervisors.
    lease: Lease,
    subscribers: Subscribers,
    /// Credentials and certificates added to every client.
    security: secure::Security,
    metrics: SessionMetrics,
    /// `zk_session{connect, session_id}`, remade for every new ZooKeeper session.
    span: Span,
    /// The span that was current where the session was started: the parent of `span`.
    parent_span: Span,
}

impl std::fmt::Debug for ZkSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZkSession")
            .field("connect_string", &self.config.connect_string())
            .field("generation", &self.generation)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl ZkSession {
    /// Starts a session actor on an `Arbiter` of its own; it connects in the background and
    /// tells subscribers when the session is up. Must be called inside a running actix `System`.
    #[must_use = "an actor stops once no `Addr` to it is left"]
    pub fn start(config: SessionConfig) -> Addr<ZkSession> {
        let arbiter = Arbiter::new();
        // Taken here, not on the session's own thread, so that our spans nest in the caller's.
        let parent_span = Span::current();
        ZkSession::start_in_arbiter(&arbiter.handle(), move |_| ZkSession::new(config, parent_span))
    }

    /// Validates `connect_string` with default settings and starts a session (a shortcut for
    /// [`SessionConfig::builder`] + [`ZkSession::start`]).
    pub fn connect(connect_string: &str) -> Result<Addr<ZkSession>, ConfigError> {
        Ok(ZkSession::start(SessionConfig::builder(connect_string).build()?))
    }

    fn new(config: SessionConfig, parent_span: Span) -> Self {
        let span = connect::session_span(&parent_span, &config, None);
        let security = secure::Security::new(&config);
        ZkSession {
            config,
            generation: 0,
            phase: Phase::Connecting { failures: 0, after_loss: false },
            last_negotiated: None,
            lease: Lease::new(),
            subscribers: Subscribers::default(),
            security,
            metrics: SessionMetrics::default(),
            span,
            parent_span,
        }
    }

    fn client(&self) -> Option<&Client> {
        self.phase.live().map(|live| &live.client)
    }

    fn zk_session(&self) -> Option<i64> {
        self.client().map(|client| client.session_id().0)
    }

    fn status(&self) -> SessionStatus {
        SessionStatus {
            state: self.subscribers.last_state(),
            zk_session: self.zk_session(),
            negotiated_timeout: self.client().map(Client::session_timeout),
            generation: self.generation,
            authenticated: self.config.authenticates(),
            default_acl: self.config.default_acl(),
            lease: self.lease.clone(),
        }
    }

    /// The one place the phase changes. Every arm takes the phase it leaves by value, so what
    /// that phase owned (a client, a timer) is either carried into the next one or dropped
    /// here; announcements to subscribers follow from the pair of phases.
    fn transition(&mut self, event: Event, ctx: &mut Context<Self>) {
        let phase = std::mem::replace(&mut self.phase, Phase::Stopped);
        let next = match (phase, event) {
            (Phase::Stopped, _) => Phase::Stopped,
            (phase, Event::Stop) => {
                self.close(phase, ctx);
                Phase::Stopped
            }
            (Phase::Connecting { after_loss, .. }, Event::Built(Ok(client))) => {
                let live = self.established(client, ctx);
                self.tell_lease();
                let state = if after_loss {
                    ConnectionState::Reconnected { same_session: false }
                } else {
                    ConnectionState::Connected
                };
                self.announce(state, Some(&live));
                Phase::Connected(live)
            }
            (Phase::Connecting { failures, after_loss }, Event::Built(Err(err))) => {
                self.build_failed(err, failures + 1, ctx);
                Phase::Connecting { failures: failures + 1, after_loss }
            }
            (Phase::Connected(live), Event::Client(SessionState::Disconnected)) => {
                self.announce(ConnectionState::Suspended, Some(&live));
                let lost_timer = self.arm_lost_timer(&live, ctx);
                Phase::Suspended { live, lost_timer }
            }
            // Announced as suspended already, when the lease lapsed.
            (Phase::Unvouched(live), Event::Client(SessionState::Disconnected)) => {
                let lost_timer = self.arm_lost_timer(&live, ctx);
                Phase::Suspended { live, lost_timer }
            }
            (
                Phase::Suspended { live, lost_timer },
                Event::Client(SessionState::SyncConnected | SessionState::ConnectedReadOnly),
            ) if live.client.session_id().0 != live.session_id => {
                // Our ephemeral nodes and watches belong to the old session, which lives on
                // until the server expires it: everything of it is as good as lost.
                warn!(
                    generation = self.generation,
                    old = live.session_id,
                    new = live.client.session_id().0,
                    "reconnected with another session"
                );
                self.lose(Phase::Suspended { live, lost_timer }, ctx)
            }
            (
                Phase::Suspended { live, lost_timer },
                Event::Client(SessionState::SyncConnected | SessionState::ConnectedReadOnly),
            ) => {
                ctx.cancel_future(lost_timer);
                // The server accepted the session again just now.
                if live.vouches() {
                    self.lease.extend_to(tokio::time::Instant::now() + self.lease_span(&live));
                }
                self.announce(ConnectionState::Reconnected { same_session: true }, Some(&live));
                self.tell_lease();
                Phase::Connected(live)
            }
            (
                phase,
                Event::Client(state @ (SessionState::Expired | SessionState::Closed | SessionState::AuthFailed)),
            ) if phase.live().is_some() => {
                warn!(generation = self.generation, ?state, "ZooKeeper session ended");
                if state == SessionState::AuthFailed {
                    let err = self.security.explain(&self.config, ZkError::AuthFailed);
                    self.report_failure(err);
                }
                self.lose(phase, ctx)
            }
            (Phase::Suspended { live, lost_timer }, Event::LostTimer) => {
                info!(generation = self.generation, "no reconnect within the session timeout: session lost");
                self.lose(Phase::Suspended { live, lost_timer }, ctx)
            }
            // Read-only: no lease to lapse; the connection stands for reads.
            (Phase::Connected(live), Event::LeaseChecked) if !self.lease.holds() && live.vouches() => {
                warn!(generation = self.generation, "session lease lapsed while connected (process paused or starved)");
                self.announce(ConnectionState::Suspended, Some(&live));
                self.tell_lease();
                Phase::Unvouched(live)
            }
            (Phase::Unvouched(live), Event::LeaseChecked) if self.lease.holds() => {
                info!(generation = self.generation, "session lease holds again");
                self.announce(ConnectionState::Reconnected { same_session: true }, Some(&live));
                self.tell_lease();
                Phase::Connected(live)
            }
            (phase, Event::LeaseChecked) => {
                self.tell_lease();
                phase
            }
            (phase, event) => {
                debug!(?event, phase = ?phase, "needs no action in this phase");
                phase
            }
        };
        self.phase = next;
        self.arm_lease_timer(ctx);
    }

    /// Leaves `phase` for good after a loss: announces `Lost`, drops the client (closing its
    /// session if the server still listens) and builds a new one.
    fn lose(&mut self, phase: Phase, ctx: &mut Context<Self>) -> Phase {
        if let Phase::Suspended { lost_timer, .. } = &phase {
            ctx.cancel_future(*lost_timer);
        }
        self.lease.end();
        self.tell_lease();
        self.announce(ConnectionState::Lost, None);
        // Dropping the client (with `phase`) closes its session if the server still listens.
        drop(phase);
        self.build_client(ctx);
        Phase::Connecting { failures: 0, after_loss: true }
    }

    /// Pushes `state` to the subscribers, with the session ID of `live`'s client.
    fn announce(&mut self, state: ConnectionState, live: Option<&Live>) {
        let zk_session = live.map(|live| live.client.session_id().0);
        let read_only = live.is_some_and(|live| live.client.state() == SessionState::ConnectedReadOnly);
        self.metrics.count(state);
        self.subscribers.announce(state, zk_session, self.generation, read_only);
    }

    fn report_failure(&mut self, error: ZkError) {
        self.subscribers.report_failure(error, self.generation);
    }

    /// Tells lease subscribers whether the lease holds, if that changed.
    fn tell_lease(&mut self) {
        let holds = self.lease.holds();
        self.subscribers.tell_lease(holds, self.generation);
    }
}

impl Actor for ZkSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.schedule_tls_reload(ctx);
        self.build_client(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.phase = Phase::Stopped;
        // The arbiter was made for this actor alone.
        Arbiter::current().stop();
    }
}
