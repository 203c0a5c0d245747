//! What must hold at every step of a simulation, checked after every event: the safety
//! properties of an election, as the contenders experienced it and as the servers stored it.
//!
//! - **One leader**: at no instant do two contenders both lead (a confirm accepted, no revoke
//!   since) while each holds its session's lease and its latch node exists. (A latch node an
//!   operator deleted ends its leader's claim: such a leader cannot write, and its successor's
//!   token is larger.)
//! - **Tokens only grow**: every grant heard while its latch node exists carries a fencing
//!   token no smaller than any such grant before it; an equal token is the same latch node
//!   granted again. (A grant can be on its way while an operator deletes its node: a zombie
//!   without a node, which cannot write, whose token a fenced store refuses once it has seen
//!   its successor's, and which hears of the deletion next.)
//! - **No grant on a node long gone**: such a zombie grant is heard no later than a round trip
//!   after the deletion (a latch that trusted a lagging follower's listing would grant a second
//!   later).
//! - **Leadership ends with the lease**: a contender that leads is told it no longer does
//!   within [`LEASE_GRACE`] of its session's lease ending, whether or not anything else happens
//!   in its process (a supervisor that waits for news of the lapse lets a contender lead on a
//!   session the server may have expired).
//! - **The leader node is written by the latch holder only**: every write of the leader node
//!   lands while the writing session owns the latch node whose czxid its fencing token is (the
//!   guard of the publish; checked by the world as the write commits).
//! - **A leave record is the latch holder's own**: a write of the latch path's data commits
//!   only from the session that holds the first node in line, naming that session (a
//!   follower's record would make observers read a leader's session expiry as a leave).
//! - **Nothing after stop**: a contender hears nothing once its `StopElection` was answered
//!   (events the supervisor sent before it handled the stop may still arrive, and no longer
//!   count).
//! - **Confirmed or revoked, never both**: no confirm is accepted, and no publish reported, for
//!   a leader session the contender was told is revoked.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use crate::port::Lease;

/// How long after its lease's end a contender may still believe it leads: the revoke is one
/// timer (rounded up to the millisecond) and one message away.
pub(crate) const LEASE_GRACE: Duration = Duration::from_millis(5);

/// What a contender was told, and did, as the checker follows it.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    /// The leader session confirmed and not revoked, with its token.
    pub leading: Option<(Uuid, i64)>,
    /// Leader sessions the contender was told are revoked.
    revoked: BTreeSet<Uuid>,
    /// The grant last received, not yet revoked.
    granted: Option<(Uuid, i64)>,
    /// The election is being stopped: the contender considers itself revoked.
    pub stopped: bool,
    /// Its stop was answered: nothing may reach the contender any more.
    stop_returned: bool,
}

/// What a contender heard or was answered.
#[derive(Clone, Debug)]
pub(crate) enum Heard {
    Granted { leader_session: Uuid, fencing_token: i64 },
    Confirmed { leader_session: Uuid },
    Revoked,
    Published { leader_session: Uuid },
    Error,
}

/// A broken property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    pub property: &'static str,
    pub detail: String,
}

/// The checker's memory across steps.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    /// The largest token granted so far, and to which node (by czxid it is one node).
    highest_token: Option<i64>,
    /// Leading contenders whose lease ended without a known end instant (the session gone),
    /// and since when the checker has seen them so.
    lapsed_since: BTreeMap<String, Instant>,
}

/// One contender as the checker sees it at a step.
pub(crate) struct Seen<'a> {
    pub name: &'a str,
    pub claims: &'a Claims,
    pub lease: &'a Lease,
    /// Whether its latch node (the one its token names) exists in the committed tree.
    pub holds_node: bool,
}

impl Claims {
    /// Records what the contender heard; answers the property it broke, if any.
    pub fn hear(&mut self, heard: &Heard) -> Option<Violation> {
        if self.stop_returned {
            return Some(Violation { property: "nothing after stop", detail: format!("{heard:?} after the stop") });
        }
        if self.stopped {
            // Sent before the supervisor handled the stop (a resign just before it, say): the
            // contender no longer counts it.
            return None;
        }
        match heard {
            Heard::Granted { leader_session, fencing_token } => self.granted = Some((*leader_session, *fencing_token)),
            Heard::Confirmed { leader_session } => {
                if self.revoked.contains(leader_session) {
                    return Some(Violation {
                        property: "confirmed or revoked, never both",
                        detail: format!("confirm of {leader_session} accepted after its revoke"),
                    });
                }
                if let Some((granted, token)) = self.granted.filter(|(granted, _)| granted == leader_session) {
                    self.leading = Some((granted, token));
                }
            }
            Heard::Revoked => {
                if let Some((granted, _)) = self.granted.take() {
                    self.revoked.insert(granted);
                }
                self.leading = None;
            }
            Heard::Published { leader_session } => {
                if self.revoked.contains(leader_session) {
                    return Some(Violation {
                        property: "confirmed or revoked, never both",
                        detail: format!("publish of {leader_session} reported after its revoke"),
                    });
                }
            }
            Heard::Error => {}
        }
        None
    }

    /// The contender asks its election to stop: it considers itself revoked from now on.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.leading = None;
        self.granted = None;
    }

    /// The stop was answered: from now on nothing may reach the contender.
    pub fn stop_returned(&mut self) {
        self.stop_returned = true;
    }
}

impl Checker {
    /// A grant of `token` was heard.
    pub fn granted(&mut self, name: &str, token: i64) -> Option<Violation> {
        let violation = self.highest_token.filter(|highest| token < *highest).map(|highest| Violation {
            property: "tokens only grow",
            detail: format!("{name} granted token {token} after token {highest}"),
        });
        self.highest_token = Some(self.highest_token.map_or(token, |highest| highest.max(token)));
        violation
    }

    /// At one instant: no two contenders lead with lease and latch node.
    pub fn one_leader(&self, contenders: &[Seen<'_>]) -> Option<Violation> {
        let leaders: Vec<String> = contenders
            .iter()
            .filter(|seen| seen.claims.leading.is_some() && seen.lease.holds() && seen.holds_node)
            .map(|seen| format!("{} (token {})", seen.name, seen.claims.leading.map_or(0, |(_, token)| token)))
            .collect();
        (leaders.len() > 1)
            .then(|| Violation { property: "one leader", detail: format!("both lead: {}", leaders.join(", ")) })
    }

    /// At one instant: nobody leads more than [`LEASE_GRACE`] past its lease's end.
    pub fn lease_ends_leadership(&mut self, contenders: &[Seen<'_>]) -> Option<Violation> {
        let now = Instant::now();
        let leading: BTreeSet<&str> =
            contenders.iter().filter(|seen| seen.claims.leading.is_some()).map(|seen| seen.name).collect();
        self.lapsed_since.retain(|name, _| leading.contains(name.as_str()));
        let mut late = Vec::new();
        for seen in contenders.iter().filter(|seen| seen.claims.leading.is_some()) {
            let ended = match seen.lease.until() {
                Some(until) if until <= now => until,
                Some(_) => {
                    self.lapsed_since.remove(seen.name);
                    continue;
                }
                None => *self.lapsed_since.entry(seen.name.to_owned()).or_insert(now),
            };
            if now.saturating_duration_since(ended) > LEASE_GRACE {
                late.push(format!("{} ({} ms after its lease)", seen.name, now.duration_since(ended).as_millis()));
            }
        }
        (!late.is_empty()).then(|| Violation {
            property: "leadership ends with the lease",
            detail: format!("still leads: {}", late.join(", ")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirm_after_its_revoke_and_an_event_after_stop_are_violations() {
        let mut claims = Claims::default();
        let session = Uuid::from_u128(1);
        assert!(claims.hear(&Heard::Granted { leader_session: session, fencing_token: 5 }).is_none());
        assert!(claims.hear(&Heard::Revoked).is_none());
        assert_eq!(
            claims.hear(&Heard::Confirmed { leader_session: session }).unwrap().property,
            "confirmed or revoked, never both"
        );
        claims.stop();
        assert!(claims.hear(&Heard::Revoked).is_none(), "an event sent before the stop was handled counts for nothing");
        claims.stop_returned();
        assert_eq!(claims.hear(&Heard::Revoked).unwrap().property, "nothing after stop");
        let mut checker = Checker::default();
        assert!(checker.granted("a", 7).is_none() && checker.granted("a", 7).is_none());
        assert_eq!(checker.granted("b", 6).unwrap().property, "tokens only grow");
    }
}
