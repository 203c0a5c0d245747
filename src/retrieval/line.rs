//! Reading the line when a term begins: it is that term's line at start, and it tells how the
//! term before it ended (`History::listed`), which the term subscribers then hear. When the
//! leader before is gone from the line, the latch's leave record tells whether it left or its
//! session ended: one more read, only then.

use actix::prelude::*;
use tracing::debug;
use uuid::Uuid;

use super::{LeaderRetriever, SubscribeTerms};
use crate::candidates::{candidates, Candidate};
use crate::latch::who_left;
use crate::zk::GetData;

impl LeaderRetriever {
    /// Lists the line for the term of `leader_session` that just began, if the latch is known.
    pub(super) fn list_line(&mut self, leader_session: Uuid, ctx: &mut Context<Self>) {
        let Some(latch_path) = self.latch_path.clone() else {
            self.listed(leader_session, None, None);
            return;
        };
        let zookeeper = self.port.zookeeper();
        let path = latch_path.clone();
        let listing = async move { candidates(zookeeper, &path).await };
        ctx.spawn(listing.into_actor(self).map(move |line, act, ctx| {
            let line = match line {
                Ok(line) => line,
                Err(err) => {
                    debug!(error = %err, "cannot list the line");
                    return act.listed(leader_session, None, None);
                }
            };
            if act.history.gone_before(leader_session, &line).is_none() {
                return act.listed(leader_session, Some(line), None);
            }
            let read = act.port.call(GetData::new(latch_path));
            ctx.spawn(read.map(move |(record, _), act: &mut Self, _ctx| {
                // Unreadable, the leave is not known: a record that cannot be read names nobody.
                let left = record.ok().and_then(|(data, _)| who_left(&data));
                act.listed(leader_session, Some(line), left);
            }));
        }));
    }

    /// The line for the term of `leader_session`; tells the subscribers how the term before ended.
    fn listed(&mut self, leader_session: Uuid, line: Option<Vec<Candidate>>, who_left: Option<i64>) {
        if let Some(ended) = self.history.listed(leader_session, line, who_left) {
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
