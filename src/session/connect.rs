//! Building clients and following them: the connect attempt with its backoff, what an
//! established session starts, the client's state reports, and closing.

use std::time::Duration;

use actix::prelude::*;
use tracing::{debug, field, info, info_span, warn, Span};
use zookeeper_client::{Client, SessionId, SessionState};

use super::lease::LeaseTicks;
use super::{secure, timing, Event, Live, Phase, ZkSession};
use crate::backoff;
use crate::config::SessionConfig;
use crate::trace::InSpanExt;
use crate::zk::ZkError;

/// A state reported by the client of generation `generation` (internal).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct ClientStateReport {
    generation: u64,
    state: SessionState,
}

/// `zk_session{connect, session_id}` under `parent`; a fresh one per ZooKeeper session, since a
/// formatter prints every value ever recorded on a field.
pub(super) fn session_span(parent: &Span, config: &SessionConfig, session_id: Option<SessionId>) -> Span {
    let span = info_span!(parent: parent, "zk_session", connect = %config.connect_string(), session_id = field::Empty);
    if let Some(id) = session_id {
        span.record("session_id", field::display(id));
    }
    span
}

impl ZkSession {
    /// The connection timeout of the next client: the server may grant another session timeout
    /// than we ask for, and once it has, every later client follows the granted one.
    fn next_connection_timeout(&self) -> Duration {
        timing::connection_timeout(self.last_negotiated.unwrap_or(self.config.session_timeout()))
    }

    /// Starts building a client of a new generation; its outcome comes back as
    /// [`Event::Built`].
    pub(super) fn build_client(&mut self, ctx: &mut Context<Self>) {
        self.generation += 1;
        let generation = self.generation;
        let timeout = self.config.session_timeout();
        let connection_timeout = self.next_connection_timeout();
        let connector = Client::connector()
            .with_session_timeout(timeout)
            .with_connection_timeout(connection_timeout)
            // Return NoHosts once every server refused, so our own backoff paces retries.
            .with_fail_eagerly()
            .with_readonly(self.config.allows_read_only());
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
                .map(move |result, act, ctx| {
                    // A stale client is dropped here, which closes its session.
                    if generation == act.generation {
                        act.transition(Event::Built(result), ctx);
                    }
                })
                .in_span(&self.span),
        );
    }

    /// A build failed (the `failures`th in a row): says why, reports what waiting will not
    /// fix, and tries again after the backoff.
    pub(super) fn build_failed(&mut self, err: ZkError, failures: u32, ctx: &mut Context<Self>) {
        let generation = self.generation;
        let err = self.security.explain(&self.config, err);
        let delay = backoff::delay(self.config.backoff(), failures);
        let retry_in_ms = delay.as_millis() as u64;
        // Warn once per outage; every attempt's reason stays available at debug level.
        if failures == 1 {
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
            if matches!(act.phase, Phase::Connecting { .. }) {
                act.build_client(ctx);
            }
        });
    }

    /// A client established its session: its span, its state reports, a lease of our own from
    /// now and the ticks that extend it.
    pub(super) fn established(&mut self, client: Client, ctx: &mut Context<Self>) -> Live {
        let generation = self.generation;
        self.security.connected();
        self.span = session_span(&self.parent_span, &self.config, Some(client.session_id()));
        let _span = self.span.clone().entered();
        info!(
            generation,
            negotiated_timeout_ms = client.session_timeout().as_millis() as u64,
            "ZooKeeper session established"
        );
        self.watch_client_state(&client, ctx);
        // What the client was built with: computed before the grant below changes it.
        let connection_timeout = self.next_connection_timeout();
        self.last_negotiated = Some(client.session_timeout());
        let now = tokio::time::Instant::now();
        let session_id = client.session_id().0;
        let live = Live { client, session_id, connection_timeout, ticks: LeaseTicks::new(now), lease_timer: None };
        // The server just heard from us (a read-only one vouches for nothing).
        if live.vouches() {
            self.lease.restart_at(now + self.lease_span(&live));
        } else {
            info!(generation, "read-only session: a server without a quorum serves reads only");
            self.lease.end();
        }
        self.schedule_lease_tick(&live, ctx);
        live
    }

    /// Forwards every state change of `client` to ourselves, tagged with its generation.
    fn watch_client_state(&self, client: &Client, ctx: &mut Context<Self>) {
        let mut watcher = client.state_watcher();
        let me = ctx.address();
        let generation = self.generation;
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

    /// A timer that declares the session of `live` lost unless a reconnect cancels it: the
    /// server expires a session one negotiated timeout after it last heard from us.
    pub(super) fn arm_lost_timer(&mut self, live: &Live, ctx: &mut Context<Self>) -> SpawnHandle {
        let generation = self.generation;
        let after = timing::lost_after(live.connection_timeout, live.client.session_timeout());
        ctx.run_later(after, move |act, ctx| {
            let _span = act.span.clone().entered();
            if act.generation == generation {
                debug!(after_ms = after.as_millis() as u64, "lost timer fired");
                act.transition(Event::LostTimer, ctx);
            }
        })
    }

    /// Leaves `phase` for good: nobody hears from us any more and the lease is over. (The
    /// caller closes the client.)
    pub(super) fn close(&mut self, phase: Phase, ctx: &mut Context<Self>) {
        info!(generation = self.generation, "closing ZooKeeper session");
        if let Phase::Suspended { lost_timer, .. } = &phase {
            ctx.cancel_future(*lost_timer);
        }
        self.lease.end();
        self.subscribers.clear();
    }
}

impl Handler<ClientStateReport> for ZkSession {
    type Result = ();

    fn handle(&mut self, report: ClientStateReport, ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        if report.generation == self.generation {
            self.transition(Event::Client(report.state), ctx);
        }
    }
}
