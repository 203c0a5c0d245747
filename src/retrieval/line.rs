//! Reading the line when a term begins: it is that term's line at start, and it tells how the
//! term before it ended (`History::listed`), which the term subscribers then hear.

use actix::prelude::*;
use tracing::debug;
use uuid::Uuid;

use super::{LeaderRetriever, SubscribeTerms};
use crate::candidates::{candidates, Candidate};

impl LeaderRetriever {
    /// Lists the line for the term of `leader_session` that just began, if the latch is known.
    pub(super) fn list_line(&mut self, leader_session: Uuid, ctx: &mut Context<Self>) {
        let Some(latch_path) = self.latch_path.clone() else {
            self.listed(leader_session, None);
            return;
        };
        let zookeeper = self.port.zookeeper();
        let listing = async move { candidates(zookeeper, &latch_path).await };
        ctx.spawn(listing.into_actor(self).map(move |line, act, _ctx| {
            if let Err(err) = &line {
                debug!(error = %err, "cannot list the line");
            }
            act.listed(leader_session, line.ok());
        }));
    }

    /// The line for the term of `leader_session`; tells the subscribers how the term before ended.
    fn listed(&mut self, leader_session: Uuid, line: Option<Vec<Candidate>>) {
        if let Some(ended) = self.history.listed(leader_session, line) {
            debug!(address = ended.address, end = ?ended.end, "term ended");
            super::tell_all(&mut self.term_subscribers, &ended);
        }
    }
}

impl Handler<SubscribeTerms> for LeaderRetriever {
    type Result = ();

    fn handle(&mut self, msg: SubscribeTerms, _ctx: &mut Context<Self>) {
        self.term_subscribers.push(msg.0);
    }
}
