//! What the timeline has shown so far, folded into the few facts the script's waits look at.

use std::collections::BTreeMap;
use std::time::Instant;

use uuid::Uuid;
use zk_election::node_cache::NodeView;
use zk_election::{ConnectionState, LeaderInfo, LeaderInfoCodec, LeadershipEvent};

use crate::cast::address_of;
use crate::events::{Event, What, OBSERVER};

/// What the timeline has shown so far.
#[derive(Default)]
pub struct State {
    pub contenders: BTreeMap<&'static str, ContenderState>,
    pub observer_connected: bool,
    /// The decoded leader node and when the observer saw it.
    pub leader_node: Option<(LeaderInfo, Instant)>,
    pub queue: Option<Vec<String>>,
    /// Closed confirmed-leadership intervals: who, from confirm to revoke or stop.
    pub intervals: Vec<(&'static str, Instant, Instant)>,
}

/// One contender as the timeline has shown it.
#[derive(Default)]
pub struct ContenderState {
    pub connected: bool,
    pub granted: Option<Uuid>,
    pub published: Option<Uuid>,
    /// Start of the current confirmed-leadership interval.
    leading_since: Option<Instant>,
    pub revoked_at: Option<Instant>,
}

impl State {
    /// Folds one event in.
    pub fn apply(&mut self, Event { at, who, what }: Event) {
        if who == OBSERVER {
            match what {
                What::Connection(state, _) => self.observer_connected = is_up(state),
                What::LeaderNode(NodeView::Present { data, .. }) => {
                    self.leader_node = LeaderInfoCodec::Bincode.decode(&data).ok().map(|info| (info, at));
                }
                What::LeaderNode(NodeView::Absent) => self.leader_node = None,
                What::Queue(ids) => self.queue = Some(ids),
                _ => {}
            }
            return;
        }
        let Some(contender) = self.contenders.get_mut(who) else { return };
        match what {
            What::Connection(state, _) => contender.connected = is_up(state),
            What::Leadership(LeadershipEvent::Granted { leader_session, .. }) => {
                contender.granted = Some(leader_session);
                contender.published = None;
            }
            What::Confirmed(leader_session) if contender.granted == Some(leader_session) => {
                contender.leading_since.get_or_insert(at);
            }
            What::Leadership(LeadershipEvent::Published { leader_session, .. }) => {
                contender.published = Some(leader_session)
            }
            What::Leadership(LeadershipEvent::Revoked { .. }) | What::Stopping => {
                if matches!(what, What::Leadership(_)) {
                    contender.revoked_at = Some(at);
                }
                contender.granted = None;
                contender.published = None;
                if let Some(since) = contender.leading_since.take() {
                    self.intervals.push((who, since, at));
                }
            }
            _ => {}
        }
    }

    /// The contender (not in `except`) whose published leadership the observer sees in the
    /// leader node, and when the observer saw it.
    pub fn visible_leader(&self, except: &[&str]) -> Option<(&'static str, Instant)> {
        let (info, seen) = self.leader_node.as_ref()?;
        self.contenders
            .iter()
            .find(|(name, c)| {
                !except.contains(name) && address_of(name) == info.address && c.published == Some(info.leader_session)
            })
            .map(|(name, _)| (*name, *seen))
    }
}

/// Whether a connection state means the session can be used.
pub fn is_up(state: ConnectionState) -> bool {
    matches!(state, ConnectionState::Connected | ConnectionState::Reconnected { .. })
}
