//! ZooKeeper's four-letter words (`ruok`, `srvr`, ...): a plain-TCP admin protocol where the
//! client sends four ASCII letters and the server answers with text and closes the connection.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::TestkitError;

/// Sends a four-letter word to `addr` and returns the whole answer.
///
/// `timeout` bounds the TCP connect and the whole wait for the answer. The word must be
/// whitelisted by the server (`4lw.commands.whitelist`; servers of this testkit allow all).
///
/// # Notable errors
/// * [`TestkitError::FourLetterWord`] when connecting fails (see
///   [`TestkitError::is_connection_refused`]) or the answer does not arrive in time (see
///   [`TestkitError::is_timeout`]): a paused server, or a proxy in blackhole mode, accepts the
///   connection but never answers.
pub fn four_letter_word(addr: SocketAddr, word: &str, timeout: Duration) -> Result<String, TestkitError> {
    let fail = |source: io::Error| TestkitError::FourLetterWord { word: word.to_owned(), addr, source };
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(fail)?;
    stream.write_all(word.as_bytes()).map_err(fail)?;
    // Older servers wait for the end of the request; newer ones answer after four bytes.
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(fail(io::Error::new(io::ErrorKind::TimedOut, "no complete answer before the deadline")));
        }
        stream.set_read_timeout(Some(left)).map_err(fail)?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// What a server is doing, from the `Mode:` line of its `srvr` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerMode {
    /// A single server, not part of an ensemble.
    Standalone,
    /// The ensemble member that orders all writes.
    Leader,
    /// An ensemble member following the leader.
    Follower,
    /// A non-voting ensemble member.
    Observer,
    /// A server serving reads only because it lost its quorum (`readonlymode.enabled`).
    ReadOnly,
    /// The process is up but does not serve clients, typically an ensemble member without a
    /// quorum or still electing a leader (`This ZooKeeper instance is not currently serving
    /// requests`).
    NotServing,
}

impl ServerMode {
    /// Whether clients can use the server (read and write).
    pub fn is_serving(self) -> bool {
        matches!(self, ServerMode::Standalone | ServerMode::Leader | ServerMode::Follower | ServerMode::Observer)
    }
}

/// The parts of a `srvr` answer the testkit uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerStatus {
    pub(crate) mode: ServerMode,
    /// e.g. `3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f`; `None` when not serving.
    pub(crate) version: Option<String>,
}

/// Parses a `srvr` answer; `None` when it is neither a status report nor the not-serving notice.
pub(crate) fn parse_srvr(answer: &str) -> Option<ServerStatus> {
    if answer.contains("not currently serving requests") {
        return Some(ServerStatus { mode: ServerMode::NotServing, version: None });
    }
    let mut mode = None;
    let mut version = None;
    for line in answer.lines() {
        if let Some(m) = line.strip_prefix("Mode:") {
            mode = match m.trim() {
                "standalone" => Some(ServerMode::Standalone),
                "leader" => Some(ServerMode::Leader),
                "follower" => Some(ServerMode::Follower),
                "observer" => Some(ServerMode::Observer),
                "read-only" => Some(ServerMode::ReadOnly),
                _ => None,
            };
        } else if let Some(v) = line.strip_prefix("Zookeeper version:") {
            let v = v.split(',').next().unwrap_or_default().trim();
            version = (!v.is_empty()).then(|| v.to_owned());
        }
    }
    Some(ServerStatus { mode: mode?, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDALONE: &str = "Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, \
        built on 2022-02-25 08:49 UTC\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\n\
        Connections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n";

    #[test]
    fn srvr_answer_gives_mode_and_version() {
        let status = parse_srvr(STANDALONE).expect("parsed");
        assert_eq!(status.mode, ServerMode::Standalone);
        assert_eq!(status.version.as_deref(), Some("3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f"));
        let follower = STANDALONE.replace("Mode: standalone", "Mode: follower");
        assert_eq!(parse_srvr(&follower).map(|s| s.mode), Some(ServerMode::Follower));
    }

    #[test]
    fn not_serving_and_garbage_are_told_apart() {
        let status = parse_srvr("This ZooKeeper instance is not currently serving requests\n");
        assert_eq!(status.map(|s| s.mode), Some(ServerMode::NotServing));
        assert_eq!(parse_srvr("imok"), None);
        assert_eq!(parse_srvr(""), None);
    }
}
