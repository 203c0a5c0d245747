//! Typed errors of the crate: configuration mistakes, ZooKeeper operations, election misuse.

use std::time::Duration;

/// Why a path given in configuration or to the election API is not a valid ZooKeeper path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathProblem {
    /// The path is empty.
    #[error("it is empty")]
    Empty,
    /// The path does not start with `/`.
    #[error("it is not absolute (must start with '/')")]
    NotAbsolute,
    /// The path ends with `/` (only the root may).
    #[error("it ends with '/'")]
    TrailingSlash,
    /// The path contains `//`.
    #[error("it has an empty segment ('//')")]
    EmptySegment,
    /// The path contains a `.` or `..` segment, which ZooKeeper rejects.
    #[error("it has a relative segment ('.' or '..')")]
    RelativeSegment,
    /// The path contains a NUL or another control character ZooKeeper rejects.
    #[error("it contains a control character")]
    ControlCharacter,
    /// The path is `/`, which cannot be used here.
    #[error("it is the root '/'")]
    Root,
    /// The path is `/zookeeper` or lies under it: ZooKeeper's reserved subtree (quotas, dynamic
    /// configuration), never ours to write or watch.
    #[error("it is in ZooKeeper's reserved subtree '/zookeeper'")]
    Reserved,
}

/// A configuration mistake, reported before anything connects.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The connect string names no server.
    #[error("the connect string is empty")]
    EmptyConnectString,
    /// A `host:port` entry of the connect string has an empty host.
    #[error("connect string entry {entry:?} has no host")]
    EmptyHost {
        /// The offending entry.
        entry: String,
    },
    /// A `host:port` entry of the connect string has a port that is not a number in 1..=65535.
    #[error("connect string entry {entry:?} has an invalid port {port:?}")]
    InvalidPort {
        /// The offending entry.
        entry: String,
        /// The text after the last `:`.
        port: String,
    },
    /// A path (chroot, latch path, leader path) is not a valid absolute ZooKeeper path.
    #[error("{what} {path:?} is invalid: {problem}")]
    InvalidPath {
        /// Which path: "chroot", "latch path", "leader path".
        what: &'static str,
        /// The path as given.
        path: String,
        /// What is wrong with it.
        problem: PathProblem,
    },
    /// Two different chroots: one after the servers of the connect string, one set explicitly.
    #[error("the connect string's chroot {in_connect_string:?} differs from the chroot {explicit:?} set explicitly")]
    ConflictingChroots {
        /// The chroot written after the servers.
        in_connect_string: String,
        /// The chroot given to the builder.
        explicit: String,
    },
    /// The leader path is the latch path, or one of them lies under the other: the leader node
    /// would be a foreign child of the latch, or the latch a child of an ephemeral leader node.
    #[error("leader path {leader_path:?} overlaps latch path {latch_path:?} (one is, or lies under, the other)")]
    OverlappingPaths {
        /// The latch path.
        latch_path: String,
        /// The leader path.
        leader_path: String,
    },
    /// A timeout that must be positive is zero.
    #[error("{what} must be greater than zero")]
    ZeroTimeout {
        /// Which timeout.
        what: &'static str,
    },
    /// The session timeout asked for is below [`crate::config::MIN_SESSION_TIMEOUT`].
    #[error("session timeout {} ms is below the minimum of {} ms", requested.as_millis(), min.as_millis())]
    SessionTimeoutTooShort {
        /// What was asked.
        requested: Duration,
        /// The floor.
        min: Duration,
    },
    /// The session timeout asked for does not fit ZooKeeper's protocol (a signed 32-bit count of
    /// milliseconds, [`crate::config::MAX_SESSION_TIMEOUT`]).
    #[error(
        "session timeout {} ms exceeds {} ms, the most ZooKeeper's protocol can carry",
        requested.as_millis(),
        max.as_millis()
    )]
    SessionTimeoutTooLong {
        /// What was asked.
        requested: Duration,
        /// The largest session timeout the protocol carries.
        max: Duration,
    },
    /// The session timeout asked for has a fraction of a millisecond, which the protocol cannot
    /// carry.
    #[error("session timeout {requested:?} is not a whole number of milliseconds")]
    SessionTimeoutFraction {
        /// What was asked.
        requested: Duration,
    },
    /// The backoff's largest delay is below its first one.
    #[error("the largest backoff delay ({} ms) is below the initial one ({} ms)", max.as_millis(), initial.as_millis())]
    BackoffMaxBelowInitial {
        /// Delay before the second attempt.
        initial: Duration,
        /// Largest delay between attempts.
        max: Duration,
    },
    /// Digest auth needs `user:password` with a non-empty user.
    #[error("digest auth needs a non-empty user name without ':'")]
    InvalidDigestUser,
    /// SASL needs a non-empty user name.
    #[error("SASL needs a non-empty user name")]
    EmptySaslUser,
    /// A TLS file (or inline PEM) cannot be read or holds no usable certificate or key.
    #[error("TLS {what} from {origin}: {reason}")]
    TlsMaterial {
        /// "CA bundle", "client certificate" or "client key".
        what: &'static str,
        /// The file path, or "inline PEM".
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A contender address is empty.
    #[error("the contender address is empty")]
    EmptyAddress,
    /// An explicit participant ID is empty (Curator tools would show a nameless participant).
    #[error("the participant ID is empty")]
    EmptyParticipantId,
    /// A connection-loss policy name that is neither `standard` nor `session-tolerant`.
    #[error("unknown connection-loss policy {0:?} (expected standard or session-tolerant)")]
    UnknownPolicy(String),
    /// A contender component name is empty.
    #[error("the contender component name is empty")]
    EmptyComponent,
}

/// The outcome of a failed ZooKeeper operation requested from the session actor.
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
    /// The server rejected our credentials.
    #[error("authentication failed: the server refused our credentials")]
    AuthFailed,
    /// The server refused a session without credentials: it demands authentication
    /// (`enforce.auth.enabled`, SASL or digest) and none is configured.
    #[error("the server demands authentication and none is configured")]
    AuthRequired,
    /// The TLS handshake with a server failed; the problem names the cause.
    #[error(transparent)]
    Tls(crate::secure::TlsFailure),
    /// No ZooKeeper session is established right now (the session actor is (re)connecting).
    #[error("not connected to ZooKeeper")]
    NotConnected,
    /// The request did not complete before its deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The session actor has stopped.
    #[error("the session actor has stopped")]
    SessionStopped,
    /// Any other error reported by the ZooKeeper client.
    #[error("ZooKeeper client error: {0}")]
    Client(zookeeper_client::Error),
}

impl From<zookeeper_client::Error> for ZkError {
    fn from(err: zookeeper_client::Error) -> Self {
        use zookeeper_client::Error as E;
        match err {
            E::NoNode => ZkError::NoNode,
            E::NodeExists => ZkError::NodeExists,
            E::BadVersion => ZkError::BadVersion,
            E::NotEmpty => ZkError::NotEmpty,
            E::NoAuth => ZkError::NoAuth,
            E::InvalidAcl => ZkError::InvalidAcl,
            E::NoChildrenForEphemerals => ZkError::NoChildrenForEphemerals,
            E::ConnectionLoss => ZkError::ConnectionLoss,
            E::SessionExpired => ZkError::SessionExpired,
            E::AuthFailed => ZkError::AuthFailed,
            E::ClientClosed => ZkError::NotConnected,
            other => ZkError::Client(other),
        }
    }
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
                // zookeeper-client fails in-flight requests with a custom error ("no response
                // from connection in …ms", socket errors) when it gives up on a connection.
                | ZkError::Client(zookeeper_client::Error::Custom(_) | zookeeper_client::Error::Timeout)
        )
    }
}
