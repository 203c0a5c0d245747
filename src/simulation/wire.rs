//! What travels between a simulated client and the simulated servers, and the world's messages
//! to a client.

use std::time::Duration;

use actix::prelude::*;

use crate::contender::LeadershipEvent;
use crate::port::{Answer, Request};
use crate::zk::{WatchEvent, ZkError};

/// A process of the simulation (its client, its election).
pub(crate) type ProcessId = usize;

/// One TCP connection of a client: its process, the process's incarnation, and a count.
pub(crate) type ConnId = u64;

/// The number of connection `count` of `incarnation` of `process`.
pub(crate) fn conn_id(process: ProcessId, incarnation: usize, count: u64) -> ConnId {
    ((process as u64) << 40) | ((incarnation as u64 & 0xffff) << 24) | (count & 0xff_ffff)
}

/// The incarnation a connection belongs to.
pub(crate) fn incarnation_of(conn: ConnId) -> usize {
    ((conn >> 24) & 0xffff) as usize
}

/// Client to server.
#[derive(Debug)]
pub(crate) enum Up {
    /// Open a session (`None`) or take an existing one up again.
    Connect { session: Option<i64>, timeout: Duration },
    /// A request; a watching read names the watch.
    Request { xid: u64, request: Request, watch: Option<u64> },
    /// Nothing to say: keeps the session alive. Answered with the same `id`.
    Ping { id: u64 },
    /// Close the session.
    Close,
}

/// Server to client.
#[derive(Debug)]
pub(crate) enum Down {
    /// The session is established (a new one, or the one asked for).
    Connected { session: i64, timeout: Duration },
    /// The session asked for is gone.
    Expired,
    /// The answer to request `xid`.
    Answer { xid: u64, result: Result<Answer, ZkError> },
    /// Watch `watch` fired.
    Notify { watch: u64, path: String, event: WatchEvent },
    /// The answer to ping `id`.
    Pong { id: u64 },
}

/// The world delivers `down` on connection `conn`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Deliver {
    pub conn: ConnId,
    pub down: Down,
}

/// Connection `conn` closed (the server closed it, a server crashed, it was refused, or it was
/// cut): the client notices at once.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Closed {
    pub conn: ConnId,
}

/// The client's process freezes (`true`) or runs again (`false`).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Freeze(pub bool);

/// The client's process is asked to stop its session (closing it on the server).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

/// A client sends `up` on connection `conn`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Transmit {
    pub process: ProcessId,
    pub conn: ConnId,
    pub up: Up,
}

/// A client gave connection `conn` up.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Hangup {
    pub process: ProcessId,
    pub conn: ConnId,
}

/// The contender of election `election` of incarnation `incarnation` of `process` was told
/// `told`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Report {
    pub process: ProcessId,
    pub incarnation: usize,
    pub election: usize,
    pub told: Told,
}

/// What a contender reports.
#[derive(Debug)]
pub(crate) enum Told {
    /// An event of its election.
    Event(LeadershipEvent),
    /// Its `StopElection` was answered: every event the supervisor sent before handling it has
    /// been reported before this, and nothing may follow.
    StopReturned,
}
