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
