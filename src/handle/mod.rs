//! Handles for programs that do not use actix: a plain `#[tokio::main]` service (or any thread)
//! takes part in an election with an [`ElectionHandle`] and finds the leader with a
//! [`RetrievalHandle`].
//!
//! Each handle starts its actors (session, election supervisor or leader retriever, and a small
//! relay) on an actix `System` running on a dedicated thread, and talks to them through their
//! addresses; nothing of actix shows in its API. What the actors tell arrives in a
//! [`tokio::sync::watch`]: the [`Leadership`] of the contender, or who leads.
//!
//! # Leadership
//!
//! The watch starts at [`Leadership::Follower`]. With [`ConfirmMode::Auto`] (the default) the
//! handle confirms every grant itself and the watch shows [`Leadership::Leading`] once the
//! supervisor has **accepted the confirm**; from then on the leadership's fencing token is
//! valid and [`ElectionHandle::leader_write`] lands. Publishing the leader node follows (one
//! ZooKeeper write later), and the watch changes again to `Leading { published: true, .. }`.
//! With [`ConfirmMode::Explicit`] the watch first shows [`Leadership::Granted`] and the caller
//! confirms with [`ElectionHandle::confirm`]. A revoke turns it back to `Follower`; shutting the
//! handle down (or dropping it) turns it to [`Leadership::Stopped`] before the election is
//! stopped: act as leader no longer once you see anything but `Leading`.
//!
//! No `Stream` adapter is included (it would take a dependency); `tokio-stream`'s
//! `WatchStream::new(handle.leadership())` makes one.
//!
//! # Example
//!
//! ```no_run
//! use zk_election::zk::{NodeAcl, NodeMode, WriteOp};
//! use zk_election::{ElectionConfig, ElectionHandle, Leadership, SessionConfig};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let session = SessionConfig::builder("127.0.0.1:2181").build()?;
//!     let election = ElectionConfig::builder("/app/latch").build()?;
//!     let handle = ElectionHandle::builder(session, election)
//!         .component("jobmanager")
//!         .address("10.0.0.7:6123")
//!         .leader_path("/app/leader/jobmanager")
//!         .start()
//!         .await?;
//!
//!     let mut leadership = handle.leadership();
//!     let token = leadership.wait_for(Leadership::is_leading).await?.fencing_token();
//!     println!("leading with fencing token {token:?}");
//!
//!     // Lands only while this leadership holds; a deposed leader gets `NotLeader`.
//!     let state = WriteOp::Create {
//!         path: "/app/state".into(),
//!         data: b"v1".to_vec(),
//!         mode: NodeMode::Persistent,
//!         acl: NodeAcl::Open,
//!     };
//!     handle.leader_write(vec![state]).await?;
//!
//!     tokio::signal::ctrl_c().await?;
//!     handle.shutdown().await?;
//!     Ok(())
//! }
//! ```

mod election;
mod leadership;
mod relay;
mod retrieval;
mod thread;

pub use election::{ElectionHandle, ElectionHandleBuilder, DEFAULT_SHUTDOWN_TIMEOUT};
pub use leadership::{ConfirmMode, Leadership};
pub use retrieval::RetrievalHandle;
