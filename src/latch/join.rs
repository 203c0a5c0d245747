//! Joining the line: creating our node (and finding it again when a create lost its answer,
//! Curator's protection mode), and deleting the nodes of ours that must go.

use actix::prelude::*;
use tracing::{debug, warn};

use super::state::{new_prefix, Link, Place};
use super::LeaderLatch;
use crate::port::Freshness;
use crate::zk::{Create, Delete, Exists, GetChildren, NodeMode, Parents, ZkError};

/// How long a cleanup that failed while the connection was up waits before it tries again.
const CLEANUP_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

impl LeaderLatch {
    /// Deletes the nodes of ours that must go, and looks for the nodes creates of unknown
    /// outcome may have made; what cannot be confirmed gone stays listed for the next attempt
    /// (after a reconnect in the same session).
    pub(super) fn delete_stale(&mut self, ctx: &mut Context<Self>) {
        if !self.link.has_session() {
            return;
        }
        for path in self.cleanup.start_deletes() {
            // Acted on even when stale: whatever the epoch, the node must go.
            self.port.ask_any(ctx, Delete::new(path.clone()), move |act, result, _, ctx| match result {
                Ok(()) | Err(ZkError::NoNode) => {
                    debug!(node = %path, "stale latch node deleted");
                    act.cleanup.deleted(&path);
                }
                Err(err) if err.is_transient() => {
                    debug!(node = %path, error = %err, "stale latch node not deleted yet");
                    act.cleanup.delete_failed(&path);
                    act.retry_cleanup_if_up(ctx);
                }
                Err(err) => {
                    warn!(node = %path, error = %err, "cannot delete stale latch node");
                    act.cleanup.deleted(&path);
                }
            });
        }
        let prefixes = self.cleanup.start_listing();
        if prefixes.is_empty() {
            return;
        }
        self.port.ask_any(ctx, GetChildren::new(self.latch_path.clone()), move |act, result, _, ctx| match result {
            Ok(children) => {
                let names: Vec<&str> = prefixes.iter().filter_map(|prefix| prefix.rsplit('/').next()).collect();
                let found = children.iter().filter(|child| names.iter().any(|name| child.starts_with(name)));
                let found: Vec<String> = found.map(|child| format!("{}/{child}", act.latch_path)).collect();
                act.cleanup.listed(&prefixes, found);
                act.delete_stale(ctx);
            }
            // No latch path: no node of ours under it either.
            Err(ZkError::NoNode) => act.cleanup.listed(&prefixes, []),
            Err(_) => {
                act.cleanup.listing_failed(&prefixes);
                act.retry_cleanup_if_up(ctx);
            }
        });
    }

    /// A cleanup request failed for want of a connection. The next reconnect tries again, but
    /// if that reconnect was handled while the request was still under way (sent while
    /// suspended, it failed only afterwards), no reconnect is coming: try again shortly.
    fn retry_cleanup_if_up(&mut self, ctx: &mut Context<Self>) {
        if self.link == Link::Up {
            ctx.run_later(CLEANUP_RETRY, |act, ctx| act.delete_stale(ctx));
        }
    }

    /// Creates our node (under the name prefix of an earlier create whose outcome is open, if
    /// any, so that a later search finds either).
    pub(super) fn create_node(&mut self, ctx: &mut Context<Self>) {
        if self.sitting_out && matches!(self.place, Place::Outside) {
            return;
        }
        // Cooling down: queue again once it is over (a join under way goes on).
        if let (Some(until), Place::Outside) = (self.cooling_until, &self.place) {
            let now = tokio::time::Instant::now();
            if now < until {
                debug!(left = ?(until - now), "cooling down before queueing again");
                let epoch = self.port.epoch();
                ctx.run_later(until - now, move |act, ctx| {
                    let _span = act.port.span().clone().entered();
                    if act.port.epoch() == epoch && act.link.has_session() && matches!(act.place, Place::Outside) {
                        act.create_node(ctx);
                    }
                });
                return;
            }
            self.cooling_until = None;
        }
        let prefix = self
            .place
            .open_prefix()
            .map_or_else(|| new_prefix(&self.latch_path, self.candidate.priority), str::to_owned);
        self.change_place(|_| Place::Joining { prefix: prefix.clone() });
        // Parents must exist: a create that makes them is several requests, and a stop's
        // listing sent among them would miss the node the last one makes. A missing latch path
        // is created first, as a step of its own ([`LeaderLatch::create_latch_path`]).
        let request =
            Create::new(prefix.clone(), self.candidate.encode(), NodeMode::EphemeralSequential).acl(self.acl.clone());
        self.port.ask_any(ctx, request, move |act, result, freshness, ctx| match freshness {
            // A reset overtook the create: the node must not linger. (A create that may have
            // landed without an answer was listed by the reset already.)
            Freshness::Stale => {
                if let Ok(created) = result {
                    act.cleanup.add_node(created.path);
                    act.delete_stale(ctx);
                }
            }
            Freshness::Current => {
                act.change_place(|_| Place::Unsure { prefix: prefix.clone() });
                match result {
                    Ok(created) => {
                        act.name_span(&created.path);
                        let _span = act.port.span().clone().entered();
                        debug!("latch node created");
                        act.stats.nodes_created += 1;
                        act.change_place(|_| {
                            Place::in_line(created.path, created.stat.czxid, created.stat.ephemeral_owner)
                        });
                        act.check_leadership(ctx);
                    }
                    Err(ZkError::ConnectionLoss | ZkError::Timeout(_)) => act.find_lost_node(ctx),
                    Err(ZkError::NoNode) => act.create_latch_path(prefix, ctx),
                    Err(err) if err.is_transient() => act.wait_for_connection(err, ctx),
                    Err(err) => act.on_error(err, ctx),
                }
            }
        });
    }

    /// The latch path is missing (a first join, or the server removed the empty container):
    /// creates it and its missing ancestors as containers, then our node. Still joining under
    /// `prefix` meanwhile, so that nothing else starts a create; no node of ours can exist yet.
    fn create_latch_path(&mut self, prefix: String, ctx: &mut Context<Self>) {
        self.change_place(|_| Place::Joining { prefix: prefix.clone() });
        let request = Create::new(self.latch_path.clone(), Vec::new(), NodeMode::Container)
            .acl(self.acl.clone())
            .parents(Parents::Container);
        self.port.ask(ctx, request, move |act, result, ctx| {
            act.change_place(|_| Place::Unsure { prefix });
            match result {
                Ok(_) | Err(ZkError::NodeExists) => act.create_node(ctx),
                Err(err) if err.is_transient() => act.wait_for_connection(err, ctx),
                Err(err) => act.on_error(err, ctx),
            }
        });
    }

    /// Takes a node our lost create left behind as ours, once its stat (its czxid) is read.
    /// Under way, this is still joining: nothing else may start a create meanwhile.
    fn adopt_found_node(&mut self, node: String, prefix: String, ctx: &mut Context<Self>) {
        self.change_place(|_| Place::Joining { prefix: prefix.clone() });
        // A reset that overtakes the read listed the prefix as stale: it finds the node.
        self.port.ask(ctx, Exists::new(node.clone()), move |act, result, ctx| {
            act.change_place(|_| Place::Unsure { prefix });
            match result {
                Ok(Some(stat)) => {
                    act.name_span(&node);
                    act.change_place(|_| Place::in_line(node, stat.czxid, stat.ephemeral_owner));
                    act.check_leadership(ctx);
                }
                // Gone since the listing (deleted by an operator): create another.
                Ok(None) => act.create_node(ctx),
                Err(err) if err.is_transient() => act.wait_for_connection(err, ctx),
                Err(err) => act.on_error(err, ctx),
            }
        });
    }

    /// After a connection loss during create, the node may exist: look for our prefix before
    /// creating another one (Curator's "protection" mode).
    pub(super) fn find_lost_node(&mut self, ctx: &mut Context<Self>) {
        let Place::Unsure { prefix } = &self.place else { return };
        let prefix = prefix.clone();
        let name_prefix = prefix.rsplit('/').next().unwrap_or_default().to_owned();
        self.change_place(|_| Place::Joining { prefix: prefix.clone() });
        let list = GetChildren::new(self.latch_path.clone());
        self.port.ask(ctx, list, move |act, result, ctx| {
            act.change_place(|_| Place::Unsure { prefix: prefix.clone() });
            match result {
                Ok(children) => match children.into_iter().find(|child| child.starts_with(&name_prefix)) {
                    Some(found) => act.adopt_found_node(format!("{}/{found}", act.latch_path), prefix, ctx),
                    None => act.create_node(ctx),
                },
                Err(ZkError::NoNode) => act.create_node(ctx),
                Err(err) if err.is_transient() => act.wait_for_connection(err, ctx),
                Err(err) => act.on_error(err, ctx),
            }
        });
    }
}
