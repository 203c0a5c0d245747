//! What a ZooKeeper implementation tells the actors that subscribed to it: connection states,
//! lease changes, failures, fired watches, and the status it answers a subscription with.

use std::time::Duration;

use actix::prelude::*;

use super::Lease;
use crate::zk::{ConnectionState, NodeAcl, WatchEvent, ZkError};

/// Pushed to every subscriber whenever the connection state changes.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub struct ConnectionStateChanged {
    /// The new state.
    pub state: ConnectionState,
    /// The ZooKeeper session ID in force after the change (`None` after `Lost`).
    pub zk_session: Option<i64>,
    /// The client incarnation the change belongs to.
    pub generation: u64,
    /// Connected to a server without a quorum, which serves reads only (a session that allows
    /// it: [`SessionConfigBuilder::read_only`](crate::config::SessionConfigBuilder::read_only)).
    pub read_only: bool,
}

/// Pushed to lease subscribers when the lease lapses or holds again.
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

/// Pushed to failure subscribers when a session cannot be established for a reason that
/// waiting alone does not fix: the server refused our credentials, or TLS failed. The session
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

/// Delivered to the actor whose watching request set a one-shot watch, when it fires.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct WatchFired {
    /// The watched path.
    pub path: String,
    /// What happened.
    pub event: WatchEvent,
    /// The client incarnation that set the watch.
    pub generation: u64,
}

/// Where a session stands, as answered to a subscription and to
/// [`GetStatus`](crate::session::GetStatus).
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
    pub default_acl: NodeAcl,
    /// The session's lease, shared: whether the server is known to still hold the session.
    pub lease: Lease,
}

impl SessionStatus {
    /// True while a session is established and the connection is up.
    pub fn is_connected(&self) -> bool {
        self.state.is_some_and(ConnectionState::is_connected)
    }
}

/// Who hears what of a session: connection states always, lease changes and failures if
/// asked for. Answered with the current [`SessionStatus`], so the subscriber starts from a
/// known point.
#[derive(Debug)]
pub(crate) struct Subscription {
    pub connection: Recipient<ConnectionStateChanged>,
    pub lease: Option<Recipient<LeaseChanged>>,
    pub failures: Option<Recipient<SessionFailed>>,
}

impl Subscription {
    /// Connection states to `connection`.
    pub fn connection(connection: Recipient<ConnectionStateChanged>) -> Subscription {
        Subscription { connection, lease: None, failures: None }
    }

    /// Lease changes to `lease` as well.
    pub fn lease(self, lease: Recipient<LeaseChanged>) -> Subscription {
        Subscription { lease: Some(lease), ..self }
    }

    /// Failures to `failures` as well.
    pub fn failures(self, failures: Recipient<SessionFailed>) -> Subscription {
        Subscription { failures: Some(failures), ..self }
    }
}
