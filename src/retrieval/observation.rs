//! What an observer reports: each change of who leads, or of how current that is, numbered.

use std::time::SystemTime;

use actix::prelude::*;
use uuid::Uuid;

use super::LeaderChanged;
use crate::zk::ZkError;

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
        self.subscribers.retain(|subscriber| subscriber.connected());
        for subscriber in &self.subscribers {
            subscriber.do_send(observation.clone());
        }
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
    matches!((a, b), (Freshness::Live, Freshness::Live) | (Freshness::Stale { .. }, Freshness::Stale { .. }))
}
