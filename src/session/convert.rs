//! Translation between the ZooKeeper client library's types and our own vocabulary
//! (`crate::zk`). This file and its siblings in `session/` are the only code that knows the
//! client library; everything else speaks `zk`.

use zookeeper_client as client;

use crate::zk::{NodeAcl, NodeMode, Permission, Stat, WatchEvent, ZkError};

/// Our stat of the client's.
pub(super) fn stat(stat: &client::Stat) -> Stat {
    Stat {
        czxid: stat.czxid,
        mzxid: stat.mzxid,
        pzxid: stat.pzxid,
        ctime: stat.ctime,
        mtime: stat.mtime,
        version: stat.version,
        cversion: stat.cversion,
        aversion: stat.aversion,
        ephemeral_owner: stat.ephemeral_owner,
        data_length: stat.data_length,
        num_children: stat.num_children,
    }
}

/// The client's create mode for `mode`.
fn create_mode(mode: NodeMode) -> client::CreateMode {
    use client::CreateMode as M;
    match mode {
        NodeMode::Persistent => M::Persistent,
        NodeMode::PersistentSequential => M::PersistentSequential,
        NodeMode::Ephemeral => M::Ephemeral,
        NodeMode::EphemeralSequential => M::EphemeralSequential,
        NodeMode::Container => M::Container,
    }
}

/// An ACL as the client takes it: its own constants for the two common ones, else a list.
pub(super) enum ClientAcl {
    AnyoneAll,
    CreatorAll,
    List(Vec<client::Acl>),
}

impl ClientAcl {
    pub(super) fn new(acl: &NodeAcl) -> ClientAcl {
        match acl {
            NodeAcl::Open => ClientAcl::AnyoneAll,
            NodeAcl::CreatorAll => ClientAcl::CreatorAll,
            NodeAcl::Custom(list) => ClientAcl::List(
                list.iter()
                    .map(|entry| {
                        let id = entry.auth_id();
                        client::Acl::new(permission(entry.permission()), client::AuthId::new(id.scheme(), id.id()))
                    })
                    .collect(),
            ),
        }
    }

    /// Create options for a node of `mode` with this ACL.
    pub(super) fn options(&self, mode: NodeMode) -> client::CreateOptions<'_> {
        let acls = match self {
            ClientAcl::AnyoneAll => client::Acls::anyone_all(),
            ClientAcl::CreatorAll => client::Acls::creator_all(),
            ClientAcl::List(list) => client::Acls::new(list),
        };
        create_mode(mode).with_acls(acls)
    }
}

fn permission(permission: Permission) -> client::Permission {
    [
        (Permission::READ, client::Permission::READ),
        (Permission::WRITE, client::Permission::WRITE),
        (Permission::CREATE, client::Permission::CREATE),
        (Permission::DELETE, client::Permission::DELETE),
        (Permission::ADMIN, client::Permission::ADMIN),
    ]
    .into_iter()
    .filter(|(ours, _)| permission.contains(*ours))
    .fold(client::Permission::NONE, |all, (_, theirs)| all | theirs)
}

/// What a fired watch tells.
pub(super) fn watch_event(event: client::EventType) -> WatchEvent {
    use client::EventType as E;
    match event {
        E::NodeCreated => WatchEvent::Created,
        E::NodeDeleted => WatchEvent::Deleted,
        E::NodeDataChanged => WatchEvent::DataChanged,
        E::NodeChildrenChanged => WatchEvent::ChildrenChanged,
        E::Session => WatchEvent::SessionEnded,
    }
}

/// Our error of the client's.
pub(super) fn error(err: client::Error) -> ZkError {
    use client::Error as E;
    match err {
        E::NoNode => ZkError::NoNode,
        E::NodeExists => ZkError::NodeExists,
        E::BadVersion => ZkError::BadVersion,
        E::NotEmpty => ZkError::NotEmpty,
        E::NoAuth => ZkError::NoAuth,
        E::InvalidAcl => ZkError::InvalidAcl,
        E::NoChildrenForEphemerals => ZkError::NoChildrenForEphemerals,
        E::QuotaExceeded => ZkError::QuotaExceeded,
        E::ConnectionLoss => ZkError::ConnectionLoss,
        E::SessionExpired => ZkError::SessionExpired,
        E::SessionMoved => ZkError::SessionMoved,
        E::NotReadOnly => ZkError::NotReadOnly,
        E::Throttled => ZkError::Throttled,
        E::NoHosts => ZkError::NoServerReachable,
        E::AuthFailed => ZkError::AuthFailed,
        E::ClientClosed => ZkError::NotConnected,
        E::Unimplemented => ZkError::Unimplemented,
        other => ZkError::Unexpected(other.to_string()),
    }
}

/// A request in flight when the connection broke fails with whatever broke it ("no response
/// from connection in …", an I/O error, a garbled frame, the client's own timeout), not with
/// `ConnectionLoss`; its outcome is unknown all the same, and retrying after the reconnect is
/// the cure. Say so, so callers treat it as the transient error it is.
pub(super) fn request_error(err: client::Error) -> ZkError {
    use client::Error as E;
    match err {
        E::Custom(_) | E::UnmarshalError { .. } | E::Timeout => ZkError::ConnectionLoss,
        other => error(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zk::{Acl, AuthId};

    /// Our ACL entry of the client's (for reading a node's ACL).
    fn acl_entry(acl: &client::Acl) -> Acl {
        let bits = [
            (client::Permission::READ, Permission::READ),
            (client::Permission::WRITE, Permission::WRITE),
            (client::Permission::CREATE, Permission::CREATE),
            (client::Permission::DELETE, Permission::DELETE),
            (client::Permission::ADMIN, Permission::ADMIN),
        ]
        .into_iter()
        .filter(|(theirs, _)| acl.permission().has(*theirs))
        .fold(Permission::NONE, |all, (_, ours)| all | ours);
        Acl::new(bits, AuthId::new(acl.scheme(), acl.id()))
    }

    #[test]
    fn permissions_and_acls_translate_both_ways() {
        let ours = Acl::new(Permission::READ | Permission::ADMIN, AuthId::new("sasl", "alice"));
        let ClientAcl::List(theirs) = ClientAcl::new(&NodeAcl::Custom(vec![ours.clone()])) else {
            panic!("a custom ACL is a list")
        };
        assert_eq!(theirs.len(), 1);
        assert_eq!(acl_entry(&theirs[0]), ours);
    }

    #[test]
    fn broken_connections_are_connection_losses() {
        assert_eq!(request_error(client::Error::Timeout), ZkError::ConnectionLoss);
        assert!(error(client::Error::Throttled).is_transient());
        assert_eq!(error(client::Error::Unimplemented), ZkError::Unimplemented);
    }
}
