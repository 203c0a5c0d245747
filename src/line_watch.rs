//! The line watch: while we lead, the latch's children, so that the leader sees a candidate of
//! higher priority join (preemption). One per hold of the latch, stopped when it ends; only the
//! leader watches, so a join wakes one process.
//!
//! A candidate's priority is part of its node's name, so the listing is all it takes: no node
//! is read.

use actix::prelude::*;
use tracing::{debug, info_span};

use crate::latch::participants_in_order;
use crate::port::{ConnectionStateChanged, OwnsPort, Port, Subscription, WatchFired, ZooKeeper};
use crate::zk::{ConnectionState, GetChildren};

/// Pause before listing again after a listing that failed.
const RETRY_LIST: std::time::Duration = std::time::Duration::from_millis(500);

/// The line, in order, as the watch last listed it; sent to the owner after every listing.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct LineChanged {
    /// The latch node whose hold this watch serves.
    pub latch_node: String,
    /// The latch nodes' names, first in line first.
    pub line: Vec<String>,
}

/// Stop watching. The watch set last fires into nothing.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "()")]
pub struct StopLineWatch;

/// The watch of one latch path for one hold of it.
pub struct LineWatch {
    port: Port,
    latch_path: String,
    latch_node: String,
    owner: Recipient<LineChanged>,
}

impl LineWatch {
    /// Watches `latch_path` for the hold of `latch_node`, telling `owner`.
    pub fn start(
        zookeeper: ZooKeeper,
        latch_path: String,
        latch_node: String,
        owner: Recipient<LineChanged>,
    ) -> Addr<LineWatch> {
        let span = info_span!("line_watch", latch = %latch_path);
        LineWatch { port: Port::new(zookeeper, span), latch_path, latch_node, owner }.start()
    }

    fn list(&mut self, ctx: &mut Context<Self>) {
        self.port.watch(ctx, GetChildren::new(self.latch_path.clone()), |act, result, ctx| match result {
            Ok(children) => {
                let line = participants_in_order(&children).into_iter().map(str::to_owned).collect();
                act.owner.do_send(LineChanged { latch_node: act.latch_node.clone(), line });
            }
            // Reconnects list again; anything else is tried again shortly.
            Err(err) if err.is_transient() => debug!(error = %err, "line not listed; waiting for the connection"),
            Err(err) => {
                debug!(error = %err, "line not listed; trying again");
                ctx.run_later(RETRY_LIST, |act, ctx| act.list(ctx));
            }
        });
    }
}

impl OwnsPort for LineWatch {
    fn port(&self) -> &Port {
        &self.port
    }
}

impl Actor for LineWatch {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let subscription = Subscription::connection(ctx.address().recipient());
        self.port.subscribe(ctx, subscription, |act, status, ctx| match status {
            Ok(status) if status.is_connected() => act.list(ctx),
            Ok(_) => {}
            Err(_) => ctx.stop(),
        });
    }
}

impl Handler<WatchFired> for LineWatch {
    type Result = ();

    fn handle(&mut self, _msg: WatchFired, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        self.list(ctx);
    }
}

impl Handler<ConnectionStateChanged> for LineWatch {
    type Result = ();

    /// A watch set before a lost connection may be gone with it: list again once back.
    fn handle(&mut self, msg: ConnectionStateChanged, ctx: &mut Context<Self>) {
        let _span = self.port.span().clone().entered();
        if matches!(msg.state, ConnectionState::Connected | ConnectionState::Reconnected { .. }) {
            self.list(ctx);
        }
    }
}

impl Handler<StopLineWatch> for LineWatch {
    type Result = ();

    fn handle(&mut self, _msg: StopLineWatch, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
