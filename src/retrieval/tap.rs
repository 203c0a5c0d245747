//! One cache incarnation's owner: what the cache reports, tagged with the epoch of the session
//! it read in, so that nothing read in a lost session reaches the retriever as current.

use actix::prelude::*;

use super::LeaderRetriever;
use crate::node_cache::{NodeChanged, NodeView};

/// A node change tagged with the cache incarnation that saw it (internal).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct TaggedNodeChange {
    pub(super) epoch: u64,
    pub(super) view: NodeView,
}

/// The owner of one cache incarnation: tags what the cache reports with its epoch. Stops with
/// the cache, which holds its only address.
pub(super) struct CacheTap {
    pub(super) epoch: u64,
    pub(super) retriever: Addr<LeaderRetriever>,
}

impl Actor for CacheTap {
    type Context = Context<Self>;
}

impl Handler<NodeChanged> for CacheTap {
    type Result = ();

    fn handle(&mut self, msg: NodeChanged, _ctx: &mut Context<Self>) {
        self.retriever.do_send(TaggedNodeChange { epoch: self.epoch, view: msg.view });
    }
}
