//! The ZooKeeper operations the session actor serves, one message each.
//!
//! Every request runs against the current client with the configured deadline; while no
//! session exists it fails at once with [`ZkError::NotConnected`]. Requests that set a watch
//! deliver it later as a [`WatchFired`] message to the given `Recipient`.

use actix::prelude::*;
pub use zookeeper_client::{Acl, AuthId, Permission, Stat};
use zookeeper_client::{Acls, CreateOptions};

use crate::error::ZkError;

/// The kind of znode to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeMode {
    /// Lives until deleted.
    Persistent,
    /// Persistent, with a 10-digit sequence suffix appended by the server.
    PersistentSequential,
    /// Deleted by the server when the creating session ends.
    Ephemeral,
    /// Ephemeral, with a sequence suffix.
    EphemeralSequential,
    /// Persistent, deleted by the server some time after its last child is gone.
    Container,
}

impl NodeMode {
    fn client_mode(self) -> zookeeper_client::CreateMode {
        use zookeeper_client::CreateMode as M;
        match self {
            NodeMode::Persistent => M::Persistent,
            NodeMode::PersistentSequential => M::PersistentSequential,
            NodeMode::Ephemeral => M::Ephemeral,
            NodeMode::EphemeralSequential => M::EphemeralSequential,
            NodeMode::Container => M::Container,
        }
    }

    pub(super) fn is_sequential(self) -> bool {
        matches!(self, NodeMode::PersistentSequential | NodeMode::EphemeralSequential)
    }
}

/// The ACL given to nodes we create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NodeAcl {
    /// `world:anyone` may do everything (ZooKeeper's `OPEN_ACL_UNSAFE`).
    #[default]
    Open,
    /// Only the authenticated identities of the creating session may do anything
    /// (`CREATOR_ALL_ACL`); needs authentication, else the server answers `InvalidAcl`.
    CreatorAll,
    /// An explicit list.
    Custom(Vec<Acl>),
}

impl NodeAcl {
    fn acls(&self) -> Acls<'_> {
        match self {
            NodeAcl::Open => Acls::anyone_all(),
            NodeAcl::CreatorAll => Acls::creator_all(),
            NodeAcl::Custom(list) => Acls::new(list),
        }
    }

    pub(super) fn options(&self, mode: NodeMode) -> CreateOptions<'_> {
        mode.client_mode().with_acls(self.acls())
    }
}

/// How to treat missing parents of a node to create.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parents {
    /// Fail with [`ZkError::NoNode`].
    #[default]
    MustExist,
    /// Create them as persistent nodes (Flink's leader paths).
    Persistent,
    /// Create them as container nodes, which the server removes once empty (Curator's latch
    /// paths).
    Container,
}

/// A one-shot watch that fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// The watched node was created.
    Created,
    /// The watched node was deleted.
    Deleted,
    /// The watched node's data changed.
    DataChanged,
    /// The watched node's children changed.
    ChildrenChanged,
    /// The session that set the watch ended; the watch will never fire.
    SessionEnded,
}

/// Delivered to the `Recipient` given with a watching request when its watch fires.
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

/// Create a node. Answers the created path (with the sequence suffix for sequential modes) and
/// its stat.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<Created, ZkError>")]
pub struct Create {
    /// Path of the node (for sequential modes: the prefix).
    pub path: String,
    /// Initial data.
    pub data: Vec<u8>,
    /// Node kind.
    pub mode: NodeMode,
    /// ACL of the node and of parents created on the way.
    pub acl: NodeAcl,
    /// What to do when parents are missing.
    pub parents: Parents,
}

impl Create {
    /// A node of `mode` at `path` holding `data`, open ACL, parents must exist.
    pub fn new(path: impl Into<String>, data: impl Into<Vec<u8>>, mode: NodeMode) -> Self {
        Create { path: path.into(), data: data.into(), mode, acl: NodeAcl::Open, parents: Parents::MustExist }
    }

    /// Sets the ACL.
    pub fn acl(mut self, acl: NodeAcl) -> Self {
        self.acl = acl;
        self
    }

    /// Creates missing parents the given way.
    pub fn parents(mut self, parents: Parents) -> Self {
        self.parents = parents;
        self
    }
}

/// What [`Create`] answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    /// The path of the created node, sequence suffix included.
    pub path: String,
    /// Its stat.
    pub stat: Stat,
}

/// Delete a node, optionally only at an expected version.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<(), ZkError>")]
pub struct Delete {
    /// Path of the node.
    pub path: String,
    /// Delete only if the node has this data version.
    pub version: Option<i32>,
}

/// Stat of a node, or `None` if it does not exist; optionally watch creation, deletion, change.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<Option<Stat>, ZkError>")]
pub struct Exists {
    /// Path of the node.
    pub path: String,
    /// Who gets the [`WatchFired`] when the node is created, deleted or changed.
    pub watch: Option<Recipient<WatchFired>>,
}

/// Data and stat of a node; optionally watch deletion and data change (only set when the node
/// exists).
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<(Vec<u8>, Stat), ZkError>")]
pub struct GetData {
    /// Path of the node.
    pub path: String,
    /// Who gets the [`WatchFired`].
    pub watch: Option<Recipient<WatchFired>>,
}

/// Names of a node's children; optionally watch child creation/deletion and node deletion.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<Vec<String>, ZkError>")]
pub struct GetChildren {
    /// Path of the parent.
    pub path: String,
    /// Who gets the [`WatchFired`].
    pub watch: Option<Recipient<WatchFired>>,
}

/// Replace a node's data, optionally only at an expected version.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<Stat, ZkError>")]
pub struct SetData {
    /// Path of the node.
    pub path: String,
    /// New data.
    pub data: Vec<u8>,
    /// Write only if the node has this data version.
    pub version: Option<i32>,
}

/// One write inside a [`GuardedMulti`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Create a node (parents must exist).
    Create {
        /// Path of the node.
        path: String,
        /// Initial data.
        data: Vec<u8>,
        /// Node kind.
        mode: NodeMode,
        /// Its ACL.
        acl: NodeAcl,
    },
    /// Replace data.
    SetData {
        /// Path of the node.
        path: String,
        /// New data.
        data: Vec<u8>,
        /// Expected version.
        version: Option<i32>,
    },
    /// Delete a node.
    Delete {
        /// Path of the node.
        path: String,
        /// Expected version.
        version: Option<i32>,
    },
}

/// What one [`WriteOp`] of a [`GuardedMulti`] did, in the order of the ops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteResult {
    /// The node was created.
    Created {
        /// Its path (with the sequence suffix for sequential modes).
        path: String,
        /// Its stat, when the server reported a valid one (some versions do not; see
        /// ZOOKEEPER-4026).
        stat: Option<Stat>,
    },
    /// The node's data was replaced.
    Updated {
        /// Its new stat.
        stat: Stat,
    },
    /// The node was deleted.
    Deleted,
}

/// Atomically: check that `guard` exists (at `guard_version` if given), then apply every op.
/// Nothing is written when the check or any op fails. A failed check answers
/// [`ZkError::GuardFailed`]; success answers one [`WriteResult`] per op. With no ops it is a
/// check alone, answered by the ensemble's leader: linearizable, unlike `sync` + read.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<Vec<WriteResult>, ZkError>")]
pub struct GuardedMulti {
    /// The node whose existence guards the writes (for an election: our latch node).
    pub guard: String,
    /// Required data version of the guard, if any.
    pub guard_version: Option<i32>,
    /// The writes.
    pub ops: Vec<WriteOp>,
}

/// Make the server we talk to catch up with the leader for `path` before later reads.
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<(), ZkError>")]
pub struct Sync {
    /// Any path; ZooKeeper syncs the whole tree.
    pub path: String,
}

/// The kinds of request the session serves, for [`SessionMetrics`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// [`Create`].
    Create,
    /// [`Delete`].
    Delete,
    /// [`Exists`].
    Exists,
    /// [`GetData`].
    GetData,
    /// [`GetChildren`].
    GetChildren,
    /// [`SetData`].
    SetData,
    /// [`GuardedMulti`].
    Multi,
    /// [`Sync`].
    Sync,
    /// Test support requests.
    Other,
}

/// Counters of one session actor since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionMetrics {
    /// Requests served, by kind (a `Create` with missing parents counts once).
    pub requests: std::collections::BTreeMap<RequestKind, u64>,
    /// Sessions established (the first, and one after every loss).
    pub sessions_established: u64,
    /// Connections lost with the session possibly alive (`Suspended`).
    pub suspensions: u64,
    /// Connections regained within the same session.
    pub reconnects: u64,
    /// Sessions lost (`Lost`).
    pub sessions_lost: u64,
}

impl SessionMetrics {
    /// All requests, whatever their kind.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// Ask the session for its [`SessionMetrics`].
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "SessionMetrics")]
pub struct GetSessionMetrics;
