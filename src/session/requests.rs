//! The ZooKeeper operations the session actor serves, one message each.
//!
//! Every request runs against the current client with the configured deadline; while no
//! session exists it fails at once with [`ZkError::NotConnected`]. Requests that set a watch
//! deliver it later as a [`WatchFired`] message to the given `Recipient`.

use std::future::Future;
use std::pin::Pin;

use actix::prelude::*;
pub use zookeeper_client::{Acl, AuthId, Permission, Stat};
use zookeeper_client::{Acls, Client, CreateOptions, OneshotWatcher};

use super::ZkSession;
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

    fn is_sequential(self) -> bool {
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

    fn options(&self, mode: NodeMode) -> CreateOptions<'_> {
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

impl Handler<GetSessionMetrics> for ZkSession {
    type Result = MessageResult<GetSessionMetrics>;

    fn handle(&mut self, _msg: GetSessionMetrics, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.metrics.clone())
    }
}

/// Boxed future answered by the request handlers.
type Reply<T> = Pin<Box<dyn Future<Output = Result<T, ZkError>>>>;

impl ZkSession {
    /// Runs `op` on a clone of the current client within the request deadline, counting it as
    /// a request of `kind`.
    fn run<T, Fut>(&mut self, kind: RequestKind, op: impl FnOnce(Client) -> Fut) -> Reply<T>
    where
        T: 'static,
        Fut: Future<Output = Result<T, ZkError>> + 'static,
    {
        *self.metrics.requests.entry(kind).or_default() += 1;
        let deadline = self.config.request_timeout();
        let Some(client) = self.client.clone() else {
            return Box::pin(async { Err(ZkError::NotConnected) });
        };
        let fut = op(client);
        Box::pin(async move {
            tokio::time::timeout(deadline, fut).await.unwrap_or(Err(ZkError::Timeout(deadline))).map_err(lost_in_flight)
        })
    }

    /// Forwards a fired one-shot watch to `recipient` as a [`WatchFired`].
    fn forward_watch(&self, path: String, watcher: OneshotWatcher, recipient: Recipient<WatchFired>) {
        let generation = self.generation;
        actix::spawn(async move {
            let fired = watcher.changed().await;
            use zookeeper_client::EventType as E;
            let event = match fired.event_type {
                E::NodeCreated => WatchEvent::Created,
                E::NodeDeleted => WatchEvent::Deleted,
                E::NodeDataChanged => WatchEvent::DataChanged,
                E::NodeChildrenChanged => WatchEvent::ChildrenChanged,
                E::Session => WatchEvent::SessionEnded,
            };
            recipient.do_send(WatchFired { path, event, generation });
        });
    }
}

/// A request in flight when the connection broke fails with whatever broke it ("no response
/// from connection in …", an I/O error, a garbled frame), not with `ConnectionLoss`; its outcome
/// is unknown all the same, and retrying after the reconnect is the cure. Say so, so callers
/// treat it as the transient error it is.
fn lost_in_flight(err: ZkError) -> ZkError {
    use zookeeper_client::Error as E;
    match err {
        ZkError::Client(E::Custom(_) | E::UnmarshalError { .. }) => ZkError::ConnectionLoss,
        other => other,
    }
}

async fn create_node(client: &Client, msg: &Create) -> Result<Created, ZkError> {
    let options = msg.acl.options(msg.mode);
    let (stat, sequence) = client.create(&msg.path, &msg.data, &options).await?;
    let path = if msg.mode.is_sequential() { format!("{}{sequence}", msg.path) } else { msg.path.clone() };
    Ok(Created { path, stat })
}

/// Creates every missing ancestor of `path` (not `path` itself) in `parents` mode.
///
/// Deepest first: usually only the immediate parent is missing, which costs one write; we walk
/// up only while a create fails for want of its own parent, then come back down. (Root-first
/// would write once per level, every write a logged transaction even when it fails.)
async fn create_ancestors(client: &Client, path: &str, parents: Parents, acl: &NodeAcl) -> Result<(), ZkError> {
    let mode = match parents {
        Parents::MustExist => return Err(ZkError::NoNode),
        Parents::Persistent => NodeMode::Persistent,
        Parents::Container => NodeMode::Container,
    };
    let options = acl.options(mode);
    // Proper ancestors below the root, deepest first: "/a/b/c" → ["/a/b", "/a"].
    let mut ancestors: Vec<&str> = path.match_indices('/').skip(1).map(|(end, _)| &path[..end]).collect();
    ancestors.reverse();
    let mut missing = 0;
    while let Some(ancestor) = ancestors.get(missing) {
        match client.create(ancestor, &[], &options).await {
            Ok(_) | Err(zookeeper_client::Error::NodeExists) => break,
            Err(zookeeper_client::Error::NoNode) => missing += 1,
            Err(err) => return Err(err.into()),
        }
    }
    // The ones that failed for want of a parent, now that it exists, shallowest first.
    for ancestor in ancestors[..missing].iter().rev() {
        match client.create(ancestor, &[], &options).await {
            Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

impl Handler<Create> for ZkSession {
    type Result = ResponseFuture<Result<Created, ZkError>>;

    fn handle(&mut self, msg: Create, _ctx: &mut Context<Self>) -> Self::Result {
        self.run(RequestKind::Create, |client| async move {
            match create_node(&client, &msg).await {
                Err(ZkError::NoNode) if msg.parents != Parents::MustExist => {
                    create_ancestors(&client, &msg.path, msg.parents, &msg.acl).await?;
                    create_node(&client, &msg).await
                }
                other => other,
            }
        })
    }
}

impl Handler<Delete> for ZkSession {
    type Result = ResponseFuture<Result<(), ZkError>>;

    fn handle(&mut self, msg: Delete, _ctx: &mut Context<Self>) -> Self::Result {
        self.run(RequestKind::Delete, |client| async move { Ok(client.delete(&msg.path, msg.version).await?) })
    }
}

impl Handler<Exists> for ZkSession {
    type Result = ResponseFuture<Result<Option<Stat>, ZkError>>;

    fn handle(&mut self, msg: Exists, ctx: &mut Context<Self>) -> Self::Result {
        let me = ctx.address();
        self.run(RequestKind::Exists, |client| async move {
            match msg.watch {
                None => Ok(client.check_stat(&msg.path).await?),
                Some(recipient) => {
                    let (stat, watcher) = client.check_and_watch_stat(&msg.path).await?;
                    me.do_send(ForwardWatch { path: msg.path, watcher, recipient });
                    Ok(stat)
                }
            }
        })
    }
}

impl Handler<GetData> for ZkSession {
    type Result = ResponseFuture<Result<(Vec<u8>, Stat), ZkError>>;

    fn handle(&mut self, msg: GetData, ctx: &mut Context<Self>) -> Self::Result {
        let me = ctx.address();
        self.run(RequestKind::GetData, |client| async move {
            match msg.watch {
                None => Ok(client.get_data(&msg.path).await?),
                Some(recipient) => {
                    let (data, stat, watcher) = client.get_and_watch_data(&msg.path).await?;
                    me.do_send(ForwardWatch { path: msg.path, watcher, recipient });
                    Ok((data, stat))
                }
            }
        })
    }
}

impl Handler<GetChildren> for ZkSession {
    type Result = ResponseFuture<Result<Vec<String>, ZkError>>;

    fn handle(&mut self, msg: GetChildren, ctx: &mut Context<Self>) -> Self::Result {
        let me = ctx.address();
        self.run(RequestKind::GetChildren, |client| async move {
            match msg.watch {
                None => Ok(client.list_children(&msg.path).await?),
                Some(recipient) => {
                    let (children, watcher) = client.list_and_watch_children(&msg.path).await?;
                    me.do_send(ForwardWatch { path: msg.path, watcher, recipient });
                    Ok(children)
                }
            }
        })
    }
}

impl Handler<SetData> for ZkSession {
    type Result = ResponseFuture<Result<Stat, ZkError>>;

    fn handle(&mut self, msg: SetData, _ctx: &mut Context<Self>) -> Self::Result {
        self.run(
            RequestKind::SetData,
            |client| async move { Ok(client.set_data(&msg.path, &msg.data, msg.version).await?) },
        )
    }
}

impl Handler<GuardedMulti> for ZkSession {
    type Result = ResponseFuture<Result<Vec<WriteResult>, ZkError>>;

    fn handle(&mut self, msg: GuardedMulti, _ctx: &mut Context<Self>) -> Self::Result {
        use zookeeper_client::MultiWriteResult as R;
        self.run(RequestKind::Multi, |client| async move {
            let mut writer = client.new_check_writer(&msg.guard, msg.guard_version)?;
            for op in &msg.ops {
                match op {
                    WriteOp::Create { path, data, mode, acl } => writer.add_create(path, data, &acl.options(*mode))?,
                    WriteOp::SetData { path, data, version } => writer.add_set_data(path, data, *version)?,
                    WriteOp::Delete { path, version } => writer.add_delete(path, *version)?,
                }
            }
            use zookeeper_client::CheckWriteError as E;
            match writer.commit().await {
                Ok(results) => Ok(results
                    .into_iter()
                    .map(|result| match result {
                        R::Create { path, stat } => {
                            WriteResult::Created { path, stat: (!stat.is_invalid()).then_some(stat) }
                        }
                        R::SetData { stat } => WriteResult::Updated { stat },
                        // Only deletes remain: the guard's check is not among the results.
                        _ => WriteResult::Deleted,
                    })
                    .collect()),
                Err(E::CheckFailed {
                    source: zookeeper_client::Error::NoNode | zookeeper_client::Error::BadVersion,
                }) => Err(ZkError::GuardFailed { path: msg.guard }),
                Err(E::CheckFailed { source } | E::RequestFailed { source } | E::OperationFailed { source, .. }) => {
                    Err(source.into())
                }
            }
        })
    }
}

impl Handler<Sync> for ZkSession {
    type Result = ResponseFuture<Result<(), ZkError>>;

    fn handle(&mut self, msg: Sync, _ctx: &mut Context<Self>) -> Self::Result {
        self.run(RequestKind::Sync, |client| async move { Ok(client.sync(&msg.path).await?) })
    }
}

/// Internal: hand a freshly set watcher to the actor so it is tagged with the generation in
/// force and forwarded.
#[derive(Message)]
#[rtype(result = "()")]
struct ForwardWatch {
    path: String,
    watcher: OneshotWatcher,
    recipient: Recipient<WatchFired>,
}

impl Handler<ForwardWatch> for ZkSession {
    type Result = ();

    fn handle(&mut self, msg: ForwardWatch, _ctx: &mut Context<Self>) {
        self.forward_watch(msg.path, msg.watcher, msg.recipient);
    }
}

/// Test support: make the server expire our current session the way Curator's `KillSession`
/// does (a second client joins the session and closes it). The actor then sees `Expired`.
#[cfg(feature = "testkit")]
#[derive(Clone, Debug, Message)]
#[rtype(result = "Result<(), ZkError>")]
pub struct ExpireSessionForTest;

#[cfg(feature = "testkit")]
impl Handler<ExpireSessionForTest> for ZkSession {
    type Result = ResponseFuture<Result<(), ZkError>>;

    fn handle(&mut self, _msg: ExpireSessionForTest, _ctx: &mut Context<Self>) -> Self::Result {
        let connect_string = self.config.connect_string().to_owned();
        let timeout = self.config.session_timeout();
        self.run(RequestKind::Other, |client| async move {
            let twin = Client::connector()
                .with_session_timeout(timeout)
                .with_session(client.session().clone())
                .connect(&connect_string)
                .await?;
            let mut watcher = twin.state_watcher();
            drop(twin);
            while !watcher.changed().await.is_terminated() {}
            Ok(())
        })
    }
}
