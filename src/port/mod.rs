//! The seam between an election and ZooKeeper: the only way the latch, the leader-node cache,
//! the supervisor and the retriever reach a session.
//!
//! Two halves:
//!
//! - [`ZooKeeper`], public: a handle to something that serves ZooKeeper requests. The session
//!   actor is one ([`ZkSession`](crate::ZkSession) converts into a handle); a simulated server
//!   is another. It has no method of its own: handing it to an actor is all a user does with it.
//! - `Port`, crate-private: what each actor keeps of that handle. It sends every request the
//!   actor makes, counts it, carries the actor's `tracing` span into the continuation, and
//!   drops (or marks) an answer that arrives after the actor moved on: one counter per actor,
//!   its **epoch**, bumped whenever what it waited for stops mattering (the latch resets or
//!   closes, the supervisor revokes or stops, the cache reads again).
//!
//! A request crosses the seam as a [`Call`], which only `Port` can make, and comes back as a
//! [`Reply`]; neither can be opened outside the crate. So the rule "every request goes through
//! the port" is not kept by discipline: there is nothing else to send.

mod call;
mod events;
mod lease;

use actix::dev::ToEnvelope;
use actix::prelude::*;
use tracing::Span;

pub(crate) use call::{Answer, Op, Request, Watching};
pub use call::{Call, Reply};
pub(crate) use events::Subscription;
pub use events::{ConnectionStateChanged, LeaseChanged, SessionFailed, SessionStatus, WatchFired};
pub use lease::Lease;

use crate::trace::InSpanExt;
use crate::zk::ZkError;

/// A ZooKeeper for elections and retrievers to run against: a session actor's connection, or
/// a simulated server. Cheap to clone. Made from the address of anything that handles
/// [`Call`]: `ZooKeeper::from(session.clone())` for an `Addr<ZkSession>`, and every
/// constructor that takes `impl Into<ZooKeeper>` does that for you.
#[derive(Clone)]
pub struct ZooKeeper {
    calls: Recipient<Call>,
}

impl std::fmt::Debug for ZooKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZooKeeper").field("connected", &self.calls.connected()).finish()
    }
}

impl<A> From<Addr<A>> for ZooKeeper
where
    A: Handler<Call>,
    A::Context: ToEnvelope<A, Call>,
{
    fn from(addr: Addr<A>) -> ZooKeeper {
        ZooKeeper { calls: addr.recipient() }
    }
}

impl<A> From<&Addr<A>> for ZooKeeper
where
    A: Handler<Call>,
    A::Context: ToEnvelope<A, Call>,
{
    fn from(addr: &Addr<A>) -> ZooKeeper {
        ZooKeeper { calls: addr.clone().recipient() }
    }
}

/// Whether an answer arrived in the epoch its request was made in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Nothing the actor waited for has changed since: act on it.
    Current,
    /// The actor moved on meanwhile: the answer may only be cleaned up after.
    Stale,
}

/// An actor that reaches ZooKeeper through a [`Port`].
pub(crate) trait OwnsPort: Actor<Context = Context<Self>> {
    /// The actor's port.
    fn port(&self) -> &Port;
}

/// One actor's end of the seam: its handle, its epoch, its request count, its span.
#[derive(Debug)]
pub(crate) struct Port {
    zookeeper: ZooKeeper,
    /// Answers to requests made in another epoch are stale.
    epoch: u64,
    /// ZooKeeper requests sent (the actor's metrics).
    requests: u64,
    /// The span continuations run in.
    span: Span,
}

impl Port {
    /// A port to `zookeeper` whose continuations run in `span`.
    pub fn new(zookeeper: ZooKeeper, span: Span) -> Port {
        Port { zookeeper, epoch: 0, requests: 0, span }
    }

    /// The handle, for an actor this one starts (it makes a port of its own).
    pub fn zookeeper(&self) -> ZooKeeper {
        self.zookeeper.clone()
    }

    /// The actor's span.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Runs later continuations in `span` instead.
    pub fn set_span(&mut self, span: Span) {
        self.span = span;
    }

    /// ZooKeeper requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Moves on: every answer still outstanding becomes stale.
    pub fn next_epoch(&mut self) {
        self.epoch += 1;
    }

    /// Sends `op`; `then` runs with the answer unless the actor moved on meanwhile.
    pub fn ask<A: OwnsPort, O: Op>(
        &mut self,
        ctx: &mut Context<A>,
        op: O,
        then: impl FnOnce(&mut A, Result<O::Output, ZkError>, &mut Context<A>) + 'static,
    ) {
        let sent = self.send(op, None).map(move |(result, freshness), act, ctx| {
            if freshness == Freshness::Current {
                then(act, result, ctx);
            }
        });
        ctx.spawn(sent.in_span(&self.span));
    }

    /// Sends `op`; `then` runs with the answer and its freshness, for continuations that must
    /// clean up after a stale answer (delete a node created for an epoch that is over).
    pub fn ask_any<A: OwnsPort, O: Op>(
        &mut self,
        ctx: &mut Context<A>,
        op: O,
        then: impl FnOnce(&mut A, Result<O::Output, ZkError>, Freshness, &mut Context<A>) + 'static,
    ) {
        let sent = self.send(op, None).map(move |(result, freshness), act, ctx| then(act, result, freshness, ctx));
        ctx.spawn(sent.in_span(&self.span));
    }

    /// Sends the watching read `op`: the watch it sets fires into the actor as a
    /// [`WatchFired`]; `then` runs with the answer unless the actor moved on meanwhile.
    pub fn watch<A, O>(
        &mut self,
        ctx: &mut Context<A>,
        op: O,
        then: impl FnOnce(&mut A, Result<O::Output, ZkError>, &mut Context<A>) + 'static,
    ) where
        A: OwnsPort + Handler<WatchFired>,
        O: Watching,
    {
        let watcher = ctx.address().recipient();
        let sent = self.send(op, Some(watcher)).map(move |(result, freshness), act, ctx| {
            if freshness == Freshness::Current {
                then(act, result, ctx);
            }
        });
        ctx.spawn(sent.in_span(&self.span));
    }

    /// Sends `op` and answers a future of the answer and its freshness, for a handler whose
    /// own answer is the request's. The future runs in the actor's span; what is chained onto
    /// it runs in the span the caller gives the whole.
    pub fn call<A: OwnsPort, O: Op>(
        &mut self,
        op: O,
    ) -> impl ActorFuture<A, Output = (Result<O::Output, ZkError>, Freshness)> + 'static {
        let span = self.span.clone();
        self.send(op, None).in_span(&span)
    }

    /// Sends `op` (a watching read when `watcher` is given, whose watch fires into it) and
    /// answers a future of the answer and its freshness (test support).
    #[cfg(feature = "testkit")]
    pub fn call_with<A: OwnsPort, O: Op>(
        &mut self,
        op: O,
        watcher: Option<Recipient<WatchFired>>,
    ) -> impl ActorFuture<A, Output = (Result<O::Output, ZkError>, Freshness)> + 'static {
        self.send(op, watcher)
    }

    /// Subscribes to the session; the actor takes no other message until `then` has run with
    /// the status (or the error: the implementation is gone).
    pub fn subscribe<A: OwnsPort>(
        &mut self,
        ctx: &mut Context<A>,
        subscription: Subscription,
        then: impl FnOnce(&mut A, Result<crate::port::SessionStatus, ZkError>, &mut Context<A>) + 'static,
    ) {
        let sent = self.send(subscription, None).map(move |(result, _), act, ctx| then(act, result, ctx));
        ctx.wait(sent.in_span(&self.span));
    }

    fn send<A: OwnsPort, O: Op>(
        &mut self,
        op: O,
        watch: Option<Recipient<WatchFired>>,
    ) -> impl ActorFuture<A, Output = (Result<O::Output, ZkError>, Freshness)> + 'static {
        let request = op.into_request();
        if request.kind().is_some() {
            self.requests += 1;
        }
        let epoch = self.epoch;
        let sent = self.zookeeper.calls.send(Call { request, watch });
        let answer = async move { O::answer(sent.await.map_err(ZkError::from).and_then(|reply| reply)) };
        actix::fut::wrap_future::<_, A>(answer).map(move |result, act: &mut A, _ctx| {
            let freshness = if act.port().epoch == epoch { Freshness::Current } else { Freshness::Stale };
            (result, freshness)
        })
    }
}
