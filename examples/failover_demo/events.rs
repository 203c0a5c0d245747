//! What the actors tell the timeline: one [`Event`] per thing that happened, sent through a
//! [`Log`].

use std::time::Instant;

use tokio::sync::mpsc;
use uuid::Uuid;
use zk_election::node_cache::NodeView;
use zk_election::{ConnectionState, ElectionError, LeadershipEvent};

/// The observer's name in the timeline.
pub const OBSERVER: &str = "observer";

/// One line of the timeline.
pub struct Event {
    pub at: Instant,
    pub who: &'static str,
    pub what: What,
}

/// What happened, as the timeline prints it.
pub enum What {
    Connection(ConnectionState, Option<i64>),
    Leadership(LeadershipEvent),
    /// The supervisor accepted the contender's confirm: from here it leads.
    Confirmed(Uuid),
    ConfirmRefused(ElectionError),
    /// The observer's view of the leader node.
    LeaderNode(NodeView),
    /// The latch participants' IDs (addresses), leader first, as the observer sees them.
    Queue(Vec<String>),
    /// The script asks the contender to stop: it stops acting as leader now.
    Stopping,
    Note(String),
}

/// Where actors put their events.
#[derive(Clone)]
pub struct Log(pub mpsc::UnboundedSender<Event>);

impl Log {
    /// Reports that `what` happened to `who`, now.
    pub fn send(&self, who: &'static str, what: What) {
        let _ = self.0.send(Event { at: Instant::now(), who, what });
    }
}
