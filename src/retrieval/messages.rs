//! What a [`LeaderRetriever`](super::LeaderRetriever) tells in Flink's terms, and the messages
//! that ask it.

use actix::prelude::*;
use uuid::Uuid;

use crate::zk::ZkError;

/// Who leads, as a [`LeaderRetriever`](super::LeaderRetriever) tells its subscribers.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub enum LeaderChanged {
    /// The leader node holds this leader.
    Leader {
        /// The leader's address, as its contender subscribed it.
        address: String,
        /// The leader session ID the leader confirmed; tag requests to the leader with it.
        leader_session: Uuid,
        /// The leader's fencing token, when the codec carries one (bincode does, Flink's Java
        /// format does not).
        fencing_token: Option<i64>,
    },
    /// Nobody leads as far as we can tell: the leader node is absent or empty, or our session
    /// was lost and the node has not been read since.
    NoLeader,
    /// The leader node holds data the configured codec does not accept.
    Undecodable {
        /// How many bytes the node holds.
        bytes: usize,
    },
    /// The leader node exists but cannot be read, e.g. its ACL denies our session
    /// ([`ZkError::NoAuth`]). No watch can be set on it, so the retriever reads it again every
    /// second until it is gone or readable.
    Unreadable {
        /// Why the read failed.
        error: ZkError,
    },
}

/// Subscribe a recipient to the [`LeaderChanged`] events of a [`LeaderRetriever`](super::LeaderRetriever). Any number of
/// recipients may subscribe; each is told the current value at once (if known), then every
/// change. A recipient whose actor has stopped is dropped.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SubscribeLeader(pub Recipient<LeaderChanged>);

/// Ask a [`LeaderRetriever`](super::LeaderRetriever) for its current value; `None` before the leader node was first read.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "Option<LeaderChanged>")]
pub struct GetLeader;

/// Stop a [`LeaderRetriever`](super::LeaderRetriever): its cache is closed and no subscriber hears from it again.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct StopRetriever;
