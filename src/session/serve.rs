//! How the session actor serves the requests of [`super::requests`]: each on the current
//! client with a deadline, counted by kind, connection errors told apart from answers, and
//! one-shot watches forwarded as [`WatchFired`] messages.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;

use actix::prelude::*;
use zookeeper_client::{Client, OneshotWatcher};

use super::requests::*;
use super::ZkSession;
use crate::error::ZkError;

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
        crate::telemetry::zk_request(kind);
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
    let path = if msg.mode.is_sequential() {
        // Sized up front: `format!` would grow it by doubling, and a latch keeps this string for
        // as long as it stands in line (about 60 bytes wasted per election otherwise).
        let mut path = String::with_capacity(msg.path.len() + 10);
        path.push_str(&msg.path);
        let _ = write!(path, "{sequence}");
        path
    } else {
        msg.path.clone()
    };
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
