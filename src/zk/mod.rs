//! ZooKeeper's vocabulary in our own types: paths' nodes and their stats, ACLs, the requests
//! the election makes, connection states and errors.
//!
//! This module is a leaf: it imports nothing else of the crate, and no type of the ZooKeeper
//! client library appears in it. The session actor translates between these types and the
//! client's; every other part of the crate, and every public signature, speaks only these.
//! A minor release of the client library can therefore never break a user of this crate.

mod acl;
mod connection;
mod error;
mod node;
mod ops;
mod tls_failure;

pub use acl::{Acl, AuthId, NodeAcl, Permission};
pub use connection::ConnectionState;
pub use error::ZkError;
pub use node::{Created, NodeMode, Parents, Stat, WatchEvent};
pub use ops::{
    AddWatch, Create, Delete, Exists, GetChildren, GetData, GuardedMulti, RequestKind, SetData, Sync, WriteOp,
    WriteResult,
};
pub use tls_failure::{TlsFailure, TlsProblem};
