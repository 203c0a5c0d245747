//! Our nodes that must go: what a reset or a resign left behind, and the name prefixes of
//! creates whose outcome is unknown. An entry leaves only when ZooKeeper confirms the node gone
//! (or the session that owned it ends), never when its delete is merely sent: a stop while a
//! delete is under way must still hand the node over ([`Cleanup::into_leftovers`]).

use std::collections::BTreeSet;

/// The latch's bookkeeping of nodes to delete and prefixes to look for.
#[derive(Debug, Default)]
pub(super) struct Cleanup {
    /// Every node of ours that must go and is not confirmed gone.
    nodes: BTreeSet<String>,
    /// Those of `nodes` whose delete is under way (not sent again until it answers).
    deleting: BTreeSet<String>,
    /// Name prefixes of creates whose outcome is unknown: a node by that name may be ours.
    prefixes: BTreeSet<String>,
    /// Those of `prefixes` a listing is looking for.
    listing: BTreeSet<String>,
}

impl Cleanup {
    /// A node of ours that must go.
    pub(super) fn add_node(&mut self, path: String) {
        self.nodes.insert(path);
    }

    /// A node whose delete is already under way, in a request of its own kind (a resign's
    /// multi-op).
    pub(super) fn add_deleting(&mut self, path: String) {
        self.deleting.insert(path.clone());
        self.nodes.insert(path);
    }

    /// A create of unknown outcome: a node by this name prefix may exist.
    pub(super) fn add_prefix(&mut self, prefix: String) {
        self.prefixes.insert(prefix);
    }

    /// The nodes to send deletes for now; they count as under way from here on.
    pub(super) fn start_deletes(&mut self) -> Vec<String> {
        let due: Vec<String> = self.nodes.difference(&self.deleting).cloned().collect();
        self.deleting.extend(due.iter().cloned());
        due
    }

    /// The prefixes to list the latch for now; they count as under way from here on.
    pub(super) fn start_listing(&mut self) -> Vec<String> {
        let due: Vec<String> = self.prefixes.difference(&self.listing).cloned().collect();
        self.listing.extend(due.iter().cloned());
        due
    }

    /// ZooKeeper confirmed the node gone, or refused for good to delete it.
    pub(super) fn deleted(&mut self, path: &str) {
        self.deleting.remove(path);
        self.nodes.remove(path);
    }

    /// The delete did not get through; the node stays listed for the next attempt.
    pub(super) fn delete_failed(&mut self, path: &str) {
        self.deleting.remove(path);
    }

    /// A listing answered for `prefixes`: the nodes it found by them must go instead (unless
    /// the session ended meanwhile, and the nodes with it).
    pub(super) fn listed(&mut self, prefixes: &[String], found: impl IntoIterator<Item = String>) {
        let mut still_ours = false;
        for prefix in prefixes {
            still_ours |= self.listing.remove(prefix);
            self.prefixes.remove(prefix);
        }
        if still_ours {
            self.nodes.extend(found);
        }
    }

    /// The listing did not get through; the prefixes stay for the next attempt.
    pub(super) fn listing_failed(&mut self, prefixes: &[String]) {
        for prefix in prefixes {
            self.listing.remove(prefix);
        }
    }

    /// The session that owned everything here ended, and its ephemeral nodes with it. Answers
    /// still under way find nothing to change.
    pub(super) fn forget(&mut self) {
        *self = Cleanup::default();
    }

    /// Everything not confirmed gone, under way or not: (nodes, prefixes).
    pub(super) fn into_leftovers(self) -> (Vec<String>, Vec<String>) {
        (self.nodes.into_iter().collect(), self.prefixes.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_under_way_is_handed_over_until_confirmed_gone() {
        let mut cleanup = Cleanup::default();
        cleanup.add_node("/l/a".into());
        cleanup.add_deleting("/l/b".into());
        assert_eq!(cleanup.start_deletes(), vec!["/l/a".to_owned()]);
        assert!(cleanup.start_deletes().is_empty(), "a delete under way was sent again");
        cleanup.delete_failed("/l/a");
        assert_eq!(cleanup.start_deletes(), vec!["/l/a".to_owned()], "a failed delete is retried");
        cleanup.deleted("/l/a");
        assert_eq!(cleanup.into_leftovers(), (vec!["/l/b".to_owned()], vec![]));
    }

    #[test]
    fn a_prefix_becomes_the_nodes_its_listing_found() {
        let mut cleanup = Cleanup::default();
        cleanup.add_prefix("/l/_c_1-latch-".into());
        let listing = cleanup.start_listing();
        assert!(cleanup.start_listing().is_empty(), "a listing under way was sent again");
        cleanup.listing_failed(&listing);
        let listing = cleanup.start_listing();
        assert_eq!(listing, vec!["/l/_c_1-latch-".to_owned()]);
        cleanup.listed(&listing, ["/l/_c_1-latch-0000000003".to_owned()]);
        assert_eq!(cleanup.into_leftovers(), (vec!["/l/_c_1-latch-0000000003".to_owned()], vec![]));
    }

    #[test]
    fn a_late_answer_after_the_session_ended_revives_nothing() {
        let mut cleanup = Cleanup::default();
        cleanup.add_node("/l/a".into());
        cleanup.add_prefix("/l/_c_1-latch-".into());
        let sent = cleanup.start_deletes();
        let listing = cleanup.start_listing();
        cleanup.forget();
        cleanup.delete_failed(&sent[0]);
        cleanup.listed(&listing, ["/l/_c_1-latch-0000000003".to_owned()]);
        assert!(cleanup.start_deletes().is_empty());
        assert_eq!(cleanup.into_leftovers(), (vec![], vec![]));
    }
}
