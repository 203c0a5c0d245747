//! The lease as the session actor keeps it: ticks that renew it from evidence that the server
//! heard us, and a timer at its end. (The lease itself, shared read-only with supervisors, is
//! `crate::port::Lease`.)
//!
//! The server expires a session one negotiated timeout after it last heard from the client.
//! The lease counts from evidence: the moment a session was established or re-established,
//! and every tick at which the client, running without a stall, still held its connection (it
//! gives a connection up after a bounded silence, so the server heard from us no earlier than
//! that bound before the tick).

use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;
use tracing::debug;

use super::{timing, Event, Live, Phase, ZkSession};

/// The session actor's record of its lease ticks: when the last one ran, and since when the
/// actor has been running without a stall.
#[derive(Debug)]
pub(super) struct LeaseTicks {
    last: Instant,
    running_since: Instant,
}

/// What a lease tick found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TickEvidence {
    /// The previous tick was too long ago: the process was paused or starved, and the client's
    /// own timers with it. Its connection state says nothing until it has run for a while.
    Stalled,
    /// The client has been running since a stall for less than a tick: not yet evidence.
    Settling,
    /// The client ran through the previous tick: at that tick (`previous`) it was connected
    /// unless it has told us otherwise since.
    Running {
        /// When the previous tick ran.
        previous: Instant,
    },
}

impl LeaseTicks {
    pub fn new(now: Instant) -> LeaseTicks {
        LeaseTicks { last: now, running_since: now }
    }

    /// Records a tick at `now`, `interval` after the one before was due.
    pub fn tick(&mut self, now: Instant, interval: Duration) -> TickEvidence {
        let previous = std::mem::replace(&mut self.last, now);
        if now.saturating_duration_since(previous) > interval * 2 {
            self.running_since = now;
            return TickEvidence::Stalled;
        }
        // The client must have had one whole tick of its own after a stall to notice silence.
        if previous < self.running_since + interval {
            return TickEvidence::Settling;
        }
        TickEvidence::Running { previous }
    }
}

impl Live {
    /// Whether hearing from the server is evidence that the ensemble keeps our session. Not
    /// from a read-only server: it lost its quorum, and the session it keeps is its own, which
    /// the quorum knows nothing of. Without evidence there is no lease: an election on such a
    /// session cannot lead.
    pub(super) fn vouches(&self) -> bool {
        self.client.state() != zookeeper_client::SessionState::ConnectedReadOnly
    }

    /// The client's tick.
    fn tick(&self) -> Duration {
        timing::client_tick(self.connection_timeout, self.client.session_timeout())
    }
}

impl ZkSession {
    /// How long the lease lasts after evidence, for `live`'s timing.
    pub(super) fn lease_span(&self, live: &Live) -> Duration {
        timing::lease_span(live.connection_timeout, live.client.session_timeout())
    }

    /// Runs a lease tick of the current client one client tick from now, and so on while it
    /// lives.
    pub(super) fn schedule_lease_tick(&self, live: &Live, ctx: &mut Context<Self>) {
        let generation = self.generation;
        ctx.run_later(live.tick(), move |act, ctx| {
            if act.generation != generation || act.phase.live().is_none() {
                return;
            }
            let _span = act.span.clone().entered();
            act.on_lease_tick(ctx);
            if let Some(live) = act.phase.live() {
                act.schedule_lease_tick(live, ctx);
            }
        });
    }

    /// Extends the lease from the previous tick if the client ran through it holding its
    /// connection, then looks whether the lease still holds.
    fn on_lease_tick(&mut self, ctx: &mut Context<Self>) {
        let connected = matches!(self.phase, Phase::Connected(_) | Phase::Unvouched(_));
        let Some(live) = self.phase.live_mut() else { return };
        let connected = connected && live.vouches();
        let tick = live.tick();
        let span = timing::lease_span(live.connection_timeout, live.client.session_timeout());
        match live.ticks.tick(Instant::now(), tick) {
            TickEvidence::Running { previous } if connected => self.lease.extend_to(previous + span),
            TickEvidence::Stalled => debug!("the session actor was stalled (process paused or starved)"),
            TickEvidence::Running { .. } | TickEvidence::Settling => {}
        }
        self.transition(Event::LeaseChecked, ctx);
    }

    /// A timer at the lease's end while it holds, unless one is armed: one wake-up per lease
    /// span at most.
    pub(super) fn arm_lease_timer(&mut self, ctx: &mut Context<Self>) {
        let (Some(until), true) = (self.lease.until(), self.lease.holds()) else { return };
        let generation = self.generation;
        let Some(live) = self.phase.live_mut() else { return };
        if live.lease_timer.is_some() {
            return;
        }
        let wait = until.saturating_duration_since(Instant::now());
        live.lease_timer = Some(ctx.run_later(wait, move |act, ctx| {
            if act.generation != generation {
                return;
            }
            let _span = act.span.clone().entered();
            if let Some(live) = act.phase.live_mut() {
                live.lease_timer = None;
            }
            act.transition(Event::LeaseChecked, ctx);
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ticks_after_a_stall_are_no_evidence_until_the_client_ran_a_whole_tick() {
        let start = Instant::now();
        let tick = 100 * MS;
        let mut ticks = LeaseTicks::new(start);
        assert_eq!(ticks.tick(start + tick, tick), TickEvidence::Settling);
        assert_eq!(ticks.tick(start + 2 * tick, tick), TickEvidence::Running { previous: start + tick });
        // Frozen for 1.5 s.
        let resumed = start + 2 * tick + 1500 * MS;
        assert_eq!(ticks.tick(resumed, tick), TickEvidence::Stalled);
        assert_eq!(ticks.tick(resumed + tick, tick), TickEvidence::Settling);
        assert_eq!(ticks.tick(resumed + 2 * tick, tick), TickEvidence::Running { previous: resumed + tick });
    }
}
