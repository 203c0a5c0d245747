//! Nodes: their kinds, their stats, what creating one answers, what a watch on one tells.

/// The metadata ZooKeeper keeps of a node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stat {
    /// The zxid of the transaction that created the node (the fencing token of a latch node).
    pub czxid: i64,
    /// The zxid of the transaction that last changed its data.
    pub mzxid: i64,
    /// The zxid of the transaction that last changed its children.
    pub pzxid: i64,
    /// Creation time, milliseconds since the epoch (the server's clock).
    pub ctime: i64,
    /// Last modification time, milliseconds since the epoch (the server's clock).
    pub mtime: i64,
    /// Changes to its data.
    pub version: i32,
    /// Changes to its children.
    pub cversion: i32,
    /// Changes to its ACL.
    pub aversion: i32,
    /// The session that owns it, for an ephemeral node; 0 otherwise.
    pub ephemeral_owner: i64,
    /// Length of its data.
    pub data_length: i32,
    /// Number of children.
    pub num_children: i32,
}

/// The kind of node to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// Whether the server appends a sequence suffix.
    pub fn is_sequential(self) -> bool {
        matches!(self, NodeMode::PersistentSequential | NodeMode::EphemeralSequential)
    }

    /// Whether the node ends with the session that created it.
    pub fn is_ephemeral(self) -> bool {
        matches!(self, NodeMode::Ephemeral | NodeMode::EphemeralSequential)
    }
}

/// How to treat missing parents of a node to create.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Parents {
    /// Fail with [`ZkError::NoNode`](super::ZkError::NoNode).
    #[default]
    MustExist,
    /// Create them as persistent nodes (Flink's leader paths).
    Persistent,
    /// Create them as container nodes, which the server removes once empty (Curator's latch
    /// paths).
    Container,
}

/// What creating a node answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Created {
    /// The path of the created node, sequence suffix included.
    pub path: String,
    /// Its stat.
    pub stat: Stat,
}

/// What a one-shot watch tells when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
