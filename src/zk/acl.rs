//! Access control lists: who may do what with a node.

use std::fmt;
use std::ops::{BitAnd, BitOr};

/// A set of ZooKeeper permissions (`READ | WRITE`…).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission(u32);

impl Permission {
    /// Read a node's data and list its children.
    pub const READ: Permission = Permission(1);
    /// Set a node's data.
    pub const WRITE: Permission = Permission(2);
    /// Create children.
    pub const CREATE: Permission = Permission(4);
    /// Delete children.
    pub const DELETE: Permission = Permission(8);
    /// Set the node's ACL.
    pub const ADMIN: Permission = Permission(16);
    /// Every permission.
    pub const ALL: Permission = Permission(31);
    /// No permission.
    pub const NONE: Permission = Permission(0);

    /// The bits as ZooKeeper's protocol carries them.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// The permissions of `bits` (bits outside [`Permission::ALL`] are dropped).
    pub fn from_bits(bits: u32) -> Permission {
        Permission(bits & Permission::ALL.0)
    }

    /// Whether every permission of `other` is in `self`.
    pub fn contains(self, other: Permission) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Permission {
    type Output = Permission;

    fn bitor(self, other: Permission) -> Permission {
        Permission(self.0 | other.0)
    }
}

impl BitAnd for Permission {
    type Output = Permission;

    fn bitand(self, other: Permission) -> Permission {
        Permission(self.0 & other.0)
    }
}

impl fmt::Debug for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permission({self})")
    }
}

impl fmt::Display for Permission {
    /// ZooKeeper's own letters, as `getAcl` prints them: `cdrwa`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, letter) in
            [(Self::CREATE, 'c'), (Self::DELETE, 'd'), (Self::READ, 'r'), (Self::WRITE, 'w'), (Self::ADMIN, 'a')]
        {
            if self.contains(bit) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// An identity under an authentication scheme: `world:anyone`, `digest:alice:<hash>`,
/// `sasl:alice`, `ip:10.0.0.0/8`, `auth:` (the creator's own identities).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AuthId {
    scheme: String,
    id: String,
}

impl AuthId {
    /// `id` under `scheme`.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> AuthId {
        AuthId { scheme: scheme.into(), id: id.into() }
    }

    /// `world:anyone`: everybody.
    pub fn anyone() -> AuthId {
        AuthId::new("world", "anyone")
    }

    /// `auth:`: the authenticated identities of the session that creates the node.
    pub fn creator() -> AuthId {
        AuthId::new("auth", "")
    }

    /// The scheme (`world`, `digest`, `sasl`, `ip`, `auth`…).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The identity within the scheme.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// One entry of an ACL: `permission` for `auth_id`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Acl {
    permission: Permission,
    auth_id: AuthId,
}

impl Acl {
    /// `permission` granted to `auth_id`.
    pub fn new(permission: Permission, auth_id: AuthId) -> Acl {
        Acl { permission, auth_id }
    }

    /// What is granted.
    pub fn permission(&self) -> Permission {
        self.permission
    }

    /// To whom.
    pub fn auth_id(&self) -> &AuthId {
        &self.auth_id
    }
}

/// The ACL given to nodes we create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NodeAcl {
    /// `world:anyone` may do everything (ZooKeeper's `OPEN_ACL_UNSAFE`).
    #[default]
    Open,
    /// Only the authenticated identities of the creating session may do anything
    /// (`CREATOR_ALL_ACL`); needs authentication, else the server answers `InvalidAcl`.
    CreatorAll,
    /// An explicit list.
    Custom(Vec<Acl>),
}

impl NodeAcl {
    /// The entries of this ACL.
    pub fn entries(&self) -> Vec<Acl> {
        match self {
            NodeAcl::Open => vec![Acl::new(Permission::ALL, AuthId::anyone())],
            NodeAcl::CreatorAll => vec![Acl::new(Permission::ALL, AuthId::creator())],
            NodeAcl::Custom(list) => list.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_combine_and_print_as_zookeeper_does() {
        let rw = Permission::READ | Permission::WRITE;
        assert!(rw.contains(Permission::READ) && !rw.contains(Permission::ADMIN));
        assert_eq!(rw & Permission::WRITE, Permission::WRITE);
        assert_eq!(Permission::ALL.to_string(), "cdrwa");
        assert_eq!(Permission::from_bits(0xff), Permission::ALL);
        assert_eq!(NodeAcl::Open.entries(), [Acl::new(Permission::ALL, AuthId::anyone())]);
    }
}
