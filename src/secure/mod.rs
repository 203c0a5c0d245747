//! Secured connections to ZooKeeper: TLS (server-verified or mutual) and SASL DIGEST-MD5.
//!
//! | Feature | Adds | Configure with |
//! |---|---|---|
//! | `tls` | rustls, through the ZooKeeper client | [`SessionConfigBuilder::tls`](crate::config::SessionConfigBuilder::tls) with a [`TlsConfig`] |
//! | `sasl` | DIGEST-MD5 (rsasl) | [`SessionConfigBuilder::sasl_digest`](crate::config::SessionConfigBuilder::sasl_digest) |
//!
//! Both are on with the default `cli` feature. A failed handshake or a refused login is
//! delivered at once as a [`SessionFailed`](crate::port::SessionFailed) naming the cause
//! ([`ZkError::Tls`](crate::ZkError::Tls) with a [`TlsProblem`], or
//! [`ZkError::AuthFailed`](crate::ZkError::AuthFailed)), and to contenders as an error event;
//! the session goes on retrying with backoff, since an operator may fix the server or the
//! files (certificates are read again on every attempt when reloading is on).
//!
//! This module holds the settings; the session actor (`src/session/secure/`) applies them to
//! the ZooKeeper client.

#[cfg(feature = "tls")]
mod probe;
#[cfg(feature = "sasl")]
mod sasl;
#[cfg(feature = "tls")]
mod tls;

#[cfg(feature = "tls")]
pub(crate) use probe::diagnose;
#[cfg(feature = "sasl")]
pub use sasl::SaslDigest;
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
#[cfg(feature = "tls")]
pub(crate) use tls::TlsMaterial;

pub use crate::zk::{TlsFailure, TlsProblem};
