//! What the session actor takes from its owner (not from the election actors, which reach it
//! only through the seam): subscriptions, status and metrics, and the command to stop.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;

use super::{Event, Phase, ZkSession};
use crate::port::{ConnectionStateChanged, LeaseChanged, SessionFailed, SessionStatus};
use crate::trace::InSpanExt;
use crate::zk::{ConnectionState, RequestKind};

/// Subscribe to connection state changes; answers the current status so the subscriber starts
/// from a known point.
#[derive(Debug, Message)]
#[rtype(result = "SessionStatus")]
pub struct SubscribeConnection(pub Recipient<ConnectionStateChanged>);

/// Subscribe to [`SessionFailed`] reports: failures a retry alone does not fix (credentials
/// refused, TLS).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SubscribeFailures(pub Recipient<SessionFailed>);

/// Subscribe to [`LeaseChanged`] reports.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SubscribeLease(pub Recipient<LeaseChanged>);

/// Ask for the current status (session ID, negotiated timeout, state).
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "SessionStatus")]
pub struct GetStatus;

/// Close the ZooKeeper session (the server drops our ephemeral nodes at once) and stop the
/// actor and its arbiter. Idempotent.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct StopSession;

/// Counters of one session actor since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionMetrics {
    /// Requests served, by kind (a `Create` with missing parents counts once).
    pub requests: BTreeMap<RequestKind, u64>,
    /// Sessions established (the first, and one after every loss).
    pub sessions_established: u64,
    /// Connections lost with the session possibly alive (`Suspended`).
    pub suspensions: u64,
    /// Connections regained within the same session.
    pub reconnects: u64,
    /// Sessions lost (`Lost`).
    pub sessions_lost: u64,
}

impl SessionMetrics {
    /// All requests, whatever their kind.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Counts an announcement of `state`.
    pub(super) fn count(&mut self, state: ConnectionState) {
        let counter = match state {
            ConnectionState::Connected | ConnectionState::Reconnected { same_session: false } => {
                &mut self.sessions_established
            }
            ConnectionState::Reconnected { same_session: true } => &mut self.reconnects,
            ConnectionState::Suspended => &mut self.suspensions,
            ConnectionState::Lost => &mut self.sessions_lost,
        };
        *counter += 1;
    }
}

/// Ask the session for its [`SessionMetrics`].
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "SessionMetrics")]
pub struct GetSessionMetrics;

impl Handler<SubscribeConnection> for ZkSession {
    type Result = MessageResult<SubscribeConnection>;

    fn handle(&mut self, msg: SubscribeConnection, _ctx: &mut Context<Self>) -> Self::Result {
        self.subscribers.add_connection(msg.0);
        MessageResult(self.status())
    }
}

impl Handler<SubscribeFailures> for ZkSession {
    type Result = ();

    fn handle(&mut self, msg: SubscribeFailures, _ctx: &mut Context<Self>) {
        self.subscribers.add_failures(msg.0);
    }
}

impl Handler<SubscribeLease> for ZkSession {
    type Result = ();

    fn handle(&mut self, msg: SubscribeLease, _ctx: &mut Context<Self>) {
        self.subscribers.add_lease(msg.0);
    }
}

impl Handler<GetStatus> for ZkSession {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _msg: GetStatus, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.status())
    }
}

impl Handler<GetSessionMetrics> for ZkSession {
    type Result = MessageResult<GetSessionMetrics>;

    fn handle(&mut self, _msg: GetSessionMetrics, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.metrics.clone())
    }
}

impl Handler<StopSession> for ZkSession {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _msg: StopSession, ctx: &mut Context<Self>) -> Self::Result {
        let _span = self.span.clone().entered();
        let client = self.client().cloned();
        // Without a connection nobody can confirm the close: answer at once (the server ends
        // the session, and our ephemeral nodes with it, within its timeout).
        let connected = matches!(self.phase, Phase::Connected(_));
        self.transition(Event::Stop, ctx);
        // Dropping the last client sends CloseSession; wait for the server to confirm (briefly)
        // so our ephemeral nodes are gone when the caller's `send(StopSession)` returns: the
        // answer is this future's end, not the handler's return.
        let close = async move {
            if let Some(client) = client.filter(|_| connected) {
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
