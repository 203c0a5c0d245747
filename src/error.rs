//! Typed errors of the crate: configuration mistakes here; ZooKeeper's errors are
//! [`ZkError`] (in `crate::zk`, re-exported here), the election's are
//! [`ElectionError`](crate::ElectionError).

use std::time::Duration;

pub use crate::zk::ZkError;

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
    /// A connect string entry names a scheme other than `tcp://` (TLS is configured with
    /// `SessionConfigBuilder::tls`, not by a scheme).
    #[error("connect string entry {entry:?} has the scheme {scheme:?}; only \"tcp://\" (or none) is understood")]
    UnsupportedScheme {
        /// The offending entry.
        entry: String,
        /// The scheme, with its `://`.
        scheme: String,
    },
    /// `health_failures(0)`: a contender would step down before any report.
    #[error("health failures must be at least 1")]
    ZeroHealthFailures,
    /// What a candidate announces in line cannot be written in its latch node.
    #[error("invalid candidate: {problem}")]
    InvalidCandidate {
        /// What is wrong.
        problem: String,
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
