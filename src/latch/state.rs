//! The latch's state as two small machines: its link to the session ([`Link`]) and its place
//! in line ([`Place`]). A variant holds exactly what is valid in it: a node exists only in
//! line, a create's name prefix only while its outcome is open, leadership only first in line.

use super::candidate::{name_infix, LATCH_MARKER};

/// Digits of the sequence suffix ZooKeeper appends (`%010d`).
const SEQUENCE_DIGITS: usize = 10;

/// The latch's view of the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Link {
    /// No session to work in: before the first, or after `Lost`.
    Down,
    /// A session with its connection up.
    Up,
    /// Between `Suspended` and the next `Reconnected` or `Lost`: what we learn meanwhile may be
    /// stale, so we never *gain* leadership then (a tolerant policy only *keeps* it).
    Suspended,
}

impl Link {
    /// Whether a session exists that requests can be sent in (maybe over a dropped connection).
    pub fn has_session(self) -> bool {
        matches!(self, Link::Up | Link::Suspended)
    }
}

/// Where we stand in line.
#[derive(Debug)]
pub(super) enum Place {
    /// No node, nothing under way.
    Outside,
    /// A create of a node named `prefix…`, or the search for one whose create lost its answer,
    /// is under way: its outcome decides what comes next, so nothing else may start one.
    Joining { prefix: String },
    /// A create of `prefix…` ended without a clear outcome and nothing is under way: the node
    /// may exist, so look for it before creating another (Curator's protection mode).
    Unsure { prefix: String },
    /// Our node is in line.
    InLine { node: OurNode, standing: Standing },
}

/// Our place among the nodes in line.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Standing {
    /// Behind someone, or not looked at yet. `watching`: the predecessor whose watch is armed.
    Behind { watching: Option<String> },
    /// First in line, and the owner was told so.
    First,
}

/// Our node in line.
#[derive(Debug)]
pub(super) struct OurNode {
    /// Full path of our node.
    pub path: String,
    /// The zxid that created it: ensemble-wide increasing, so every later node has a larger
    /// one (the fencing token of a leader on this node).
    pub czxid: i64,
    /// The watch on the node itself: armed once per node, at our first look at the line, so
    /// that its deletion tells us at once whether we lead or not.
    pub watch: OwnWatch,
    /// The ZooKeeper session that owns it: the one a leave record names.
    pub owner: i64,
}

/// Whether the watch on our own node is armed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OwnWatch {
    Unarmed,
    Armed,
}

impl Place {
    /// Freshly in line on `path` (created at `czxid`, owned by `owner`), not looked at yet.
    pub fn in_line(path: String, czxid: i64, owner: i64) -> Place {
        Place::InLine {
            node: OurNode { path, czxid, watch: OwnWatch::Unarmed, owner },
            standing: Standing::Behind { watching: None },
        }
    }

    /// Our node, if we are in line.
    pub fn node(&self) -> Option<&OurNode> {
        match self {
            Place::InLine { node, .. } => Some(node),
            _ => None,
        }
    }

    /// Our node, if we hold the latch with it.
    pub fn first(&self) -> Option<&OurNode> {
        match self {
            Place::InLine { node, standing: Standing::First } => Some(node),
            _ => None,
        }
    }

    /// Whether we hold the latch.
    pub fn leads(&self) -> bool {
        matches!(self, Place::InLine { standing: Standing::First, .. })
    }

    /// The name prefix of a create whose outcome is open.
    pub fn open_prefix(&self) -> Option<&str> {
        match self {
            Place::Joining { prefix } | Place::Unsure { prefix } => Some(prefix),
            _ => None,
        }
    }
}

/// Which of the latch's two watches a request arms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WatchSlot {
    Predecessor,
    OwnNode,
}

/// The name prefix (`_c_{uuid}-latch-`) of a new node under `latch_path`.
pub(super) fn new_prefix(latch_path: &str, priority: i32) -> String {
    let infix = name_infix(priority);
    format!("{latch_path}/_c_{}-{infix}{LATCH_MARKER}", crate::random::uuid())
}

/// The latch participants among `children`, in leadership order: names containing `latch-`
/// followed by the server's 10-digit sequence, sorted by that sequence (zero-padded, so text
/// order is numeric order). Foreign children are ignored, also ones that merely look like
/// participants: a persistent `x-latch-0` created by hand would otherwise sort first and block
/// the election for good.
pub fn participants_in_order(children: &[String]) -> Vec<&str> {
    let mut participants: Vec<(&str, &str)> = children
        .iter()
        .filter_map(|name| {
            let sequence = &name[name.rfind(LATCH_MARKER)? + LATCH_MARKER.len()..];
            let valid = sequence.len() == SEQUENCE_DIGITS && sequence.bytes().all(|b| b.is_ascii_digit());
            valid.then_some((sequence, name.as_str()))
        })
        .collect();
    participants.sort();
    participants.into_iter().map(|(_, name)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_sequence_and_ignores_foreign_children() {
        let children: Vec<String> = [
            "_c_b-latch-0000000003",
            "foreign",
            "_c_a-latch-0000000001",
            "lock-0000000000",
            "_c_c-latch-0000000002",
            "x-latch-",
            "_c_d-latch-12ab",
            "_c_e-latch-0",
            "_c_f-latch-00000000001",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            participants_in_order(&children),
            vec!["_c_a-latch-0000000001", "_c_c-latch-0000000002", "_c_b-latch-0000000003"]
        );
    }
}
