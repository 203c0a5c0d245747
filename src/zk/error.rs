//! The outcome of a failed ZooKeeper request, or of a failed attempt to hold a session.

use std::time::Duration;

use super::TlsFailure;

/// Why a ZooKeeper request (or an attempt to establish a session) failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ZkError {
    /// The node does not exist (or a parent of a node to create does not exist).
    #[error("node does not exist")]
    NoNode,
    /// The node to create already exists.
    #[error("node already exists")]
    NodeExists,
    /// The expected version did not match.
    #[error("version mismatch")]
    BadVersion,
    /// The node to delete has children.
    #[error("node has children")]
    NotEmpty,
    /// The node's ACL forbids this operation for our session.
    #[error("not authorized by the node's ACL")]
    NoAuth,
    /// The ACL given is invalid (for example creator-only ACLs without authentication).
    #[error("invalid ACL")]
    InvalidAcl,
    /// Ephemeral nodes cannot have children.
    #[error("ephemeral nodes cannot have children")]
    NoChildrenForEphemerals,
    /// A write would exceed a quota set on the path (servers that enforce quotas).
    #[error("quota exceeded")]
    QuotaExceeded,
    /// The guard of a guarded multi-op failed: the checked node is gone or has another version.
    #[error("guard check on {path} failed")]
    GuardFailed {
        /// The guard path.
        path: String,
    },
    /// The connection dropped while the request was in flight; the outcome is unknown.
    #[error("connection lost while the request was in flight")]
    ConnectionLoss,
    /// The session expired; ephemeral nodes of that session are gone.
    #[error("session expired")]
    SessionExpired,
    /// The request reached a server through a connection the session has since moved away
    /// from; the outcome is unknown, and the next connection serves the retry.
    #[error("session moved to another server")]
    SessionMoved,
    /// A write reached a server in read-only mode (it lost its quorum).
    #[error("the server is read-only (no quorum)")]
    NotReadOnly,
    /// The server refused the request for load; retrying later is the cure.
    #[error("the server throttled the request")]
    Throttled,
    /// No server of the connect string could be reached.
    #[error("no ZooKeeper server could be reached")]
    NoServerReachable,
    /// The server rejected our credentials.
    #[error("authentication failed: the server refused our credentials")]
    AuthFailed,
    /// The server refused a session without credentials: it demands authentication
    /// (`enforce.auth.enabled`, SASL or digest) and none is configured.
    #[error("the server demands authentication and none is configured")]
    AuthRequired,
    /// The TLS handshake with a server failed; the problem names the cause.
    #[error(transparent)]
    Tls(TlsFailure),
    /// No ZooKeeper session is established right now (the session actor is (re)connecting).
    #[error("not connected to ZooKeeper")]
    NotConnected,
    /// The request did not complete before its deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The session actor has stopped.
    #[error("the session actor has stopped")]
    SessionStopped,
    /// The server does not know the request: a persistent watch asked of ZooKeeper before 3.6.
    #[error("the server does not implement this request")]
    Unimplemented,
    /// Anything else the ZooKeeper client reported, in its words.
    #[error("ZooKeeper: {0}")]
    Unexpected(String),
}

impl From<actix::MailboxError> for ZkError {
    fn from(_: actix::MailboxError) -> Self {
        ZkError::SessionStopped
    }
}

impl ZkError {
    /// True when retrying the same request later may succeed (the connection, not the request,
    /// was the problem).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ZkError::ConnectionLoss
                | ZkError::NotConnected
                | ZkError::Timeout(_)
                | ZkError::SessionExpired
                | ZkError::SessionMoved
                | ZkError::NotReadOnly
                | ZkError::Throttled
                | ZkError::NoServerReachable
        )
    }
}
