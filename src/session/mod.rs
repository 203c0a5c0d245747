//! The session actor: owns the ZooKeeper client, turns its state changes into Curator-style
//! connection states, rebuilds it after session loss, and serves the ZooKeeper operations the
//! recipes need as typed messages (see [`requests`]).
//!
//! One session actor is shared by every latch, cache and supervisor of a process. It runs on an
//! `Arbiter` of its own so that a busy user actor never delays heartbeats or loss detection.

pub(crate) mod backoff;
mod lease;
mod messages;
pub mod requests;
mod secure;
mod serve;
mod timing;

use std::time::{Duration, Instant};

use actix::prelude::*;
use tracing::{debug, field, info, info_span, warn, Span};
use zookeeper_client::{Client, SessionState};

use crate::config::SessionConfig;
use crate::error::{ConfigError, ZkError};
use crate::trace::InSpanExt;
pub use lease::Lease;
use lease::LeaseTicks;
pub use messages::*;
pub use requests::*;

/// A state reported by the client of generation `generation` (internal).
#[derive(Message)]
#[rtype(result = "()")]
struct ClientStateReport {
    generation: u64,
    state: SessionState,
}

/// Where the actor is in its connection life cycle.
#[derive(Debug, PartialEq, Eq)]
enum Phase {
    /// Building a client (first time, or after loss).
    Connecting,
    /// Session established, connection up, lease held.
    Connected,
    /// Connection up as far as the client knows, but the lease lapsed (the process was paused
    /// or starved): announced as `Suspended` until the lease holds again.
    Unvouched,
    /// Connection down, session maybe alive; `Lost` fires when the timer does.
    Suspended,
    /// Stopped by [`StopSession`]; nothing is rebuilt.
    Stopped,
}

/// The session actor. Start it with [`ZkSession::start`].
pub struct ZkSession {
    config: SessionConfig,
    /// Incarnation of `client`; reports of older incarnations are dropped.
    generation: u64,
    client: Option<Client>,
    phase: Phase,
    /// The state last pushed to subscribers.
    last_state: Option<ConnectionState>,
    /// After a `Lost`, the next established session is announced as `Reconnected { false }`.
    lost_since_last_session: bool,
    subscribers: Vec<Recipient<ConnectionStateChanged>>,
    /// Who hears about failures a retry alone does not fix.
    failure_subscribers: Vec<Recipient<SessionFailed>>,
    /// Fires `Lost` if no reconnect happens in time after `Suspended`.
    lost_timer: Option<SpawnHandle>,
    /// Until when the server is known to hold the session; shared read-only with supervisors.
    lease: Lease,
    /// Whether the lease held when last looked at (changes are pushed to `lease_subscribers`).
    lease_holds: bool,
    lease_subscribers: Vec<Recipient<LeaseChanged>>,
    /// Fires when the lease would end, to look whether it was extended meanwhile.
    lease_timer: Option<SpawnHandle>,
    /// The lease ticks of the current client.
    ticks: LeaseTicks,
    /// The connection timeout the current client was built with (its tick follows it).
    connection_timeout: Duration,
    /// The session timeout the server granted last; later clients derive their timing from it.
    last_negotiated: Option<Duration>,
    /// Failed client builds in a row, for the backoff.
    failed_attempts: u32,
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
            .field("last_state", &self.last_state)
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
        let span = session_span(&parent_span, &config, None);
        let connection_timeout = timing::connection_timeout(config.session_timeout());
        let security = secure::Security::new(&config);
        ZkSession {
            config,
            generation: 0,
            client: None,
            phase: Phase::Connecting,
            last_state: None,
            lost_since_last_session: false,
            subscribers: Vec::new(),
            failure_subscribers: Vec::new(),
            lost_timer: None,
            lease: Lease::new(),
            lease_holds: false,
            lease_subscribers: Vec::new(),
            lease_timer: None,
            ticks: LeaseTicks::new(Instant::now()),
            connection_timeout,
            last_negotiated: None,
            failed_attempts: 0,
            security,
            metrics: SessionMetrics::default(),
            span,
            parent_span,
        }
    }

    fn status(&self) -> SessionStatus {
        SessionStatus {
            state: self.last_state,
            zk_session: self.client.as_ref().map(|c| c.session_id().0),
            negotiated_timeout: self.client.as_ref().map(Client::session_timeout),
            generation: self.generation,
            authenticated: self.config.authenticates(),
            default_acl: self.config.default_acl(),
            lease: self.lease.clone(),
        }
    }

    /// The current client's timing: its tick and the negotiated session timeout.
    fn timing(&self) -> (Duration, Duration) {
        let negotiated = self.client.as_ref().map_or(self.config.session_timeout(), Client::session_timeout);
        (timing::client_tick(self.connection_timeout, negotiated), negotiated)
    }

    fn build_client(&mut self, ctx: &mut Context<Self>) {
        self.generation += 1;
        let generation = self.generation;
        let timeout = self.config.session_timeout();
        // The server may grant another timeout than we ask for; once it has, every later client
        // follows the granted one (a tiny asked timeout would make the client give up healthy
        // connections).
        self.connection_timeout = timing::connection_timeout(self.last_negotiated.unwrap_or(timeout));
        let connector = Client::connector()
            .with_session_timeout(timeout)
            .with_connection_timeout(self.connection_timeout)
            // Return NoHosts once every server refused, so our own backoff paces retries.
            .with_fail_eagerly();
        let connector = self.security.apply(&self.config, connector);
        let tls = self.security.uses_tls();
        let connect_string = self.config.connect_string().to_owned();
        // The client's own connect gives up after about a session timeout; bound it anyway.
        let deadline = timeout * 2 + Duration::from_secs(1);
        debug!(generation, "building ZooKeeper client");
        let attempt = async move {
            let connector = connector?;
            match tokio::time::timeout(deadline, secure::connect(connector, &connect_string, tls)).await {
                Ok(result) => result,
                Err(_) => Err(ZkError::Timeout(deadline)),
            }
        };
        ctx.spawn(
            attempt
                .into_actor(self)
                .map(move |result, act, ctx| act.on_client_built(generation, result, ctx))
                .in_span(&self.span),
        );
    }

    fn on_client_built(&mut self, generation: u64, result: Result<Client, ZkError>, ctx: &mut Context<Self>) {
        if generation != self.generation || self.phase == Phase::Stopped {
            return; // dropping a stale client closes its session
        }
        let client = match result {
            Ok(client) => client,
            Err(err) => {
                let err = self.security.explain(&self.config, err);
                self.failed_attempts += 1;
                let delay = backoff::delay(self.config.backoff(), self.failed_attempts);
                let retry_in_ms = delay.as_millis() as u64;
                // Warn once per outage; every attempt's reason stays available at debug level.
                if self.failed_attempts == 1 {
                    warn!(generation, error = %err, retry_in_ms, "cannot establish a ZooKeeper session");
                } else {
                    debug!(generation, error = %err, retry_in_ms, "cannot establish a ZooKeeper session");
                }
                match err {
                    // Credentials refused, or certificates unusable: waiting will not help.
                    ZkError::AuthFailed | ZkError::AuthRequired | ZkError::Tls(_) => self.report_failure(err),
                    _ if self.security.uses_tls() => self.diagnose_tls(ctx),
                    _ => {}
                }
                ctx.run_later(delay, |act, ctx| {
                    let _span = act.span.clone().entered();
                    if act.phase == Phase::Connecting {
                        act.build_client(ctx);
                    }
                });
                return;
            }
        };
        self.failed_attempts = 0;
        self.security.connected();
        let session_id = client.session_id();
        self.span = session_span(&self.parent_span, &self.config, Some(session_id));
        let _span = self.span.clone().entered();
        info!(
            generation,
            negotiated_timeout_ms = client.session_timeout().as_millis() as u64,
            "ZooKeeper session established"
        );
        self.watch_client_state(&client, generation, ctx);
        self.last_negotiated = Some(client.session_timeout());
        self.client = Some(client);
        self.phase = Phase::Connected;
        // The server just heard from us: a lease of our own from now, then ticks to extend it.
        let now = Instant::now();
        self.lease.restart_at(now + self.lease_span_now());
        self.ticks = LeaseTicks::new(now);
        self.schedule_lease_tick(generation, ctx);
        self.lease_changed(ctx);
        let state = if self.lost_since_last_session {
            ConnectionState::Reconnected { same_session: false }
        } else {
            ConnectionState::Connected
        };
        self.lost_since_last_session = false;
        self.emit(state);
    }

    /// Forwards every state change of `client` to ourselves, tagged with its generation.
    fn watch_client_state(&self, client: &Client, generation: u64, ctx: &mut Context<Self>) {
        let mut watcher = client.state_watcher();
        let me = ctx.address();
        let forward = async move {
            loop {
                let state = watcher.changed().await;
                me.do_send(ClientStateReport { generation, state });
                if state.is_terminated() {
                    break;
                }
            }
        };
        ctx.spawn(forward.into_actor(self).in_span(&self.span));
    }

    fn on_client_state(&mut self, state: SessionState, ctx: &mut Context<Self>) {
        match (state, &self.phase) {
            (SessionState::Disconnected, Phase::Connected | Phase::Unvouched) => {
                // Announced already when the lease lapsed.
                let announce = self.phase == Phase::Connected;
                self.phase = Phase::Suspended;
                if announce {
                    self.emit(ConnectionState::Suspended);
                }
                let generation = self.generation;
                let (_, negotiated) = self.timing();
                let after = timing::lost_after(self.connection_timeout, negotiated);
                self.lost_timer = Some(ctx.run_later(after, move |act, ctx| {
                    let _span = act.span.clone().entered();
                    if act.generation == generation && act.phase == Phase::Suspended {
                        info!(
                            generation,
                            after_ms = after.as_millis() as u64,
                            "no reconnect within the session timeout: session lost"
                        );
                        act.lose_session(ctx);
                    }
                }));
            }
            (SessionState::SyncConnected | SessionState::ConnectedReadOnly, Phase::Suspended) => {
                self.cancel_lost_timer(ctx);
                self.phase = Phase::Connected;
                // The server accepted the session again just now.
                self.lease.extend_to(Instant::now() + self.lease_span_now());
                self.emit(ConnectionState::Reconnected { same_session: true });
                self.lease_changed(ctx);
            }
            (
                SessionState::Expired | SessionState::Closed | SessionState::AuthFailed,
                Phase::Connected | Phase::Unvouched | Phase::Suspended,
            ) => {
                warn!(generation = self.generation, ?state, "ZooKeeper session ended");
                if state == SessionState::AuthFailed {
                    let err = self.security.explain(&self.config, ZkError::AuthFailed);
                    self.report_failure(err);
                }
                self.lose_session(ctx);
            }
            _ => debug!(?state, phase = ?self.phase, "client state change needs no action"),
        }
    }

    fn cancel_lost_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(handle) = self.lost_timer.take() {
            ctx.cancel_future(handle);
        }
    }

    /// Announces `Lost`, drops the client (closing its session if the server still listens)
    /// and builds a new one.
    fn lose_session(&mut self, ctx: &mut Context<Self>) {
        self.cancel_lost_timer(ctx);
        self.client = None;
        self.phase = Phase::Connecting;
        self.lost_since_last_session = true;
        self.lease.end();
        self.lease_changed(ctx);
        self.emit(ConnectionState::Lost);
        self.build_client(ctx);
    }

    fn report_failure(&mut self, error: ZkError) {
        self.failure_subscribers.retain(|subscriber| subscriber.connected());
        for subscriber in &self.failure_subscribers {
            subscriber.do_send(SessionFailed { error: error.clone(), generation: self.generation });
        }
    }

    fn emit(&mut self, state: ConnectionState) {
        self.last_state = Some(state);
        match state {
            ConnectionState::Connected | ConnectionState::Reconnected { same_session: false } => {
                self.metrics.sessions_established += 1
            }
            ConnectionState::Reconnected { same_session: true } => self.metrics.reconnects += 1,
            ConnectionState::Suspended => self.metrics.suspensions += 1,
            ConnectionState::Lost => self.metrics.sessions_lost += 1,
        }
        crate::telemetry::connection_state(state);
        let event = ConnectionStateChanged {
            state,
            zk_session: self.client.as_ref().map(|c| c.session_id().0),
            generation: self.generation,
        };
        info!(?state, generation = self.generation, "connection state");
        self.subscribers.retain(|subscriber| subscriber.connected());
        for subscriber in &self.subscribers {
            subscriber.do_send(event.clone());
        }
    }
}

/// `zk_session{connect, session_id}` under `parent`; a fresh one per ZooKeeper session, since a
/// formatter prints every value ever recorded on a field.
fn session_span(parent: &Span, config: &SessionConfig, session_id: Option<zookeeper_client::SessionId>) -> Span {
    let span = info_span!(parent: parent, "zk_session", connect = %config.connect_string(), session_id = field::Empty);
    if let Some(id) = session_id {
        span.record("session_id", field::display(id));
    }
    span
}

impl Actor for ZkSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.schedule_tls_reload(ctx);
        self.build_client(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.client = None;
        // The arbiter was made for this actor alone.
        Arbiter::current().stop();
    }
}

impl Handler<ClientStateReport> for ZkSession {
    type Result = ();

    fn handle(&mut self, report: ClientStateReport, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        if report.generation == self.generation {
            self.on_client_state(report.state, ctx);
        }
    }
}

impl Handler<SubscribeConnection> for ZkSession {
    type Result = MessageResult<SubscribeConnection>;

    fn handle(&mut self, msg: SubscribeConnection, _ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        self.subscribers.push(msg.0);
        MessageResult(self.status())
    }
}

impl Handler<SubscribeFailures> for ZkSession {
    type Result = ();

    fn handle(&mut self, msg: SubscribeFailures, _ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        self.failure_subscribers.push(msg.0);
    }
}

impl Handler<SubscribeLease> for ZkSession {
    type Result = ();

    fn handle(&mut self, msg: SubscribeLease, _ctx: &mut Context<Self>) {
        self.lease_subscribers.push(msg.0);
    }
}

impl Handler<GetStatus> for ZkSession {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _msg: GetStatus, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.status())
    }
}

impl Handler<StopSession> for ZkSession {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _msg: StopSession, ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        if self.phase == Phase::Stopped {
            return Box::pin(actix::fut::ready(()));
        }
        info!(generation = self.generation, "closing ZooKeeper session");
        self.phase = Phase::Stopped;
        self.cancel_lost_timer(ctx);
        self.lease.end();
        self.lease_subscribers.clear();
        self.subscribers.clear();
        self.failure_subscribers.clear();
        let client = self.client.take();
        // Dropping the last client sends CloseSession; wait for the server to confirm (briefly)
        // so our ephemeral nodes are gone when the caller's `send(StopSession)` returns: the
        // answer is this future's end, not the handler's return.
        let close = async move {
            if let Some(client) = client {
                let mut watcher = client.state_watcher();
                drop(client);
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    while !watcher.changed().await.is_terminated() {}
                })
                .await;
            }
        };
        Box::pin(close.into_actor(self).map(|_, _, ctx| ctx.stop()).in_span(&self.span))
    }
}
