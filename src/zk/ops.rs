//! The requests an election makes of ZooKeeper, as data. They say *what* to do; the seam
//! (`crate::port`) says who asks and whether the answer still matters, and the session actor
//! (or a simulated server) does it.

use actix::Message;

use super::{Created, NodeAcl, NodeMode, Parents, Stat, ZkError};

/// Create a node. Answers the created path (with the sequence suffix for sequential modes) and
/// its stat.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
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

/// Delete a node, optionally only at an expected version.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "Result<(), ZkError>")]
pub struct Delete {
    /// Path of the node.
    pub path: String,
    /// Delete only if the node has this data version.
    pub version: Option<i32>,
}

impl Delete {
    /// Deletes `path` whatever its version.
    pub fn new(path: impl Into<String>) -> Self {
        Delete { path: path.into(), version: None }
    }
}

/// Stat of a node, or `None` if it does not exist. Watched: fires when the node is created,
/// deleted or changed.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "Result<Option<Stat>, ZkError>")]
pub struct Exists {
    /// Path of the node.
    pub path: String,
}

impl Exists {
    /// The stat of `path`.
    pub fn new(path: impl Into<String>) -> Self {
        Exists { path: path.into() }
    }
}

/// Data and stat of a node. Watched: fires when the node is deleted or its data changes (set
/// only when the node exists).
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "Result<(Vec<u8>, Stat), ZkError>")]
pub struct GetData {
    /// Path of the node.
    pub path: String,
}

impl GetData {
    /// The data of `path`.
    pub fn new(path: impl Into<String>) -> Self {
        GetData { path: path.into() }
    }
}

/// Names of a node's children. Watched: fires when a child is created or deleted, or the node
/// itself is deleted.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "Result<Vec<String>, ZkError>")]
pub struct GetChildren {
    /// Path of the parent.
    pub path: String,
}

impl GetChildren {
    /// The children of `path`.
    pub fn new(path: impl Into<String>) -> Self {
        GetChildren { path: path.into() }
    }
}

/// Replace a node's data, optionally only at an expected version.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
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
    /// Write nothing, but only if this node exists (at `version`, if given): a second guard.
    /// Fails the multi with [`ZkError::NoNode`] or [`ZkError::BadVersion`].
    Check {
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
    /// The node was there (a [`WriteOp::Check`]).
    Checked,
}

/// Atomically: check that `guard` exists (at `guard_version` if given), then apply every op.
/// Nothing is written when the check or any op fails. A failed check answers
/// [`ZkError::GuardFailed`]; success answers one [`WriteResult`] per op. With no ops it is a
/// check alone, answered by the ensemble's leader: linearizable, unlike `sync` + read.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
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
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "Result<(), ZkError>")]
pub struct Sync {
    /// Any path; ZooKeeper syncs the whole tree.
    pub path: String,
}

/// Watch a node for good (`addWatch` in persistent mode, ZooKeeper 3.6+): its creation, every
/// change and its deletion fire, each once, in order, until the session ends. No read: the
/// answer is only whether the watch is set. Servers before 3.6 answer
/// [`ZkError::Unimplemented`].
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "Result<(), ZkError>")]
pub struct AddWatch {
    /// The node watched (not its children).
    pub path: String,
}

impl AddWatch {
    /// A persistent watch on `path`.
    pub fn new(path: impl Into<String>) -> Self {
        AddWatch { path: path.into() }
    }
}

/// The kinds of request, for counting them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
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
    /// [`AddWatch`].
    AddWatch,
    /// Test support requests.
    Other,
}

impl RequestKind {
    /// The name used in metrics labels: `create`, `get_children`, …
    pub fn name(self) -> &'static str {
        match self {
            RequestKind::Create => "create",
            RequestKind::Delete => "delete",
            RequestKind::Exists => "exists",
            RequestKind::GetData => "get_data",
            RequestKind::GetChildren => "get_children",
            RequestKind::SetData => "set_data",
            RequestKind::Multi => "multi",
            RequestKind::Sync => "sync",
            RequestKind::AddWatch => "add_watch",
            RequestKind::Other => "other",
        }
    }
}
