//! The one error type of the testkit.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while finding, starting, controlling or probing a test ZooKeeper,
/// or while running a [`FaultProxy`](super::FaultProxy).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// No ZooKeeper jars were found. The message says where we looked and how to install them.
    #[error(
        "ZooKeeper not found (looked at: {searched}). Install it with `apt-get install zookeeper` \
         (jars in /usr/share/java), or point ZOOKEEPER_HOME at an unpacked Apache ZooKeeper \
         release, or set ZK_ELECTION_CLASSPATH to a full Java classpath containing ZooKeeper"
    )]
    ZooKeeperNotFound {
        /// The places that were tried, in order.
        searched: String,
    },

    /// No `java` executable was found.
    #[error(
        "java not found (looked at: {searched}). Install a JRE (e.g. `apt-get install \
         default-jre-headless`) or set JAVA_HOME"
    )]
    JavaNotFound {
        /// The places that were tried, in order.
        searched: String,
    },

    /// The Curator contender cannot be compiled: a Curator jar or `javac` is missing
    /// (`scripts/install-curator.sh` installs them), or `javac` failed.
    #[error("the Curator contender is unavailable: {reason}")]
    CuratorUnavailable {
        /// What is missing or failed.
        reason: String,
    },

    /// An operating-system call failed.
    #[error("{action}: {source}")]
    Io {
        /// What the testkit was doing, e.g. "writing zoo.cfg".
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The server process exited before it became ready.
    #[error(
        "ZooKeeper on 127.0.0.1:{port} exited during start ({status}); log {log_path:?} ends \
         with:\n{log_tail}"
    )]
    Exited {
        /// The client port the server was started on.
        port: u16,
        /// The exit status as reported by the OS.
        status: String,
        /// True when the log says one of the server's ports was already in use (the testkit
        /// retries such starts on fresh ports where it chose the ports itself).
        port_in_use: bool,
        /// Where the full server log is.
        log_path: PathBuf,
        /// The last lines of the server log.
        log_tail: String,
    },

    /// The server (or ensemble) did not become ready before the deadline.
    #[error(
        "ZooKeeper on 127.0.0.1:{port} not ready after {waited:?}: {reason}; log {log_path:?} \
         ends with:\n{log_tail}"
    )]
    NotReady {
        /// The client port of the server that was not ready.
        port: u16,
        /// How long we waited.
        waited: Duration,
        /// What the last probe saw.
        reason: String,
        /// Where the full server log is.
        log_path: PathBuf,
        /// The last lines of the server log.
        log_tail: String,
    },

    /// A control operation needs a running server, but it is stopped.
    #[error("ZooKeeper on 127.0.0.1:{port} is not running")]
    NotRunning {
        /// The client port of the stopped server.
        port: u16,
    },

    /// A four-letter word could not be sent or its answer not read (connection refused, timeout).
    #[error("four-letter word `{word}` to {addr}: {source}")]
    FourLetterWord {
        /// The word that was sent.
        word: String,
        /// Where it was sent.
        addr: SocketAddr,
        /// The underlying error; [`TestkitError::is_timeout`] tells a timeout apart.
        #[source]
        source: io::Error,
    },

    /// A four-letter word was answered with something we could not interpret.
    #[error("unexpected answer to `{word}` from {addr}: {reply:?}")]
    UnexpectedReply {
        /// The word that was sent.
        word: String,
        /// Where it was sent.
        addr: SocketAddr,
        /// The raw answer.
        reply: String,
    },

    /// An address or connect string could not be parsed or resolved.
    #[error("invalid address {input:?}: {reason}")]
    InvalidAddress {
        /// The text that was given.
        input: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A test certificate or key could not be generated.
    #[error("{action}: {source}")]
    Certificate {
        /// What the testkit was doing, e.g. "generating the test CA".
        action: String,
        /// The certificate generator's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A builder option has a value the server cannot be configured with.
    #[error("invalid testkit option `{option}`: {reason}")]
    InvalidOption {
        /// The builder method, e.g. "sasl_user".
        option: String,
        /// Why the value was rejected.
        reason: String,
    },

    /// The process-lifetime launcher thread that forks every JVM is gone.
    #[error("the testkit launcher thread is gone; no process can be started")]
    LauncherGone,
}

impl TestkitError {
    /// True when the error is a timeout of a network probe, e.g. a four-letter word sent to a
    /// paused server or through a blackholed proxy.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            TestkitError::FourLetterWord { source, .. }
                if matches!(source.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
        )
    }

    /// True when the error is a refused TCP connection (nothing listens on the port).
    pub fn is_connection_refused(&self) -> bool {
        matches!(
            self,
            TestkitError::FourLetterWord { source, .. }
                if source.kind() == io::ErrorKind::ConnectionRefused
        )
    }

    /// Wraps an I/O error with what we were doing.
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        TestkitError::Io { action: action.into(), source }
    }

    /// Wraps a certificate generator's error with what we were doing.
    pub(crate) fn certificate(
        action: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        TestkitError::Certificate { action: action.into(), source: Box::new(source) }
    }

    /// True when a server exited because one of its ports was taken: the caller may retry on
    /// fresh ports.
    pub(crate) fn is_port_in_use(&self) -> bool {
        matches!(self, TestkitError::Exited { port_in_use: true, .. })
    }
}
