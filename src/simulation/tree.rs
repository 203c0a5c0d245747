//! ZooKeeper's data tree, modelled: nodes with their stats, sequential names, ephemeral owners,
//! containers and ACLs, and the transactions that change it.
//!
//! A write is checked once, by the ensemble's leader ([`Tree::prepare`]), which turns it into a
//! [`Txn`] with every outcome decided (the sequential name, the zxid); every server then applies
//! the same transactions in the same order ([`Tree::apply`]), so a follower that lags is simply
//! a tree with fewer transactions applied. Applying a transaction answers the watch triggers it
//! fires.

use std::collections::BTreeMap;

use crate::zk::{
    GuardedMulti, NodeAcl, NodeMode, Parents, Permission, Stat, WatchEvent, WriteOp, WriteResult, ZkError,
};

/// One node.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub data: Vec<u8>,
    pub stat: Stat,
    pub acl: NodeAcl,
    /// A container is removed by the server once its last child is gone.
    pub container: bool,
}

/// A change the leader decided; every server applies it the same way.
#[derive(Clone, Debug)]
pub(crate) enum Txn {
    /// Create `path` (its final name) with `node`.
    Create { path: String, node: Node },
    /// Delete `path`.
    Delete { path: String },
    /// Replace the data of `path`.
    SetData { path: String, data: Vec<u8> },
    /// Replace the ACL of `path` (an operator's doing).
    SetAcl { path: String, acl: NodeAcl },
    /// Nothing (a check inside a multi).
    Check,
    /// All of these, at one zxid.
    Multi(Vec<Txn>),
    /// A session ended: its ephemeral nodes go.
    CloseSession { session: i64 },
}

/// Which kind of watch a trigger fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum WatchKind {
    /// Set by `Exists` or `GetData`: creation, deletion, data change of the node.
    Data,
    /// Set by `GetChildren`: a child created or deleted, or the node deleted.
    Children,
}

/// A watch that a transaction fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Trigger {
    pub path: String,
    pub kind: WatchKind,
    pub event: WatchEvent,
}

/// The tree of one server.
#[derive(Clone, Debug)]
pub(crate) struct Tree {
    nodes: BTreeMap<String, Node>,
    /// The zxid of the last transaction applied.
    pub zxid: i64,
    /// Czxids of the nodes deleted since the owner last took them (for the checker's clock).
    pub removed: Vec<i64>,
}

/// Who asks, for ACL checks: an unauthenticated session is `world:anyone`.
const ANYONE: Permission = Permission::ALL;

impl Default for Tree {
    fn default() -> Tree {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            "/".to_owned(),
            Node { data: Vec::new(), stat: Stat::default(), acl: NodeAcl::Open, container: false },
        );
        Tree { nodes, zxid: 0, removed: Vec::new() }
    }
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(at) => &path[..at],
        None => "/",
    }
}

/// What a session may do with a node under `acl` (sessions in the simulation do not
/// authenticate: they are `world:anyone`, and own what they create).
fn allowed(acl: &NodeAcl, want: Permission) -> bool {
    match acl {
        NodeAcl::Open | NodeAcl::CreatorAll => ANYONE.contains(want),
        NodeAcl::Custom(entries) => {
            entries.iter().any(|entry| entry.auth_id().scheme() == "world" && entry.permission().contains(want))
        }
    }
}

impl Tree {
    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Every node, in path order.
    pub fn nodes(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.nodes.iter()
    }

    /// The names of `path`'s children.
    pub fn children(&self, path: &str) -> Result<Vec<String>, ZkError> {
        let node = self.nodes.get(path).ok_or(ZkError::NoNode)?;
        if !allowed(&node.acl, Permission::READ) {
            return Err(ZkError::NoAuth);
        }
        let prefix = if path == "/" { "/".to_owned() } else { format!("{path}/") };
        Ok(self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(child, _)| child.starts_with(&prefix))
            .filter(|(child, _)| !child[prefix.len()..].contains('/'))
            .map(|(child, _)| child[prefix.len()..].to_owned())
            .collect())
    }

    /// Data and stat of `path`.
    pub fn data(&self, path: &str) -> Result<(Vec<u8>, Stat), ZkError> {
        let node = self.nodes.get(path).ok_or(ZkError::NoNode)?;
        if !allowed(&node.acl, Permission::READ) {
            return Err(ZkError::NoAuth);
        }
        Ok((node.data.clone(), node.stat))
    }

    /// Checks `write` as session `owner` would make it at `zxid`, `now_ms`, and turns it into
    /// the transaction that does it, with what it answers.
    pub fn prepare(&self, write: &Write, owner: i64, zxid: i64, now_ms: i64) -> Result<(Txn, Done), ZkError> {
        // Checked on a scratch copy, so that a multi-op sees its own earlier ops.
        let mut scratch = self.clone();
        let prepare_one = |scratch: &mut Tree, op: &WriteOp| -> Result<(Txn, WriteResult), ZkError> {
            let txn = match op {
                WriteOp::Create { path, data, mode, acl } => {
                    scratch.prepare_create(path, data, *mode, acl, owner, zxid, now_ms)?
                }
                WriteOp::SetData { path, data, version } => {
                    let node = scratch.nodes.get(path).ok_or(ZkError::NoNode)?;
                    if version.is_some_and(|version| version != node.stat.version) {
                        return Err(ZkError::BadVersion);
                    }
                    if !allowed(&node.acl, Permission::WRITE) {
                        return Err(ZkError::NoAuth);
                    }
                    Txn::SetData { path: path.clone(), data: data.clone() }
                }
                WriteOp::Delete { path, version } => {
                    let node = scratch.nodes.get(path).ok_or(ZkError::NoNode)?;
                    if version.is_some_and(|version| version != node.stat.version) {
                        return Err(ZkError::BadVersion);
                    }
                    if node.stat.num_children > 0 {
                        return Err(ZkError::NotEmpty);
                    }
                    let parent = scratch.nodes.get(parent(path)).ok_or(ZkError::NoNode)?;
                    if !allowed(&parent.acl, Permission::DELETE) {
                        return Err(ZkError::NoAuth);
                    }
                    Txn::Delete { path: path.clone() }
                }
                WriteOp::Check { path, version } => {
                    let node = scratch.nodes.get(path).ok_or(ZkError::NoNode)?;
                    if version.is_some_and(|version| version != node.stat.version) {
                        return Err(ZkError::BadVersion);
                    }
                    Txn::Check
                }
            };
            scratch.apply(&txn, zxid, now_ms);
            let result = match &txn {
                Txn::Create { path, node } => WriteResult::Created { path: path.clone(), stat: Some(node.stat) },
                Txn::SetData { path, .. } => WriteResult::Updated { stat: scratch.nodes[path].stat },
                Txn::Check => WriteResult::Checked,
                _ => WriteResult::Deleted,
            };
            Ok((txn, result))
        };
        match write {
            Write::One(op) => {
                let (txn, result) = prepare_one(&mut scratch, op)?;
                Ok((txn, Done::One(result)))
            }
            Write::Multi(GuardedMulti { guard, guard_version, ops }) => {
                let guard_ok = scratch
                    .nodes
                    .get(guard)
                    .is_some_and(|node| guard_version.is_none_or(|version| version == node.stat.version));
                if !guard_ok {
                    return Err(ZkError::GuardFailed { path: guard.clone() });
                }
                let mut txns = Vec::new();
                let mut results = Vec::new();
                for op in ops {
                    let (txn, result) = prepare_one(&mut scratch, op)?;
                    txns.push(txn);
                    results.push(result);
                }
                Ok((Txn::Multi(txns), Done::Multi(results)))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn prepare_create(
        &self,
        path: &str,
        data: &[u8],
        mode: NodeMode,
        acl: &NodeAcl,
        owner: i64,
        zxid: i64,
        now_ms: i64,
    ) -> Result<Txn, ZkError> {
        let parent_path = parent(path);
        let parent = self.nodes.get(parent_path).ok_or(ZkError::NoNode)?;
        if parent.stat.ephemeral_owner != 0 {
            return Err(ZkError::NoChildrenForEphemerals);
        }
        if !allowed(&parent.acl, Permission::CREATE) {
            return Err(ZkError::NoAuth);
        }
        let path = if mode.is_sequential() { format!("{path}{:010}", parent.stat.cversion) } else { path.to_owned() };
        if self.nodes.contains_key(&path) {
            return Err(ZkError::NodeExists);
        }
        let stat = Stat {
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: now_ms,
            mtime: now_ms,
            ephemeral_owner: if mode.is_ephemeral() { owner } else { 0 },
            data_length: data.len() as i32,
            ..Stat::default()
        };
        let node = Node { data: data.to_vec(), stat, acl: acl.clone(), container: mode == NodeMode::Container };
        Ok(Txn::Create { path, node })
    }

    /// Applies `txn` (checked by the leader) at `zxid`; answers the watches it fires.
    pub fn apply(&mut self, txn: &Txn, zxid: i64, now_ms: i64) -> Vec<Trigger> {
        self.zxid = zxid;
        let mut fired = Vec::new();
        self.apply_into(txn, zxid, now_ms, &mut fired);
        fired
    }

    fn apply_into(&mut self, txn: &Txn, zxid: i64, now_ms: i64, fired: &mut Vec<Trigger>) {
        let trigger = |path: &str, kind, event| Trigger { path: path.to_owned(), kind, event };
        match txn {
            Txn::Check => {}
            Txn::Create { path, node } => {
                let parent_path = parent(path).to_owned();
                if let Some(parent) = self.nodes.get_mut(&parent_path) {
                    parent.stat.cversion += 1;
                    parent.stat.num_children += 1;
                    parent.stat.pzxid = zxid;
                }
                self.nodes.insert(path.clone(), node.clone());
                fired.push(trigger(path, WatchKind::Data, WatchEvent::Created));
                fired.push(trigger(&parent_path, WatchKind::Children, WatchEvent::ChildrenChanged));
            }
            Txn::Delete { path } => {
                let Some(gone) = self.nodes.remove(path) else { return };
                self.removed.push(gone.stat.czxid);
                let parent_path = parent(path).to_owned();
                if let Some(parent) = self.nodes.get_mut(&parent_path) {
                    parent.stat.cversion += 1;
                    parent.stat.num_children -= 1;
                    parent.stat.pzxid = zxid;
                }
                fired.push(trigger(path, WatchKind::Data, WatchEvent::Deleted));
                fired.push(trigger(path, WatchKind::Children, WatchEvent::Deleted));
                fired.push(trigger(&parent_path, WatchKind::Children, WatchEvent::ChildrenChanged));
            }
            Txn::SetData { path, data } => {
                if let Some(node) = self.nodes.get_mut(path) {
                    node.data = data.clone();
                    node.stat.version += 1;
                    node.stat.mzxid = zxid;
                    node.stat.mtime = now_ms;
                    node.stat.data_length = data.len() as i32;
                    fired.push(trigger(path, WatchKind::Data, WatchEvent::DataChanged));
                }
            }
            Txn::SetAcl { path, acl } => {
                if let Some(node) = self.nodes.get_mut(path) {
                    node.acl = acl.clone();
                    node.stat.aversion += 1;
                }
            }
            Txn::Multi(txns) => {
                for txn in txns {
                    self.apply_into(txn, zxid, now_ms, fired);
                }
            }
            Txn::CloseSession { session } => {
                let owned: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(_, node)| node.stat.ephemeral_owner == *session)
                    .map(|(path, _)| path.clone())
                    .collect();
                for path in owned {
                    self.apply_into(&Txn::Delete { path }, zxid, now_ms, fired);
                }
            }
        }
    }

    /// Containers left without children, which the server removes on its own.
    pub fn empty_containers(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, node)| node.container && node.stat.num_children == 0 && node.stat.cversion > 0)
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// Missing ancestors of `path` to create first, shallowest first, as `Parents` asks.
    pub fn missing_ancestors(&self, path: &str, parents: Parents) -> Vec<(String, NodeMode)> {
        let mode = match parents {
            Parents::MustExist => return Vec::new(),
            Parents::Persistent => NodeMode::Persistent,
            Parents::Container => NodeMode::Container,
        };
        let mut missing = Vec::new();
        let mut at = parent(path);
        while at != "/" && !self.nodes.contains_key(at) {
            missing.push((at.to_owned(), mode));
            at = parent(at);
        }
        missing.reverse();
        missing
    }
}

/// A write to prepare: one op, or a guarded multi-op.
#[derive(Clone, Debug)]
pub(crate) enum Write {
    One(WriteOp),
    Multi(GuardedMulti),
}

/// What a prepared write answers once committed.
#[derive(Clone, Debug)]
pub(crate) enum Done {
    One(WriteResult),
    Multi(Vec<WriteResult>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(path: &str, mode: NodeMode) -> Write {
        Write::One(WriteOp::Create { path: path.into(), data: b"x".to_vec(), mode, acl: NodeAcl::Open })
    }

    #[test]
    fn sequential_names_follow_the_parents_cversion_and_ephemerals_go_with_their_session() {
        let mut tree = Tree::default();
        let mut zxid = 0;
        let mut run = |tree: &mut Tree, write: Write, owner| {
            zxid += 1;
            let (txn, done) = tree.prepare(&write, owner, zxid, 0)?;
            let fired = tree.apply(&txn, zxid, 0);
            Ok::<_, ZkError>((done, fired))
        };
        run(&mut tree, create("/latch", NodeMode::Container), 1).unwrap();
        let (first, fired) = run(&mut tree, create("/latch/n-", NodeMode::EphemeralSequential), 7).unwrap();
        assert!(matches!(first, Done::One(WriteResult::Created { ref path, .. }) if path == "/latch/n-0000000000"));
        assert!(fired.contains(&Trigger {
            path: "/latch".into(),
            kind: WatchKind::Children,
            event: WatchEvent::ChildrenChanged
        }));
        run(&mut tree, create("/latch/n-", NodeMode::EphemeralSequential), 8).unwrap();
        assert_eq!(tree.children("/latch").unwrap(), ["n-0000000000", "n-0000000001"]);
        assert_eq!(tree.get("/latch/n-0000000001").unwrap().stat.czxid, 3);
        tree.apply(&Txn::CloseSession { session: 7 }, 4, 0);
        assert_eq!(tree.children("/latch").unwrap(), ["n-0000000001"]);
        assert_eq!(
            run(&mut tree, create("/latch/n-0000000001/x", NodeMode::Persistent), 1).unwrap_err(),
            ZkError::NoChildrenForEphemerals
        );
    }

    #[test]
    fn a_multi_is_all_or_nothing_and_fails_its_guard_first() {
        let mut tree = Tree::default();
        let (txn, _) = tree.prepare(&create("/a", NodeMode::Persistent), 1, 1, 0).unwrap();
        tree.apply(&txn, 1, 0);
        let multi = |guard: &str, ops| Write::Multi(GuardedMulti { guard: guard.into(), guard_version: None, ops });
        let delete = |path: &str| WriteOp::Delete { path: path.into(), version: None };
        assert_eq!(
            tree.prepare(&multi("/b", vec![delete("/a")]), 1, 2, 0).unwrap_err(),
            ZkError::GuardFailed { path: "/b".into() }
        );
        assert_eq!(tree.prepare(&multi("/a", vec![delete("/a"), delete("/a")]), 1, 2, 0).unwrap_err(), ZkError::NoNode);
        assert!(tree.get("/a").is_some(), "nothing applied");
        let (txn, done) = tree.prepare(&multi("/a", vec![delete("/a")]), 1, 2, 0).unwrap();
        assert!(matches!(done, Done::Multi(ref results) if results == &[WriteResult::Deleted]));
        tree.apply(&txn, 2, 0);
        assert!(tree.get("/a").is_none());
    }
}
