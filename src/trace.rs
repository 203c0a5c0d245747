//! Spans for actor continuations.
//!
//! Every actor keeps a `tracing` span naming what it serves (election path, ZooKeeper session
//! ID, latch node, leader path). Handlers enter it directly; the closures an actor runs when a
//! ZooKeeper answer arrives run later, outside any handler, so their futures carry the span
//! with them ([`InSpanExt::in_span`]).

use std::pin::Pin;
use std::task::{Context, Poll};

use actix::{Actor, ActorFuture};
use pin_project_lite::pin_project;
use tracing::Span;

pin_project! {
    /// An actor future that runs inside `span` every time it is polled.
    pub(crate) struct InSpan<F> {
        span: Span,
        #[pin]
        inner: F,
    }
}

impl<A: Actor, F: ActorFuture<A>> ActorFuture<A> for InSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, act: &mut A, ctx: &mut A::Context, task: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        this.inner.poll(act, ctx, task)
    }
}

/// Adds [`in_span`](InSpanExt::in_span) to every actor future.
pub(crate) trait InSpanExt<A: Actor>: ActorFuture<A> + Sized {
    /// Runs this future (and the closures chained onto it) inside `span`.
    fn in_span(self, span: &Span) -> InSpan<Self> {
        InSpan { span: span.clone(), inner: self }
    }
}

impl<A: Actor, F: ActorFuture<A>> InSpanExt<A> for F {}
