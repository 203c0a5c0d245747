//! How the simulated session follows its connection: what arrives on it, its closing, and the
//! tick that pings, notices silence, reconnects, ends requests past their deadline and watches
//! the lease.

use std::time::Duration;

use tokio::time::Instant;

use super::{Phase, Session, SimSession};
use crate::port::{Reply, WatchFired};
use crate::simulation::wire::{ConnId, Down, Up};
use crate::zk::{ConnectionState, ZkError};

impl SimSession {
    pub(super) fn on_down(&mut self, conn: ConnId, down: Down) {
        let now = Instant::now();
        match (std::mem::replace(&mut self.phase, Phase::Stopped), down) {
            (Phase::Opening { conn: Some((attempt, sent)), after_loss }, Down::Connected { session: id, timeout })
                if attempt == conn =>
            {
                let session = Session { id, timeout };
                self.attempts = 0;
                self.phase = Phase::Connected { session, conn, last_received: now, last_sent: sent, vouched: true };
                self.lease.restart_at(sent + timeout - timeout / 8);
                self.tell_lease();
                self.announce(if after_loss {
                    ConnectionState::Reconnected { same_session: false }
                } else {
                    ConnectionState::Connected
                });
            }
            (
                Phase::Suspended { session, conn: Some((attempt, sent)), lost_at },
                Down::Connected { session: id, timeout },
            ) if attempt == conn => {
                self.attempts = 0;
                if id != session.id && self.detect_new_session_ids {
                    // The server handed out another session without saying the old one ended:
                    // everything of the old one is as good as lost.
                    self.phase = Phase::Suspended { session, conn: None, lost_at };
                    self.lose();
                    let session = Session { id, timeout };
                    self.phase = Phase::Connected { session, conn, last_received: now, last_sent: sent, vouched: true };
                    self.lease.restart_at(sent + timeout - timeout / 8);
                    self.tell_lease();
                    self.announce(ConnectionState::Reconnected { same_session: false });
                    return;
                }
                let session = Session { id, timeout };
                self.phase = Phase::Connected { session, conn, last_received: now, last_sent: sent, vouched: true };
                self.evidence(sent, session);
                self.tell_lease();
                self.announce(ConnectionState::Reconnected { same_session: true });
            }
            (Phase::Suspended { session, conn: Some((attempt, _)), lost_at }, Down::Expired) if attempt == conn => {
                self.phase = Phase::Suspended { session, conn: None, lost_at };
                self.lose();
            }
            (Phase::Connected { session, conn: current, last_sent, vouched, .. }, down) if current == conn => {
                self.phase = Phase::Connected { session, conn, last_received: now, last_sent, vouched };
                match down {
                    Down::Answer { xid, result } => {
                        if let Some(pending) = self.pending.remove(&xid) {
                            self.evidence(pending.sent, session);
                            if let (Some(watch), Err(_)) = (pending.watch, &result) {
                                self.watches.remove(&watch);
                            }
                            let _ = pending.reply.send(result.map(Reply));
                        }
                    }
                    Down::Notify { watch, path, event } => {
                        if let Some((_, recipient)) = self.watches.remove(&watch) {
                            recipient.do_send(WatchFired { path, event, generation: self.generation });
                        }
                    }
                    Down::Pong { id } => {
                        if let Some(sent) = self.pings.remove(&id) {
                            self.evidence(sent, session);
                        }
                    }
                    Down::Connected { .. } | Down::Expired => {}
                }
                self.vouch();
            }
            (phase, _) => self.phase = phase,
        }
    }

    /// The lease lapsed while connected: announced as `Suspended` (as `ZkSession`'s
    /// `Unvouched`), until evidence makes it hold again ([`SimSession::vouch`]).
    pub(super) fn unvouch_if_lapsed(&mut self) {
        let lapsed = !self.lease.holds();
        if let Phase::Connected { vouched, .. } = &mut self.phase {
            if *vouched && lapsed {
                *vouched = false;
                self.tell_lease();
                self.announce(ConnectionState::Suspended);
            }
        }
    }

    /// The lease holds again after a lapse while connected: announced like a reconnect.
    pub(super) fn vouch(&mut self) {
        let holds = self.lease.holds();
        if let Phase::Connected { vouched, .. } = &mut self.phase {
            if !*vouched && holds {
                *vouched = true;
                self.tell_lease();
                self.announce(ConnectionState::Reconnected { same_session: true });
            }
        }
    }

    pub(super) fn on_closed(&mut self, conn: ConnId) {
        match std::mem::replace(&mut self.phase, Phase::Stopped) {
            Phase::Connected { session, conn: current, vouched, .. } if current == conn => {
                self.phase = Phase::Connected {
                    session,
                    conn,
                    last_received: Instant::now(),
                    last_sent: Instant::now(),
                    vouched,
                };
                self.suspend(session, conn, vouched);
            }
            Phase::Opening { conn: Some((attempt, _)), after_loss } if attempt == conn => {
                self.attempts += 1;
                self.phase = Phase::Opening { conn: None, after_loss };
            }
            Phase::Suspended { session, conn: Some((attempt, _)), lost_at } if attempt == conn => {
                self.attempts += 1;
                self.phase = Phase::Suspended { session, conn: None, lost_at };
            }
            phase => self.phase = phase,
        }
    }

    /// Pings, silence, reconnects, deadlines, the lease.
    pub(super) fn on_tick(&mut self) {
        let now = Instant::now();
        let expired: Vec<u64> =
            self.pending.iter().filter(|(_, p)| now >= p.sent + self.request_timeout).map(|(xid, _)| *xid).collect();
        for xid in expired {
            if let Some(pending) = self.pending.remove(&xid) {
                let _ = pending.reply.send(Err(ZkError::Timeout(self.request_timeout)));
            }
        }
        // A pause between failed attempts: 50 ms, doubling to 800 ms; an attempt is given up
        // after a third of the session timeout, as `ZkSession` gives up on a connection.
        let backoff = Duration::from_millis(50 << self.attempts.min(4));
        let give_up = backoff + self.asked_timeout / 3;
        match std::mem::replace(&mut self.phase, Phase::Stopped) {
            Phase::Connected { session, conn, last_received, last_sent, vouched } => {
                self.phase = Phase::Connected { session, conn, last_received, last_sent, vouched };
                if now.saturating_duration_since(last_received) > session.timeout / 3 {
                    tracing::debug!(process = self.process, silent = ?now.saturating_duration_since(last_received), "suspending");
                    self.suspend(session, conn, vouched);
                    return;
                }
                if now.saturating_duration_since(last_sent) >= session.timeout / 6 {
                    self.next_xid += 1;
                    self.pings.insert(self.next_xid, now);
                    self.transmit(conn, Up::Ping { id: self.next_xid });
                }
                self.unvouch_if_lapsed();
            }
            Phase::Suspended { session, conn, lost_at } => {
                self.phase = Phase::Suspended { session, conn, lost_at };
                self.tell_lease();
                if now >= lost_at {
                    self.lose();
                } else if conn.is_none_or(|(_, sent)| now >= sent + give_up) {
                    let attempt = self.attempt(Some(session));
                    self.phase = Phase::Suspended { session, conn: Some(attempt), lost_at };
                }
            }
            Phase::Opening { conn, after_loss } => {
                self.phase = Phase::Opening { conn, after_loss };
                if conn.is_none_or(|(_, sent)| now >= sent + give_up) {
                    let attempt = self.attempt(None);
                    self.phase = Phase::Opening { conn: Some(attempt), after_loss };
                }
            }
            Phase::Stopped => {}
        }
    }
}
