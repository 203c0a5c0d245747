//! What an observer reports: each change of who leads, or of how current that is, numbered.

use std::time::SystemTime;

use actix::prelude::*;
use uuid::Uuid;

use super::LeaderChanged;
use crate::zk::{ConnectionState, ZkError};

/// Who leads, as the leader node says. Unlike [`LeaderChanged`] it never stands for "we cannot
/// tell": how current it is travels beside it, as [`Freshness`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaderState {
    /// The leader node names this leader.
    Leading {
        /// The leader's address, as its contender subscribed it.
        address: String,
        /// The leader session ID the leader confirmed.
        leader_session: Uuid,
        /// The leader's fencing token, when the codec carries one.
        fencing_token: Option<i64>,
    },
    /// The leader node is absent or empty: nobody leads.
    Vacant,
    /// The leader node holds data the configured codec does not accept.
    Undecodable {
        /// How many bytes the node holds.
        bytes: usize,
    },
    /// The leader node exists but cannot be read (its ACL denies our session).
    Unreadable {
        /// Why the read failed.
        error: ZkError,
    },
}

impl From<LeaderState> for LeaderChanged {
    fn from(state: LeaderState) -> LeaderChanged {
        match state {
            LeaderState::Leading { address, leader_session, fencing_token } => {
                LeaderChanged::Leader { address, leader_session, fencing_token }
            }
            LeaderState::Vacant => LeaderChanged::NoLeader,
            LeaderState::Undecodable { bytes } => LeaderChanged::Undecodable { bytes },
            LeaderState::Unreadable { error } => LeaderChanged::Unreadable { error },
        }
    }
}

/// How current an [`Observation`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Freshness {
    /// Read through a session that is connected: ZooKeeper tells us of the next change.
    Live,
    /// Contact with ZooKeeper was lost at `since` (the connection dropped, the session ended, or
    /// the servers lost their quorum): this is the last state seen, still the best guess, but
    /// the leader may have changed since.
    Stale {
        /// When contact was lost.
        since: SystemTime,
    },
    /// Read through a server that lost its quorum and serves reads only (a session that
    /// allows it: [`SessionConfigBuilder::read_only`](crate::config::SessionConfigBuilder::read_only)):
    /// the leader node as that server last knew it, which may be outdated. `since` is when
    /// contact with the quorum was lost.
    ReadOnly {
        /// When contact with the quorum was lost.
        since: SystemTime,
    },
}

/// One change an observer reports: the leader state, how current it is, and a sequence number
/// that grows by one with each report of the same retriever (from 1), so that a consumer can
/// tell it missed none and put reports from several paths in order.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub struct Observation {
    /// 1 for the first report of the retriever, one more for each after it.
    pub sequence: u64,
    /// Who leads.
    pub state: LeaderState,
    /// How current `state` is.
    pub freshness: Freshness,
    /// When the retriever made this report (this machine's clock).
    pub at: SystemTime,
}

impl Observation {
    /// An observation as a retriever would report it: for tests of a subscriber, or to relay
    /// observations made elsewhere.
    pub fn new(sequence: u64, state: LeaderState, freshness: Freshness, at: SystemTime) -> Observation {
        Observation { sequence, state, freshness, at }
    }
}

/// Subscribe a recipient to the [`Observation`]s of a
/// [`LeaderRetriever`](super::LeaderRetriever): it is told the current one at once (if the
/// leader node was read already), then every one after it.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SubscribeObservations(pub Recipient<Observation>);

/// Ask a [`LeaderRetriever`](super::LeaderRetriever) for its latest [`Observation`]; `None`
/// before the leader node was first read.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "Option<Observation>")]
pub struct GetObservation;

/// The numbered reports of one retriever and who hears them.
#[derive(Debug, Default)]
pub(super) struct Observations {
    latest: Option<Observation>,
    subscribers: Vec<Recipient<Observation>>,
}

impl Observations {
    /// Reports `state` with `freshness`, unless that is what was reported last.
    pub(super) fn report(&mut self, state: &LeaderState, freshness: Freshness) {
        if let Some(latest) = &self.latest {
            if &latest.state == state && same_freshness(latest.freshness, freshness) {
                return;
            }
        }
        let sequence = self.latest.as_ref().map_or(1, |latest| latest.sequence + 1);
        let observation = Observation::new(sequence, state.clone(), freshness, SystemTime::now());
        super::tell_all(&mut self.subscribers, &observation);
        self.latest = Some(observation);
    }

    /// The freshness changed; the state stands. Nothing to report before the first read.
    pub(super) fn refresh(&mut self, freshness: Freshness) {
        if let Some(state) = self.latest.as_ref().map(|latest| latest.state.clone()) {
            self.report(&state, freshness);
        }
    }

    pub(super) fn subscribe(&mut self, subscriber: Recipient<Observation>) {
        if let Some(latest) = &self.latest {
            subscriber.do_send(latest.clone());
        }
        self.subscribers.push(subscriber);
    }

    pub(super) fn latest(&self) -> Option<&Observation> {
        self.latest.as_ref()
    }

    pub(super) fn clear_subscribers(&mut self) {
        self.subscribers.clear();
    }
}

/// Stale since one moment and stale since another are the same news: contact was lost.
fn same_freshness(a: Freshness, b: Freshness) -> bool {
    std::mem::discriminant(&a) == std::mem::discriminant(&b)
}

/// How a retriever is in touch with ZooKeeper: where the freshness of its reports comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Contact {
    /// A connected session vouches for what the cache reads (and before the first session,
    /// when there is nothing to report).
    Live,
    /// Connected to a read-only server; contact with the quorum was lost at `since`.
    ReadOnly { since: SystemTime },
    /// No contact since `since`: what we know is the last we saw.
    Lost { since: SystemTime },
}

impl Contact {
    /// The contact once the session announced `state` (`read_only`: through a server without a
    /// quorum), at `now`.
    pub(super) fn after(self, state: ConnectionState, read_only: bool, now: SystemTime) -> Contact {
        let since = match self {
            Contact::Live => now,
            Contact::ReadOnly { since } | Contact::Lost { since } => since,
        };
        match state {
            ConnectionState::Suspended | ConnectionState::Lost => Contact::Lost { since },
            _ if read_only => Contact::ReadOnly { since },
            // The server kept our session and its watch: it tells us of what we missed.
            ConnectionState::Reconnected { same_session: true } => Contact::Live,
            // A new session: what we know stays old until its cache has read the node.
            ConnectionState::Connected | ConnectionState::Reconnected { .. } => match self {
                Contact::Live => Contact::Live,
                _ => Contact::Lost { since },
            },
        }
    }

    /// The contact once the cache of the current session read the node.
    pub(super) fn after_read(self) -> Contact {
        match self {
            Contact::ReadOnly { .. } => self,
            Contact::Live | Contact::Lost { .. } => Contact::Live,
        }
    }

    pub(super) fn freshness(self) -> Freshness {
        match self {
            Contact::Live => Freshness::Live,
            Contact::ReadOnly { since } => Freshness::ReadOnly { since },
            Contact::Lost { since } => Freshness::Stale { since },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_through_an_outage_a_read_only_server_and_back() {
        let t = |secs| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        let lost = Contact::Live.after(ConnectionState::Suspended, false, t(1));
        assert_eq!(lost, Contact::Lost { since: t(1) });
        assert_eq!(lost.after(ConnectionState::Lost, false, t(5)), lost, "since the first sign");
        assert_eq!(lost.after(ConnectionState::Reconnected { same_session: true }, false, t(2)), Contact::Live);
        let new_session = lost.after(ConnectionState::Reconnected { same_session: false }, false, t(6));
        assert_eq!(new_session, lost, "old news until read");
        assert_eq!(new_session.after_read(), Contact::Live);
        let read_only = lost.after(ConnectionState::Reconnected { same_session: false }, true, t(6));
        assert_eq!(read_only, Contact::ReadOnly { since: t(1) });
        assert_eq!(read_only.after_read(), read_only, "a read-only server's read stays read-only");
        assert_eq!(read_only.freshness(), Freshness::ReadOnly { since: t(1) });
        let first = Contact::Live.after(ConnectionState::Connected, true, t(9));
        assert_eq!(first, Contact::ReadOnly { since: t(9) }, "read-only from the start");
        // The quorum is back: the read-only session is lost, a new one reads.
        let back = read_only.after(ConnectionState::Lost, false, t(20)).after(ConnectionState::Connected, false, t(21));
        assert_eq!((back, back.after_read()), (Contact::Lost { since: t(1) }, Contact::Live));
    }
}
