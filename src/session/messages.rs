//! The session actor's vocabulary: connection states in Curator's words, the status it
//! answers, and the subscriptions and commands it takes.

use std::time::Duration;

use actix::prelude::*;

use super::lease::Lease;
use crate::error::ZkError;

/// Connection state as the recipes see it (Apache Curator's vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// The first session of this actor is established.
    Connected,
    /// The connection dropped; the session may still be alive on the server. Leaders that
    /// cannot tolerate uncertainty give up here.
    Suspended,
    /// The connection is back. `same_session: true` means every ephemeral node and watch
    /// survived; `false` means a new session replaced a lost one (ephemerals of the old one
    /// are gone or going).
    Reconnected {
        /// Whether the session from before the outage survived.
        same_session: bool,
    },
    /// The session is gone: the server reported expiry, or no reconnect happened within the
    /// negotiated session timeout after [`ConnectionState::Suspended`]. A new session is being
    /// built.
    Lost,
}

/// Pushed to every subscriber of [`SubscribeConnection`] whenever the connection state changes.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct ConnectionStateChanged {
    /// The new state.
    pub state: ConnectionState,
    /// The ZooKeeper session ID in force after the change (`None` after `Lost`).
    pub zk_session: Option<i64>,
    /// The client incarnation the change belongs to.
    pub generation: u64,
}

/// Where the session actor stands, as answered to [`SubscribeConnection`] and [`GetStatus`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionStatus {
    /// The last state pushed to subscribers; `None` before the first session.
    pub state: Option<ConnectionState>,
    /// The current ZooKeeper session ID, if a client exists.
    pub zk_session: Option<i64>,
    /// The session timeout the server granted (not the one asked for).
    pub negotiated_timeout: Option<Duration>,
    /// The current client incarnation; bumps each time a client is built.
    pub generation: u64,
    /// Whether the session authenticates (digest or SASL configured).
    pub authenticated: bool,
    /// The ACL of nodes an election creates when its configuration sets none: the SASL user
    /// alone (`sasl:<user>`) with SASL, creator-only with digest auth, open without either.
    pub default_acl: super::NodeAcl,
    /// The session's lease, shared: whether the server is known to still hold the session.
    pub lease: Lease,
}

impl SessionStatus {
    /// True while a session is established and the connection is up.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, Some(ConnectionState::Connected | ConnectionState::Reconnected { .. }))
    }
}

/// Subscribe to connection state changes; answers the current status so the subscriber starts
/// from a known point.
#[derive(Debug, Message)]
#[rtype(result = "SessionStatus")]
pub struct SubscribeConnection(pub Recipient<ConnectionStateChanged>);

/// Pushed to every subscriber of [`SubscribeFailures`] when a session cannot be established
/// for a reason that waiting alone does not fix: the server refused our credentials. The actor
/// keeps retrying with backoff (an operator may fix the server or the credentials); connection
/// trouble, which does heal by itself, is not reported this way.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct SessionFailed {
    /// What the server said.
    pub error: ZkError,
    /// The client incarnation that failed.
    pub generation: u64,
}

/// Subscribe to [`SessionFailed`] reports.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SubscribeFailures(pub Recipient<SessionFailed>);

/// Pushed to every subscriber of [`SubscribeLease`] when the lease lapses or holds again.
///
/// A lapse means the server may have expired the session without our knowing: a leader must
/// not go on acting as one, whatever its connection-loss policy. The lease holds again once
/// the session is known to be alive (a reconnect, or the client running without a stall while
/// connected); the session is the same one unless a `Lost` came in between.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct LeaseChanged {
    /// Whether the lease holds now.
    pub holds: bool,
    /// The client incarnation the change belongs to.
    pub generation: u64,
}

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
