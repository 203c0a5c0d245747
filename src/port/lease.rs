//! The session lease: until when we can vouch that the server still holds our session.
//!
//! The server expires a session one negotiated timeout after it last *heard from* the client.
//! Noticing a dropped connection takes the client a while, and a paused process (GC, VM freeze,
//! SIGSTOP) notices nothing until it runs again, so "time since we noticed" says nothing about
//! how long the server has been waiting. The lease counts from evidence instead (the session
//! implementation decides what counts: `session/lease.rs` for the real one). Its end is a
//! monotonic instant: a process frozen past it finds it over the moment it runs again.
//!
//! Instants are tokio's, so that a simulation running on paused time sees its leases end on
//! its own clock; outside a paused runtime they are the system's monotonic clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// A read-only view of the session's lease, shared by the session (which alone extends it)
/// with the election supervisors, so that a supervisor can tell at any instant — before any
/// message could reach it after a pause — whether leadership may still be claimed.
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
    pub fn valid_until(&self) -> Option<std::time::Instant> {
        self.until().map(Instant::into_std)
    }

    /// Whether the lease holds at `at`.
    pub fn holds_at(&self, at: std::time::Instant) -> bool {
        self.holds_at_instant(Instant::from_std(at))
    }

    /// Whether the lease holds now.
    pub fn holds(&self) -> bool {
        self.holds_at_instant(Instant::now())
    }

    pub(crate) fn until(&self) -> Option<Instant> {
        match self.cell.until_nanos.load(Ordering::Acquire) {
            0 => None,
            nanos => Some(self.cell.base + Duration::from_nanos(nanos)),
        }
    }

    fn holds_at_instant(&self, at: Instant) -> bool {
        self.until().is_some_and(|until| at < until)
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

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_lease_holds_until_its_end_and_only_grows_unless_restarted() {
        let lease = Lease::new();
        let now = Instant::now();
        assert!(!lease.holds_at_instant(now), "no lease before a session");
        lease.restart_at(now + 100 * MS);
        assert!(lease.holds_at_instant(now + 99 * MS));
        assert!(!lease.holds_at_instant(now + 100 * MS));
        lease.extend_to(now + 50 * MS);
        assert_eq!(lease.until(), Some(now + 100 * MS), "extending never shortens");
        lease.restart_at(now + 10 * MS);
        assert_eq!(lease.until(), Some(now + 10 * MS), "a new session starts afresh");
        lease.end();
        assert!(!lease.holds_at_instant(now));
    }
}
