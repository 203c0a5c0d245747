//! A contender's role as data that exists only in the state it belongs to: a leader node, its
//! cache and its write state exist only while a contender leads, so revoking is one assignment
//! that drops them. (The role is changed in one place, `Contender::change_role`, `grant.rs`.)

use actix::prelude::*;
use tokio::time::Instant;
use uuid::Uuid;

use crate::node_cache::{LeaderNodeCache, NodeView, StopCache};
use crate::zk::ZkError;

/// A contender's leadership.
#[derive(Debug)]
pub(super) enum Role {
    /// No grant outstanding.
    Follower,
    /// Granted `leader_session`; waiting for the contender to confirm it.
    Granted { leader_session: Uuid },
    /// Confirmed `leader_session`: its leader node is published and kept ours.
    Leading { leader_session: Uuid, node: LeaderNode },
}

impl Role {
    /// The leader session last granted, confirmed or not.
    pub fn granted(&self) -> Option<Uuid> {
        match self {
            Role::Follower => None,
            Role::Granted { leader_session } | Role::Leading { leader_session, .. } => Some(*leader_session),
        }
    }

    /// The confirmed leader session.
    pub fn confirmed(&self) -> Option<Uuid> {
        match self {
            Role::Leading { leader_session, .. } => Some(*leader_session),
            _ => None,
        }
    }

    /// The leader node, whoever leads.
    pub fn node(&self) -> Option<&LeaderNode> {
        match self {
            Role::Leading { node, .. } => Some(node),
            _ => None,
        }
    }
}

/// What a leading contender owns about its leader node.
#[derive(Debug, Default)]
pub(super) struct LeaderNode {
    /// Watches the leader node from our first publish until leadership ends: followers watch
    /// nothing, so a leader change wakes one process, not every contender.
    pub cache: Option<Addr<LeaderNodeCache>>,
    /// The node as the cache last saw it.
    pub view: NodeView,
    pub write: Write,
    /// Failed writes under this leadership.
    pub trouble: PublishTrouble,
}

impl Drop for LeaderNode {
    /// Leadership over: the cache stops watching.
    fn drop(&mut self) {
        if let Some(cache) = self.cache.take() {
            cache.do_send(StopCache);
        }
    }
}

/// Whether a leader-node write is under way.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) enum Write {
    #[default]
    Idle,
    /// One write in flight; `again`: something asked for another meanwhile, to be judged when
    /// this one ends.
    InFlight { again: bool },
}

/// Leader-node writes that failed under the current leadership.
#[derive(Debug, Default)]
pub(super) struct PublishTrouble {
    /// The first refusal (an error the connection does not explain), if any.
    pub refused_since: Option<Instant>,
    /// Refused attempts so far.
    pub refusals: u32,
    /// Errors already reported: each once, not once per retry.
    pub reported: Vec<ZkError>,
}
