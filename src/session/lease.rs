//! The session lease: until when we can vouch that the server still holds our session.
//!
//! The server expires a session one negotiated timeout after it last *heard from* the client.
//! Noticing a dropped connection takes the client a while, and a paused process (GC, VM freeze,
//! SIGSTOP) notices nothing until it runs again, so "time since we noticed" says nothing about
//! how long the server has been waiting. The lease counts from evidence instead: the moment a
//! session was established or re-established, and every lease tick at which the client,
//! running without a stall, still held its connection (it gives a connection up after a bounded
//! silence, so the server heard from us no earlier than that bound before the tick). Its end is
//! a monotonic instant: a process frozen past it finds it over the moment it runs again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tracing::{debug, info, warn};

use super::{timing, ConnectionState, LeaseChanged, Phase, ZkSession};

/// A read-only view of the session's lease, shared by the session actor (which alone extends
/// it) with the election supervisors, so that a supervisor can tell at any instant — before
/// any message could reach it after a pause — whether leadership may still be claimed.
#[derive(Clone, Debug)]
pub struct Lease {
    cell: Arc<LeaseCell>,
}

#[derive(Debug)]
struct LeaseCell {
    /// The instant the nanoseconds below count from.
    base: Instant,
    /// The end of the lease, in nanoseconds after `base`; 0 when there is none.
    until_nanos: AtomicU64,
}

impl PartialEq for Lease {
    fn eq(&self, other: &Lease) -> bool {
        Arc::ptr_eq(&self.cell, &other.cell)
    }
}

impl Eq for Lease {}

impl Lease {
    pub(crate) fn new() -> Lease {
        Lease { cell: Arc::new(LeaseCell { base: Instant::now(), until_nanos: AtomicU64::new(0) }) }
    }

    /// The end of the lease; `None` while no session is established.
    pub fn valid_until(&self) -> Option<Instant> {
        match self.cell.until_nanos.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(self.cell.base + Duration::from_nanos(nanos)),
        }
    }

    /// Whether the lease holds at `at`.
    pub fn holds_at(&self, at: Instant) -> bool {
        self.valid_until().is_some_and(|until| at < until)
    }

    /// Whether the lease holds now.
    pub fn holds(&self) -> bool {
        self.holds_at(Instant::now())
    }

    /// Moves the end of the lease to `until` if that is later.
    pub(crate) fn extend_to(&self, until: Instant) {
        let nanos = self.nanos(until);
        self.cell.until_nanos.fetch_max(nanos, Ordering::AcqRel);
    }

    /// Starts a lease anew (a new session: nothing of the old one's lease carries over).
    pub(crate) fn restart_at(&self, until: Instant) {
        self.cell.until_nanos.store(self.nanos(until), Ordering::Release);
    }

    /// Ends the lease (the session is gone, or the actor stopped).
    pub(crate) fn end(&self) {
        self.cell.until_nanos.store(0, Ordering::Release);
    }

    fn nanos(&self, at: Instant) -> u64 {
        // 1 ns, not 0, for an instant at or before `base`: 0 means "no lease".
        (at.saturating_duration_since(self.cell.base).as_nanos() as u64).max(1)
    }
}

/// The session actor's record of its lease ticks: when the last one ran, and since when the
/// actor has been running without a stall.
#[derive(Debug)]
pub(crate) struct LeaseTicks {
    last: Instant,
    running_since: Instant,
}

/// What a lease tick found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TickEvidence {
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
    pub(crate) fn new(now: Instant) -> LeaseTicks {
        LeaseTicks { last: now, running_since: now }
    }

    /// Records a tick at `now`, `interval` after the one before was due.
    pub(crate) fn tick(&mut self, now: Instant, interval: Duration) -> TickEvidence {
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

/// The lease as the session actor keeps it: ticks, renewals, lapses.
impl ZkSession {
    /// The lease span for the current client's timing.
    pub(super) fn lease_span_now(&self) -> Duration {
        let (_, negotiated) = self.timing();
        timing::lease_span(self.connection_timeout, negotiated)
    }

    /// Runs a lease tick of client `generation` one client tick from now.
    pub(super) fn schedule_lease_tick(&mut self, generation: u64, ctx: &mut Context<Self>) {
        let (tick, _) = self.timing();
        ctx.run_later(tick, move |act, ctx| {
            if act.generation != generation || matches!(act.phase, Phase::Connecting | Phase::Stopped) {
                return;
            }
            let _span = act.span.clone().entered();
            act.on_lease_tick(ctx);
            act.schedule_lease_tick(generation, ctx);
        });
    }

    /// Extends the lease from the previous tick if the client ran through it holding its
    /// connection, then looks whether the lease still holds.
    pub(super) fn on_lease_tick(&mut self, ctx: &mut Context<Self>) {
        let (tick, _) = self.timing();
        match self.ticks.tick(Instant::now(), tick) {
            TickEvidence::Running { previous } if matches!(self.phase, Phase::Connected | Phase::Unvouched) => {
                self.lease.extend_to(previous + self.lease_span_now());
            }
            TickEvidence::Stalled => debug!("the session actor was stalled (process paused or starved)"),
            TickEvidence::Running { .. } | TickEvidence::Settling => {}
        }
        self.lease_changed(ctx);
    }

    /// Compares the lease with what subscribers last heard and tells them of a change: a lapse
    /// while connected is announced as `Suspended`, the lease holding again as
    /// `Reconnected { same_session: true }`. Keeps a timer at the lease's end while it holds.
    pub(super) fn lease_changed(&mut self, ctx: &mut Context<Self>) {
        let holds = self.phase != Phase::Stopped && self.lease.holds();
        if holds {
            self.arm_lease_timer(ctx);
        }
        if holds == self.lease_holds {
            return;
        }
        self.lease_holds = holds;
        match (holds, &self.phase) {
            (false, Phase::Connected) => {
                warn!(generation = self.generation, "session lease lapsed while connected (process paused or starved)");
                self.phase = Phase::Unvouched;
                self.emit(ConnectionState::Suspended);
            }
            (true, Phase::Unvouched) => {
                info!(generation = self.generation, "session lease holds again");
                self.phase = Phase::Connected;
                self.emit(ConnectionState::Reconnected { same_session: true });
            }
            _ => info!(holds, generation = self.generation, "session lease changed"),
        }
        self.lease_subscribers.retain(|subscriber| subscriber.connected());
        for subscriber in &self.lease_subscribers {
            subscriber.do_send(LeaseChanged { holds, generation: self.generation });
        }
    }

    /// A timer at the lease's end, unless one is armed: one wake-up per lease span at most.
    pub(super) fn arm_lease_timer(&mut self, ctx: &mut Context<Self>) {
        if self.lease_timer.is_some() {
            return;
        }
        let Some(until) = self.lease.valid_until() else { return };
        let wait = until.saturating_duration_since(Instant::now());
        self.lease_timer = Some(ctx.run_later(wait, |act, ctx| {
            let _span = act.span.clone().entered();
            act.lease_timer = None;
            act.lease_changed(ctx);
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_lease_holds_until_its_end_and_only_grows_unless_restarted() {
        let lease = Lease::new();
        let now = Instant::now();
        assert!(!lease.holds_at(now), "no lease before a session");
        lease.restart_at(now + 100 * MS);
        assert!(lease.holds_at(now + 99 * MS));
        assert!(!lease.holds_at(now + 100 * MS));
        lease.extend_to(now + 50 * MS);
        assert_eq!(lease.valid_until(), Some(now + 100 * MS), "extending never shortens");
        lease.restart_at(now + 10 * MS);
        assert_eq!(lease.valid_until(), Some(now + 10 * MS), "a new session starts afresh");
        lease.end();
        assert!(!lease.holds_at(now));
    }

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
