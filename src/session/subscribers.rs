//! Who hears what of the session, and what they heard last (so that only changes are pushed).

use actix::prelude::*;
use tracing::info;

use crate::port::{ConnectionStateChanged, LeaseChanged, SessionFailed};
use crate::zk::{ConnectionState, ZkError};

/// The session's audience: recipients of connection states, lease changes and failures.
#[derive(Debug, Default)]
pub(super) struct Subscribers {
    connection: Vec<Recipient<ConnectionStateChanged>>,
    lease: Vec<Recipient<LeaseChanged>>,
    failures: Vec<Recipient<SessionFailed>>,
    /// The state last pushed; `None` before the first session.
    last_state: Option<ConnectionState>,
    /// Whether the lease held when last told.
    lease_held: bool,
}

impl Subscribers {
    pub fn add_connection(&mut self, subscriber: Recipient<ConnectionStateChanged>) {
        self.connection.push(subscriber);
    }

    pub fn add_lease(&mut self, subscriber: Recipient<LeaseChanged>) {
        self.lease.push(subscriber);
    }

    pub fn add_failures(&mut self, subscriber: Recipient<SessionFailed>) {
        self.failures.push(subscriber);
    }

    pub fn last_state(&self) -> Option<ConnectionState> {
        self.last_state
    }

    /// Pushes `state` to every connection subscriber.
    pub fn announce(&mut self, state: ConnectionState, zk_session: Option<i64>, generation: u64, read_only: bool) {
        self.last_state = Some(state);
        crate::telemetry::connection_state(state);
        info!(?state, generation, read_only, "connection state");
        let event = ConnectionStateChanged { state, zk_session, generation, read_only };
        self.connection.retain(|subscriber| subscriber.connected());
        for subscriber in &self.connection {
            subscriber.do_send(event.clone());
        }
    }

    /// Tells lease subscribers that the lease holds (or not), if that changed.
    pub fn tell_lease(&mut self, holds: bool, generation: u64) {
        if holds == self.lease_held {
            return;
        }
        self.lease_held = holds;
        info!(holds, generation, "session lease changed");
        self.lease.retain(|subscriber| subscriber.connected());
        for subscriber in &self.lease {
            subscriber.do_send(LeaseChanged { holds, generation });
        }
    }

    /// Tells failure subscribers about `error`.
    pub fn report_failure(&mut self, error: ZkError, generation: u64) {
        self.failures.retain(|subscriber| subscriber.connected());
        for subscriber in &self.failures {
            subscriber.do_send(SessionFailed { error: error.clone(), generation });
        }
    }

    /// Nobody hears anything any more (the session stopped).
    pub fn clear(&mut self) {
        self.connection.clear();
        self.lease.clear();
        self.failures.clear();
    }
}
