//! How the session actor serves the calls that reach it through the seam: each request on the
//! current client with a deadline, counted by kind, errors translated, and one-shot watches
//! forwarded as [`WatchFired`] messages.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;

use actix::prelude::*;
use zookeeper_client::{AddWatchMode, Client, EventType, MultiWriteResult, OneshotWatcher, PersistentWatcher};

use super::convert::{self, ClientAcl};
use super::ZkSession;
use crate::port::{Answer, Call, Reply, Request, Subscription, WatchFired};
use crate::zk::{
    Create, Created, GuardedMulti, NodeAcl, NodeMode, Parents, RequestKind, WatchEvent, WriteOp, WriteResult, ZkError,
};

/// Boxed future answered by the request handlers.
type Pending = Pin<Box<dyn Future<Output = Result<Answer, ZkError>>>>;

impl Handler<Call> for ZkSession {
    type Result = ResponseFuture<Result<Reply, ZkError>>;

    fn handle(&mut self, call: Call, ctx: &mut Context<Self>) -> Self::Result {
        let Call { request, watch } = call;
        let pending = match request {
            Request::Subscribe(subscription) => self.subscribe(subscription),
            request => self.serve(request, watch, ctx),
        };
        Box::pin(async move { pending.await.map(Reply) })
    }
}

impl ZkSession {
    fn subscribe(&mut self, subscription: Subscription) -> Pending {
        let Subscription { connection, lease, failures } = subscription;
        self.subscribers.add_connection(connection);
        if let Some(lease) = lease {
            self.subscribers.add_lease(lease);
        }
        if let Some(failures) = failures {
            self.subscribers.add_failures(failures);
        }
        let status = self.status();
        Box::pin(async move { Ok(Answer::Subscribed(status)) })
    }

    /// Runs `request` on a clone of the current client within the request deadline.
    fn serve(&mut self, request: Request, watch: Option<Recipient<WatchFired>>, ctx: &mut Context<Self>) -> Pending {
        let kind = request.kind().unwrap_or(RequestKind::Other);
        *self.metrics.requests.entry(kind).or_default() += 1;
        crate::telemetry::zk_request(kind);
        let deadline = self.config.request_timeout();
        let Some(client) = self.client().cloned() else {
            return Box::pin(async { Err(ZkError::NotConnected) });
        };
        // Watches are tagged with the generation in force when they are set.
        let forward = watch.map(|recipient| WatchForward { recipient, generation: self.generation, me: ctx.address() });
        Box::pin(async move {
            match tokio::time::timeout(deadline, run(client, request, forward)).await {
                Ok(answer) => answer,
                Err(_) => Err(ZkError::Timeout(deadline)),
            }
        })
    }
}

/// Where a watch set by a request is forwarded when it fires.
struct WatchForward {
    recipient: Recipient<WatchFired>,
    generation: u64,
    /// The session, which spawns the forwarding task on its own arbiter.
    me: Addr<ZkSession>,
}

impl WatchForward {
    fn arm(self, path: String, watcher: impl Into<Watcher>) {
        let watcher = watcher.into();
        self.me.do_send(ForwardWatch { path, watcher, recipient: self.recipient, generation: self.generation });
    }
}

/// A watch the client set: fires once, or until the session ends.
enum Watcher {
    Oneshot(OneshotWatcher),
    Persistent(PersistentWatcher),
}

impl From<OneshotWatcher> for Watcher {
    fn from(watcher: OneshotWatcher) -> Watcher {
        Watcher::Oneshot(watcher)
    }
}

impl From<PersistentWatcher> for Watcher {
    fn from(watcher: PersistentWatcher) -> Watcher {
        Watcher::Persistent(watcher)
    }
}

/// Runs one request on `client`.
async fn run(client: Client, request: Request, watch: Option<WatchForward>) -> Result<Answer, ZkError> {
    let failed = convert::request_error;
    Ok(match request {
        Request::Create(create) => Answer::Created(create_with_parents(&client, &create).await?),
        Request::Delete(delete) => {
            client.delete(&delete.path, delete.version).await.map_err(failed)?;
            Answer::Deleted
        }
        Request::Exists(exists) => match watch {
            None => Answer::Stat(client.check_stat(&exists.path).await.map_err(failed)?.as_ref().map(convert::stat)),
            Some(forward) => {
                let (stat, watcher) = client.check_and_watch_stat(&exists.path).await.map_err(failed)?;
                forward.arm(exists.path, watcher);
                Answer::Stat(stat.as_ref().map(convert::stat))
            }
        },
        Request::GetData(get) => match watch {
            None => {
                let (data, stat) = client.get_data(&get.path).await.map_err(failed)?;
                Answer::Data(data, convert::stat(&stat))
            }
            Some(forward) => {
                let (data, stat, watcher) = client.get_and_watch_data(&get.path).await.map_err(failed)?;
                forward.arm(get.path, watcher);
                Answer::Data(data, convert::stat(&stat))
            }
        },
        Request::GetChildren(list) => match watch {
            None => Answer::Children(client.list_children(&list.path).await.map_err(failed)?),
            Some(forward) => {
                let (children, watcher) = client.list_and_watch_children(&list.path).await.map_err(failed)?;
                forward.arm(list.path, watcher);
                Answer::Children(children)
            }
        },
        Request::SetData(set) => {
            Answer::Updated(convert::stat(&client.set_data(&set.path, &set.data, set.version).await.map_err(failed)?))
        }
        Request::Multi(multi) => Answer::Wrote(guarded_multi(&client, multi).await?),
        Request::Sync(sync) => {
            client.sync(&sync.path).await.map_err(failed)?;
            Answer::Synced
        }
        Request::AddWatch(add) => {
            let Some(forward) = watch else {
                return Err(ZkError::Unexpected("a persistent watch that nobody hears".into()));
            };
            let watcher = client.watch(&add.path, AddWatchMode::Persistent).await.map_err(failed)?;
            forward.arm(add.path, watcher);
            Answer::Watching
        }
        Request::Subscribe(_) => return Err(ZkError::Unexpected("a subscription served as a request".into())),
    })
}

/// Creates the node, and its missing parents if the request says how.
async fn create_with_parents(client: &Client, create: &Create) -> Result<Created, ZkError> {
    match create_node(client, create).await {
        Err(ZkError::NoNode) if create.parents != Parents::MustExist => {
            create_ancestors(client, &create.path, create.parents, &create.acl).await?;
            create_node(client, create).await
        }
        other => other,
    }
}

async fn create_node(client: &Client, msg: &Create) -> Result<Created, ZkError> {
    let acl = ClientAcl::new(&msg.acl);
    let (stat, sequence) =
        client.create(&msg.path, &msg.data, &acl.options(msg.mode)).await.map_err(convert::request_error)?;
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
    Ok(Created { path, stat: convert::stat(&stat) })
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
    let acl = ClientAcl::new(acl);
    let options = acl.options(mode);
    // Proper ancestors below the root, deepest first: "/a/b/c" → ["/a/b", "/a"].
    let mut ancestors: Vec<&str> = path.match_indices('/').skip(1).map(|(end, _)| &path[..end]).collect();
    ancestors.reverse();
    let mut missing = 0;
    while let Some(ancestor) = ancestors.get(missing) {
        match client.create(ancestor, &[], &options).await {
            Ok(_) | Err(zookeeper_client::Error::NodeExists) => break,
            Err(zookeeper_client::Error::NoNode) => missing += 1,
            Err(err) => return Err(convert::request_error(err)),
        }
    }
    // The ones that failed for want of a parent, now that it exists, shallowest first.
    for ancestor in ancestors[..missing].iter().rev() {
        match client.create(ancestor, &[], &options).await {
            Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
            Err(err) => return Err(convert::request_error(err)),
        }
    }
    Ok(())
}

async fn guarded_multi(client: &Client, multi: GuardedMulti) -> Result<Vec<WriteResult>, ZkError> {
    use zookeeper_client::CheckWriteError as E;
    let failed = convert::request_error;
    // The create ops borrow their ACLs: translate them first (one per op; only creates use it).
    let acls: Vec<ClientAcl> = multi
        .ops
        .iter()
        .map(|op| match op {
            WriteOp::Create { acl, .. } => ClientAcl::new(acl),
            _ => ClientAcl::AnyoneAll,
        })
        .collect();
    let mut writer = client.new_check_writer(&multi.guard, multi.guard_version).map_err(failed)?;
    for (op, acl) in multi.ops.iter().zip(&acls) {
        match op {
            WriteOp::Create { path, data, mode, .. } => writer.add_create(path, data, &acl.options(*mode)),
            WriteOp::SetData { path, data, version } => writer.add_set_data(path, data, *version),
            WriteOp::Delete { path, version } => writer.add_delete(path, *version),
            // ZooKeeper's check with version -1 checks existence only.
            WriteOp::Check { path, version } => writer.add_check_version(path, version.unwrap_or(-1)),
        }
        .map_err(failed)?;
    }
    match writer.commit().await {
        Ok(results) => Ok(results
            .into_iter()
            .map(|result| match result {
                MultiWriteResult::Create { path, stat } => {
                    WriteResult::Created { path, stat: (!stat.is_invalid()).then(|| convert::stat(&stat)) }
                }
                MultiWriteResult::SetData { stat } => WriteResult::Updated { stat: convert::stat(&stat) },
                MultiWriteResult::Check => WriteResult::Checked,
                // Only deletes remain: the guard's check is not among the results.
                _ => WriteResult::Deleted,
            })
            .collect()),
        Err(E::CheckFailed { source: zookeeper_client::Error::NoNode | zookeeper_client::Error::BadVersion }) => {
            Err(ZkError::GuardFailed { path: multi.guard })
        }
        Err(E::CheckFailed { source } | E::RequestFailed { source } | E::OperationFailed { source, .. }) => {
            Err(failed(source))
        }
    }
}

/// Internal: hand a freshly set watcher to the actor so it is forwarded from its arbiter.
#[derive(Message)]
#[rtype(result = "()")]
struct ForwardWatch {
    path: String,
    watcher: Watcher,
    recipient: Recipient<WatchFired>,
    generation: u64,
}

impl Handler<ForwardWatch> for ZkSession {
    type Result = ();

    fn handle(&mut self, msg: ForwardWatch, _ctx: &mut Context<Self>) {
        let ForwardWatch { path, watcher, recipient, generation } = msg;
        match watcher {
            Watcher::Oneshot(watcher) => actix::spawn(async move {
                let fired = watcher.changed().await;
                recipient.do_send(WatchFired { path, event: convert::watch_event(fired.event_type), generation });
            }),
            // Until the session ends (the watcher panics if asked after that), or nobody listens.
            Watcher::Persistent(mut watcher) => actix::spawn(async move {
                loop {
                    let fired = watcher.changed().await;
                    if fired.event_type == EventType::Session {
                        if fired.session_state.is_terminated() {
                            recipient.do_send(WatchFired { path, event: WatchEvent::SessionEnded, generation });
                            break;
                        }
                        continue; // a disconnect or reconnect: the owner hears of it from us
                    }
                    if !recipient.connected() {
                        break;
                    }
                    let event = convert::watch_event(fired.event_type);
                    recipient.do_send(WatchFired { path: path.clone(), event, generation });
                }
            }),
        };
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
        let deadline = self.config.request_timeout();
        *self.metrics.requests.entry(RequestKind::Other).or_default() += 1;
        let Some(client) = self.client().cloned() else {
            return Box::pin(async { Err(ZkError::NotConnected) });
        };
        Box::pin(async move {
            let expire = async {
                let twin = Client::connector()
                    .with_session_timeout(timeout)
                    .with_session(client.session().clone())
                    .connect(&connect_string)
                    .await
                    .map_err(convert::error)?;
                let mut watcher = twin.state_watcher();
                drop(twin);
                while !watcher.changed().await.is_terminated() {}
                Ok(())
            };
            tokio::time::timeout(deadline, expire).await.unwrap_or(Err(ZkError::Timeout(deadline)))
        })
    }
}
