//! Keeping our place valid: the two watches, and picking up after connection states,
//! connection trouble and errors.

use std::time::Duration;

use actix::prelude::*;
use tracing::{debug, warn};

use super::state::{Link, OwnWatch, Place, Standing, WatchSlot};
use super::{LatchEvent, LeaderLatch};
use crate::policy::ConnectionLossPolicy;
use crate::zk::{ConnectionState, GetData, ZkError};

/// Pause before retrying after an error that is not about the connection (e.g. an ACL denial).
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(1);

impl LeaderLatch {
    /// A request failed because of the connection. The next `Reconnected` resumes; should the
    /// connection in fact be up (a disconnect too short to be reported), resume after a pause.
    pub(super) fn wait_for_connection(&mut self, err: ZkError, ctx: &mut Context<Self>) {
        debug!(error = %err, "latch waits for the connection");
        let epoch = self.port.epoch();
        ctx.run_later(RETRY_AFTER_ERROR, move |act, ctx| {
            let _span = act.port.span().clone().entered();
            if act.port.epoch() == epoch && act.link == Link::Up {
                act.resume(ctx);
            }
        });
    }

    /// Picks up where we are after the connection came back in the same session.
    pub(super) fn resume(&mut self, ctx: &mut Context<Self>) {
        self.delete_stale(ctx);
        match &mut self.place {
            // The create or search under way decides.
            Place::Joining { .. } => {}
            Place::InLine { standing, .. } => {
                // The predecessor's watch may not have survived; look again.
                if let Standing::Behind { watching } = standing {
                    *watching = None;
                }
                self.check_leadership(ctx);
            }
            // The create may have landed without an answer: look before creating another.
            Place::Unsure { .. } => self.find_lost_node(ctx),
            Place::Outside => self.reset(ctx),
        }
    }

    /// Marks the watch `slot` as armed on `path`; false if it already was (or we are not in
    /// line).
    fn claim_watch(&mut self, slot: WatchSlot, path: &str) -> bool {
        let Place::InLine { node, standing } = &mut self.place else { return false };
        match (slot, standing) {
            (WatchSlot::Predecessor, Standing::Behind { watching }) if watching.as_deref() != Some(path) => {
                *watching = Some(path.to_owned());
            }
            (WatchSlot::OwnNode, _) if node.watch == OwnWatch::Unarmed => node.watch = OwnWatch::Armed,
            _ => return false,
        }
        true
    }

    /// Forgets the watch `slot` (it fired, or could not be set).
    pub(super) fn release_watch(&mut self, slot: WatchSlot) {
        let Place::InLine { node, standing } = &mut self.place else { return };
        match (slot, standing) {
            (WatchSlot::Predecessor, Standing::Behind { watching }) => *watching = None,
            (WatchSlot::OwnNode, _) => node.watch = OwnWatch::Unarmed,
            (WatchSlot::Predecessor, Standing::First) => {}
        }
    }

    /// Sets a data watch on `path` unless one is armed there already; if the node is already
    /// gone, re-checks at once.
    pub(super) fn arm_watch(&mut self, slot: WatchSlot, path: String, ctx: &mut Context<Self>) {
        if !self.claim_watch(slot, &path) {
            return;
        }
        self.port.watch(ctx, GetData::new(path), move |act, result, ctx| {
            let Err(err) = result else { return };
            act.release_watch(slot);
            match err {
                ZkError::NoNode => act.check_leadership(ctx),
                err if err.is_transient() => act.wait_for_connection(err, ctx),
                err => act.on_error(err, ctx),
            }
        });
    }

    pub(super) fn on_error(&mut self, err: ZkError, ctx: &mut Context<Self>) {
        warn!(error = %err, "latch operation failed; retrying");
        self.owner.do_send(LatchEvent::Failed(err));
        let epoch = self.port.epoch();
        ctx.run_later(RETRY_AFTER_ERROR, move |act, ctx| {
            let _span = act.port.span().clone().entered();
            if act.port.epoch() != epoch {
                return;
            }
            match act.place {
                Place::InLine { .. } => act.check_leadership(ctx),
                Place::Joining { .. } => {}
                Place::Outside | Place::Unsure { .. } => act.create_node(ctx),
            }
        });
    }

    pub(super) fn on_connection(&mut self, state: ConnectionState, ctx: &mut Context<Self>) {
        match state {
            ConnectionState::Connected => {
                self.link = Link::Up;
                self.reset(ctx);
            }
            ConnectionState::Suspended => {
                self.link = Link::Suspended;
                if self.policy == ConnectionLossPolicy::Standard {
                    self.stand(Standing::Behind { watching: None });
                }
            }
            ConnectionState::Reconnected { same_session: true } => {
                self.link = Link::Up;
                // Our node and watches survived; a check restores leadership if we still lead
                // (Standard) or confirms we still do (SessionTolerant, which never let go).
                self.resume(ctx);
            }
            ConnectionState::Reconnected { same_session: false } => {
                self.link = Link::Up;
                // Whatever the old session owned is gone (or goes when the server expires it).
                self.cleanup.forget();
                self.reset(ctx);
            }
            ConnectionState::Lost => {
                self.link = Link::Down;
                self.cleanup.forget();
                // The node (if any) went with the session; the reset after the reconnect
                // lists it as stale all the same. Watches and requests under way are void.
                self.change_place(|place| match place {
                    Place::InLine { node, .. } => Place::in_line(node.path, node.czxid, node.owner),
                    Place::Joining { prefix } => Place::Unsure { prefix },
                    other => other,
                });
            }
        }
    }
}
