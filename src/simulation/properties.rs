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
//! - **Nothing after stop**: a contender hears nothing once its election was stopped.
//! - **Confirmed or revoked, never both**: no confirm is accepted, and no publish reported, for
//!   a leader session the contender was told is revoked.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::port::Lease;

/// What a contender was told, and did, as the checker follows it.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    /// The leader session confirmed and not revoked, with its token.
    pub leading: Option<(Uuid, i64)>,
    /// Leader sessions the contender was told are revoked.
    revoked: BTreeSet<Uuid>,
    /// The grant last received, not yet revoked.
    granted: Option<(Uuid, i64)>,
    /// The election was stopped: nothing may reach the contender any more.
    pub stopped: bool,
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
        if self.stopped {
            return Some(Violation { property: "nothing after stop", detail: format!("{heard:?} after the stop") });
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

    /// The election stops: the contender considers itself revoked from now on.
    pub fn stop(&mut self) {
        self.stopped = true;
        self.leading = None;
        self.granted = None;
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
        assert_eq!(claims.hear(&Heard::Revoked).unwrap().property, "nothing after stop");
        let mut checker = Checker::default();
        assert!(checker.granted("a", 7).is_none() && checker.granted("a", 7).is_none());
        assert_eq!(checker.granted("b", 6).unwrap().property, "tokens only grow");
    }
}
