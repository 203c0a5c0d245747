//! One way for an actor to ask the session actor something: send the request, count it, carry
//! the actor's span into the continuation, flatten the mailbox error into [`ZkError`], and drop
//! an answer that arrives after the actor moved on.
//!
//! "Moved on" is one counter per actor, its **epoch**, bumped whenever what the actor waits for
//! stops mattering (the latch resets or closes, the supervisor revokes or stops, the cache reads
//! again): an answer to a request made in an older epoch is stale and never reaches the
//! continuation.

use actix::prelude::*;
use tracing::Span;

use crate::error::ZkError;
use crate::session::ZkSession;
use crate::trace::InSpanExt;

/// An actor that asks the session actor and knows when an answer is stale.
pub(crate) trait AsksSession: Actor<Context = Context<Self>> {
    /// The session actor to ask.
    fn session(&self) -> &Addr<ZkSession>;
    /// The current epoch; answers to requests made in another one are dropped.
    fn epoch(&self) -> u64;
    /// The span continuations run in.
    fn span(&self) -> &Span;
    /// Counts one request sent (each actor's metrics).
    fn count_request(&mut self);

    /// Sends `request`; `then` runs with the answer if the epoch is still the one it was sent
    /// in.
    fn ask<M, T>(
        &mut self,
        ctx: &mut Context<Self>,
        request: M,
        then: impl FnOnce(&mut Self, Result<T, ZkError>, &mut Context<Self>) + 'static,
    ) where
        M: Message<Result = Result<T, ZkError>> + Send + 'static,
        T: Send + 'static,
        ZkSession: Handler<M>,
    {
        self.ask_any(ctx, request, move |act, result, current, ctx| {
            if current {
                then(act, result, ctx);
            }
        });
    }

    /// Sends `request`; `then` runs with the answer and whether the epoch is still the one it
    /// was sent in (for continuations that must clean up after a stale answer, e.g. delete a
    /// node created for an epoch that is over).
    fn ask_any<M, T>(
        &mut self,
        ctx: &mut Context<Self>,
        request: M,
        then: impl FnOnce(&mut Self, Result<T, ZkError>, bool, &mut Context<Self>) + 'static,
    ) where
        M: Message<Result = Result<T, ZkError>> + Send + 'static,
        T: Send + 'static,
        ZkSession: Handler<M>,
    {
        self.count_request();
        let epoch = self.epoch();
        let span = self.span().clone();
        let send = self.session().send(request);
        ctx.spawn(
            send.into_actor(self)
                .map(move |result, act, ctx| {
                    let current = act.epoch() == epoch;
                    then(act, result.map_err(ZkError::from).and_then(|r| r), current, ctx);
                })
                .in_span(&span),
        );
    }
}
