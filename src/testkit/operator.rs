//! A ZooKeeper client for tests: what an operator, a vandal or another program does to the
//! tree while an election runs, with the same requests the election makes.
//!
//! It goes through the same seam as the election's actors (a port of its own, counted in the
//! session's metrics), so a test that deletes a latch node by hand is exactly what the latch
//! sees in production.

use actix::prelude::*;
use tracing::info_span;

use crate::port::{Op, OwnsPort, Port, WatchFired, ZooKeeper};
use crate::trace::InSpanExt;
use crate::zk::{AddWatch, Create, Delete, Exists, GetChildren, GetData, GuardedMulti, SetData, Sync, ZkError};

/// An actor that runs requests (`zk::Create`, `zk::GetChildren`, …) on a session for a test.
///
/// ```no_run
/// use zk_election::testkit::Operator;
/// use zk_election::zk::{Delete, GetChildren};
/// # async fn example(session: actix::Addr<zk_election::ZkSession>) {
/// let operator = Operator::start(&session);
/// let children = operator.send(GetChildren::new("/app/latch")).await.unwrap().unwrap();
/// for child in children {
///     operator.send(Delete::new(format!("/app/latch/{child}"))).await.unwrap().unwrap();
/// }
/// # }
/// ```
pub struct Operator {
    port: Port,
}

impl std::fmt::Debug for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator").field("requests", &self.port.requests()).finish()
    }
}

impl Operator {
    /// An operator on `zookeeper` (a session's address), started on the current arbiter.
    pub fn start(zookeeper: impl Into<ZooKeeper>) -> Addr<Operator> {
        Operator { port: Port::new(zookeeper.into(), info_span!("operator")) }.start()
    }
}

impl Actor for Operator {
    type Context = Context<Self>;
}

impl OwnsPort for Operator {
    fn port(&self) -> &Port {
        &self.port
    }
}

/// A watching read whose watch fires into `watcher`.
#[derive(Debug)]
pub struct Watched<R> {
    /// The read.
    pub request: R,
    /// Who gets the [`WatchFired`].
    pub watcher: Recipient<WatchFired>,
}

impl<R> Watched<R> {
    /// `request`, watched by `watcher`.
    pub fn new(request: R, watcher: Recipient<WatchFired>) -> Self {
        Watched { request, watcher }
    }
}

impl Operator {
    fn run<O: Op>(
        &mut self,
        op: O,
        watcher: Option<Recipient<WatchFired>>,
    ) -> ResponseActFuture<Self, Result<O::Output, ZkError>> {
        let span = self.port.span().clone();
        Box::pin(self.port.call_with(op, watcher).map(|(result, _), _, _| result).in_span(&span))
    }
}

/// `Handler<R>` (and, for watching reads, `Handler<Watched<R>>`) for each request type.
macro_rules! operator_handlers {
    (plain: $($plain:ty),*; watching: $($watching:ty),*) => {
        $(
            impl Handler<$plain> for Operator {
                type Result = ResponseActFuture<Self, <$plain as Message>::Result>;

                fn handle(&mut self, request: $plain, _ctx: &mut Context<Self>) -> Self::Result {
                    self.run(request, None)
                }
            }
        )*
        $(
            impl Message for Watched<$watching> {
                type Result = <$watching as Message>::Result;
            }

            impl Handler<Watched<$watching>> for Operator {
                type Result = ResponseActFuture<Self, <$watching as Message>::Result>;

                fn handle(&mut self, watched: Watched<$watching>, _ctx: &mut Context<Self>) -> Self::Result {
                    self.run(watched.request, Some(watched.watcher))
                }
            }
        )*
    };
}

operator_handlers!(plain: Create, Delete, Exists, GetData, GetChildren, SetData, GuardedMulti, Sync; watching: Exists, GetData, GetChildren, AddWatch);
