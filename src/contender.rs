//! The contender-facing vocabulary: what a contender sends to the election supervisor and what
//! it receives back.
//!
//! A contender is any actix actor that handles [`LeadershipEvent`]. It subscribes under a
//! component name with its address and leader path, waits for [`LeadershipEvent::Granted`],
//! then sends [`Confirm`] with the leader session it was granted. The supervisor then publishes
//! the address, leader session and fencing token in the leader node and keeps it correct.
//!
//! While leading, a contender can fence what it does: pass the fencing token to every system
//! it writes to (which refuse tokens lower than one they have seen), ask [`HasLeadership`]
//! (local, fast) or [`ProveLeadership`] (through ZooKeeper's leader, linearizable), and keep its
//! own state in ZooKeeper with [`LeaderWrite`], which lands only while its latch node exists.

use std::sync::Arc;

use actix::prelude::*;
use uuid::Uuid;

use crate::codec::EncodeError;
use crate::error::ConfigError;
use crate::zk::{WriteOp, WriteResult, ZkError};

/// What the supervisor tells a contender.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub enum LeadershipEvent {
    /// Leadership is granted with a fresh leader session ID; confirm it with [`Confirm`].
    Granted {
        /// The contender's component name.
        component: String,
        /// The leader session ID to confirm.
        leader_session: Uuid,
        /// This leadership's fencing token: the czxid of our latch node, larger than any earlier
        /// leader's (see [`crate::supervisor`]).
        fencing_token: i64,
    },
    /// Leadership is revoked; the last granted session ID is void.
    Revoked {
        /// The contender's component name.
        component: String,
    },
    /// The leader node now holds the contender's address, this leader session ID and the token.
    Published {
        /// The contender's component name.
        component: String,
        /// The published leader session ID.
        leader_session: Uuid,
        /// The published fencing token.
        fencing_token: i64,
    },
    /// Something failed that the contender should know about (the election keeps running).
    Error {
        /// The contender's component name.
        component: String,
        /// What failed.
        error: ElectionError,
    },
}

impl LeadershipEvent {
    /// The component the event is about.
    pub fn component(&self) -> &str {
        match self {
            LeadershipEvent::Granted { component, .. }
            | LeadershipEvent::Revoked { component }
            | LeadershipEvent::Published { component, .. }
            | LeadershipEvent::Error { component, .. } => component,
        }
    }
}

/// Errors of the election API: misuse (answered to the caller) and failures (sent to
/// contenders as [`LeadershipEvent::Error`]).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElectionError {
    /// A path, address or name is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No contender is subscribed under this component name.
    #[error("no contender is subscribed as {0:?}")]
    UnknownContender(String),
    /// A contender is already subscribed under this component name.
    #[error("a contender is already subscribed as {0:?}")]
    DuplicateComponent(String),
    /// Another contender of this supervisor already publishes to this leader path.
    #[error("another contender already publishes to {0:?}")]
    DuplicateLeaderPath(String),
    /// The supervisor was stopped.
    #[error("the election supervisor is stopped")]
    Stopped,
    /// Confirm while the latch is not held.
    #[error("not the leader")]
    NotLeader,
    /// Confirm of a leader session other than the one last granted.
    #[error("leader session {confirmed} is not the one granted ({granted:?})")]
    StaleLeaderSession {
        /// The ID sent with the confirm.
        confirmed: Uuid,
        /// The ID currently granted, if any.
        granted: Option<Uuid>,
    },
    /// The address cannot be written with the configured codec.
    #[error("the address cannot be encoded: {0}")]
    Unencodable(Arc<EncodeError>),
    /// A ZooKeeper operation failed.
    #[error("ZooKeeper: {0}")]
    ZooKeeper(#[from] ZkError),
    /// ZooKeeper kept refusing to write our leader node for the election's publish patience:
    /// leadership was given up and we queue again at the back, so another contender can try.
    #[error("gave up publishing the leader node after {attempts} refused attempts in {after:?} (last: {last}); leadership handed on")]
    PublishAbandoned {
        /// Refused attempts under the grant that was given up.
        attempts: u32,
        /// Time from the first refusal to giving up.
        after: std::time::Duration,
        /// The last refusal.
        last: ZkError,
    },
    /// Several operations failed while stopping (all of them are listed).
    #[error("stop failed: {0:?}")]
    StopFailed(Vec<ZkError>),
    /// A transfer named a candidate that is not in line.
    #[error("no candidate in line is {0}")]
    UnknownCandidate(String),
    /// A transfer named our own node or ID.
    #[error("a transfer to ourselves")]
    TransferToSelf,
    /// The election stopped (nothing reaches a contender any more), but ZooKeeper could not be
    /// reached to delete our nodes within the stop's patience. They are deleted after the next
    /// reconnect in this session, or expire with the session within its negotiated timeout.
    /// Lists the connection errors seen, if any came before the patience ran out.
    #[error("stopped; our nodes go after the next reconnect or with the session ({0:?})")]
    StopDeferred(Vec<ZkError>),
}

impl PartialEq for ElectionError {
    // Compares by variant and payload; encode errors compare by message, as they carry no data
    // a caller would match on.
    fn eq(&self, other: &Self) -> bool {
        use ElectionError::*;
        match (self, other) {
            (Config(a), Config(b)) => a == b,
            (UnknownContender(a), UnknownContender(b))
            | (UnknownCandidate(a), UnknownCandidate(b))
            | (DuplicateComponent(a), DuplicateComponent(b))
            | (DuplicateLeaderPath(a), DuplicateLeaderPath(b)) => a == b,
            (Stopped, Stopped) | (NotLeader, NotLeader) | (TransferToSelf, TransferToSelf) => true,
            (StaleLeaderSession { confirmed: a, granted: x }, StaleLeaderSession { confirmed: b, granted: y }) => {
                a == b && x == y
            }
            (Unencodable(a), Unencodable(b)) => a.to_string() == b.to_string(),
            (ZooKeeper(a), ZooKeeper(b)) => a == b,
            (StopFailed(a), StopFailed(b)) | (StopDeferred(a), StopDeferred(b)) => a == b,
            (
                PublishAbandoned { attempts: a, after: x, last: l },
                PublishAbandoned { attempts: b, after: y, last: m },
            ) => a == b && x == y && l == m,
            _ => false,
        }
    }
}

impl Eq for ElectionError {}

impl From<actix::MailboxError> for ElectionError {
    fn from(_: actix::MailboxError) -> Self {
        ElectionError::Stopped
    }
}

/// Join the election as a contender. Answers an error for an empty component or address, an
/// invalid leader path, a component or leader path already in use, or after stop.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<(), ElectionError>")]
pub struct Subscribe {
    /// Name of the component (unique within a supervisor), e.g. `"resourcemanager"`.
    pub component: String,
    /// The address published in the leader node while this contender leads.
    pub address: String,
    /// Where the leader information of this component is published.
    pub leader_path: String,
    /// Who receives the [`LeadershipEvent`]s.
    pub contender: Recipient<LeadershipEvent>,
}

impl Subscribe {
    /// A subscription of `contender` as `component`, publishing `address` at `leader_path`.
    pub fn new(
        component: impl Into<String>,
        address: impl Into<String>,
        leader_path: impl Into<String>,
        contender: Recipient<LeadershipEvent>,
    ) -> Self {
        Subscribe { component: component.into(), address: address.into(), leader_path: leader_path.into(), contender }
    }
}

/// Confirm the leader session ID received with [`LeadershipEvent::Granted`]. Only the ID last
/// granted, while the latch is held and the supervisor runs, is accepted; anything else is
/// answered with an error and writes nothing.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<(), ElectionError>")]
pub struct Confirm {
    /// The component confirming.
    pub component: String,
    /// The granted leader session.
    pub leader_session: Uuid,
}

/// What a contender believes it leads with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeadershipClaim {
    /// The confirmed leader session ID.
    LeaderSession(Uuid),
    /// The fencing token of a confirmed leadership.
    FencingToken(i64),
}

/// Whether `component` leads with exactly this confirmed leadership, answered from the
/// supervisor's own state: fast (no request), and false from the end of the session's lease on,
/// but a pause of *this* process between the answer and the act can make it stale. Use it before
/// acting on local state; use [`ProveLeadership`] when a stale "yes" would do harm and a
/// ZooKeeper round trip is affordable, and a fencing token when the system you write to can
/// check one.
#[derive(Clone, Debug, Message)]
#[rtype(result = "bool")]
pub struct HasLeadership {
    /// The component asking.
    pub component: String,
    /// What it believes it leads with.
    pub claim: LeadershipClaim,
}

impl HasLeadership {
    /// Asks by leader session ID.
    pub fn leader_session(component: impl Into<String>, leader_session: Uuid) -> Self {
        HasLeadership { component: component.into(), claim: LeadershipClaim::LeaderSession(leader_session) }
    }

    /// Asks by fencing token.
    pub fn fencing_token(component: impl Into<String>, fencing_token: i64) -> Self {
        HasLeadership { component: component.into(), claim: LeadershipClaim::FencingToken(fencing_token) }
    }
}

/// The same question as [`HasLeadership`], proven: when the local answer is yes, a check-only
/// multi-op that our latch node still exists goes through ZooKeeper's leader, which orders it
/// after every write it has accepted (linearizable, unlike `sync` followed by a read). Answers
/// `Ok(false)` when not leading; `Err` when ZooKeeper could not be asked (then nothing is
/// proven either way).
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<bool, ElectionError>")]
pub struct ProveLeadership {
    /// The component asking.
    pub component: String,
    /// What it believes it leads with.
    pub claim: LeadershipClaim,
}

/// The fencing token of `component`'s confirmed leadership; `None` unless it leads.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Option<i64>")]
pub struct GetFencingToken {
    /// The component asking.
    pub component: String,
}

/// Leader-only writes: ZooKeeper writes of the leader's own data, applied as one multi-op that
/// first checks our latch node still exists, and only while the leadership named by
/// `leader_session` is the confirmed one. Answers one [`WriteResult`] per op, or
/// [`ElectionError::NotLeader`] without writing anything. This is how a leader keeps state in
/// ZooKeeper that a deposed leader can never overwrite.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<Vec<WriteResult>, ElectionError>")]
pub struct LeaderWrite {
    /// The component writing.
    pub component: String,
    /// The confirmed leader session the writes belong to.
    pub leader_session: Uuid,
    /// The writes, applied all or none.
    pub ops: Vec<WriteOp>,
}

/// Give up leadership and queue again: the latch node is deleted and a new one created at the
/// back of the line. `component` names the contender asking (an unknown one is refused with
/// [`ElectionError::UnknownContender`]); every contender of the supervisor shares its latch,
/// so every one of them is revoked. Our leader nodes are deleted in the same multi-op as the
/// latch node when the cache has read them since our last write (almost always); otherwise the
/// successor replaces them. To leave for good, send [`StopElection`].
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<(), ElectionError>")]
pub struct Resign {
    /// The contender resigning.
    pub component: String,
}

impl Resign {
    /// `component` resigns.
    pub fn new(component: impl Into<String>) -> Self {
        Resign { component: component.into() }
    }
}

/// Hand leadership to one named candidate, wherever it stands in line: in one multi-op our
/// latch node, our leader nodes and the latch node of every candidate between us and the
/// target are deleted, guarded by our node and checked against the target's. The target is
/// first in line at once; the candidates passed over see their node gone and queue again
/// behind it (Curator peers too), and we queue again at the back (after the cooldown). Nobody
/// leads in between. Every contender of the supervisor is revoked first, as for [`Resign`].
///
/// Answers the target's latch node. If the target left the line before the multi-op, nothing
/// is handed over: we have stepped down and queue again, and succession is normal. Once the
/// target is first, a target that does not take over (it died, it is cut off) is passed over
/// as any failed leader is: its node expires with its session.
///
/// # Errors
/// [`ElectionError::NotLeader`] unless we lead; [`ElectionError::UnknownCandidate`] for a
/// target not in line; [`ElectionError::TransferToSelf`] for our own node or ID.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<String, ElectionError>")]
pub struct Transfer {
    /// Who takes over.
    pub to: Successor,
}

impl Transfer {
    /// Hand over to the candidate announcing `address` (its participant ID).
    pub fn to_address(address: impl Into<String>) -> Transfer {
        Transfer { to: Successor::Address(address.into()) }
    }

    /// Hand over to the candidate with latch node `node` (its name or full path).
    pub fn to_node(node: impl Into<String>) -> Transfer {
        Transfer { to: Successor::Node(node.into()) }
    }
}

/// The candidate a [`Transfer`] hands over to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Successor {
    /// The candidate announcing this participant ID (by default its first contender's
    /// address); the first in line of that ID if several announce it.
    Address(String),
    /// The candidate with this latch node: its name or its full path.
    Node(String),
}

impl std::fmt::Display for Successor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Successor::Address(address) => write!(f, "address {address}"),
            Successor::Node(node) => write!(f, "node {node}"),
        }
    }
}

/// A contender's health, as it judges it (a check of its own, a dependency it needs). After
/// the election's [`health_failures`](crate::config::ElectionConfigBuilder::health_failures)
/// unhealthy reports in a row the supervisor steps down if it leads and leaves the line in
/// either case: an unhealthy process neither keeps nor takes leadership. The first healthy
/// report queues it again (after the cooldown, if one runs). Every contender of the supervisor
/// shares its latch: one unhealthy contender takes them all out.
///
/// # Errors
/// [`ElectionError::UnknownContender`], [`ElectionError::Stopped`].
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<(), ElectionError>")]
pub struct ReportHealth {
    /// The contender reporting.
    pub component: String,
    /// Whether it is fit to lead.
    pub healthy: bool,
}

/// Stop the election: no event reaches any contender afterwards, the latch node and the leader
/// nodes this supervisor published are deleted. Idempotent.
///
/// The caller must consider itself revoked from the moment it sends `StopElection`: no
/// `Revoked` follows, and a successor may be granted before the answer arrives.
///
/// Answers within half a second whatever ZooKeeper does (at once while disconnected): if our
/// nodes could not be deleted by then, the answer is [`ElectionError::StopDeferred`] and the
/// nodes live on with the session. The stopped supervisor goes on deleting them, and after the
/// next reconnect in the same session (else its latch node would stand first in line with
/// nobody behind it); a lost session takes them with it, within its negotiated timeout. To be
/// rid of them sooner, stop the session too.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<(), ElectionError>")]
pub struct StopElection;
