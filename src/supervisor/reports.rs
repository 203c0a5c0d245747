//! What the session tells the supervisor beyond the lease (connection states, failures it
//! cannot retry away), and the election's metrics.

use actix::prelude::*;

use super::lead::{Checked, Lead};
use super::{ElectionSupervisor, Lifecycle};
use crate::contender::ElectionError;
use crate::latch::GetLatchMetrics;
use crate::metrics::{ElectionMetrics, GetElectionMetrics};
use crate::port::{ConnectionStateChanged, SessionFailed};
use crate::trace::InSpanExt;

impl Checked<ConnectionStateChanged> for ElectionSupervisor {
    type Reply = ();

    fn checked(&mut self, msg: ConnectionStateChanged, _lead: Option<&Lead>, ctx: &mut Context<Self>) {
        self.set_zk_session(msg.zk_session);
        self.connection = Some(msg.state);
        if !self.running() {
            self.on_connection_after_stop(msg.state, ctx);
        }
    }
}

impl Checked<SessionFailed> for ElectionSupervisor {
    type Reply = ();

    /// The session cannot be established (credentials refused): the contenders hear it as an
    /// error; the session keeps retrying.
    fn checked(&mut self, msg: SessionFailed, _lead: Option<&Lead>, _ctx: &mut Context<Self>) {
        if self.running() {
            self.report_all(ElectionError::ZooKeeper(msg.error));
        }
    }
}

impl Checked<GetElectionMetrics> for ElectionSupervisor {
    type Reply = ResponseActFuture<Self, ElectionMetrics>;

    fn checked(&mut self, _msg: GetElectionMetrics, _lead: Option<&Lead>, _ctx: &mut Context<Self>) -> Self::Reply {
        let latch = match &self.lifecycle {
            Lifecycle::Running { latch, .. } => latch.clone(),
            Lifecycle::Stopped { .. } => None,
        };
        let fetch = async move {
            match latch {
                Some(latch) => latch.send(GetLatchMetrics).await.ok(),
                None => None,
            }
        };
        let span = self.port.span().clone();
        Box::pin(
            fetch
                .into_actor(self)
                .map(|stats, act, _ctx| {
                    let mut metrics = act.metrics.clone();
                    metrics.zk_requests = act.port.requests();
                    if let Some(stats) = stats {
                        metrics.latch_watches_fired = stats.watches_fired;
                        metrics.zk_requests += stats.requests;
                    }
                    // Looked at when answering: a lease may have lapsed meanwhile.
                    metrics.is_leader = act.with_lead(|_, lead| lead.is_some());
                    metrics
                })
                .in_span(&span),
        )
    }
}
