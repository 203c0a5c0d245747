//! The latch's handover without a second look: a participant right behind the first in line
//! takes the lead when that node is deleted, with no request of its own; a participant whose
//! predecessor was not first lists the latch again and does not lead while a lower node lives.
//! With our own participants, Curator-shaped peers (plain ephemeral sequential nodes of another
//! session) and foreign children in the latch.

mod common;

use std::time::Duration;

use actix::prelude::*;
use common::*;
use zk_election::latch::{GetLatchMetrics, LatchEvent, LatchMetrics, LeaderLatch, StopLatch};
use zk_election::session::{Create, Delete, NodeAcl, NodeMode};
use zk_election::testkit::ZkServer;
use zk_election::{ConnectionLossPolicy, ZkSession};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/handover/latch";

/// One of our latches in a session of its own, and what it tells its owner.
struct Participant {
    session: Addr<ZkSession>,
    latch: Addr<LeaderLatch>,
    events: Received<LatchEvent>,
}

impl Participant {
    async fn join(connect: &str, id: &str) -> Participant {
        let (session, _states) = connected_session(connect, 6 * SECOND).await;
        let (owner, events) = probe::<LatchEvent>();
        let latch = LeaderLatch::new(
            session.clone(),
            LATCH.to_owned(),
            id.to_owned(),
            NodeAcl::Open,
            ConnectionLossPolicy::Standard,
            owner,
        )
        .start();
        Participant { session, latch, events }
    }

    async fn metrics(&self) -> LatchMetrics {
        self.latch.send(GetLatchMetrics).await.expect("latch alive")
    }

    /// Waits for `IsLeader`; fails on anything else first.
    async fn expect_lead(&mut self, within: Duration) {
        let (_, event) = self.events.next(within).await;
        assert!(matches!(event, LatchEvent::IsLeader { .. }), "{event:?}");
    }

    /// Leaves: the latch stops and its node is deleted, as the supervisor does.
    async fn leave(self) {
        if let Some(node) = self.latch.send(StopLatch).await.expect("latch alive") {
            self.session.send(Delete { path: node, version: None }).await.unwrap().unwrap();
        }
    }
}

/// A Curator-shaped peer: an ephemeral sequential `_c_<uuid>-latch-` node in `session`.
async fn curator_peer(session: &Addr<ZkSession>) -> String {
    let prefix = format!("{LATCH}/_c_{}-latch-", uuid::Uuid::new_v4());
    session
        .send(Create::new(prefix, b"curator-peer".to_vec(), NodeMode::EphemeralSequential))
        .await
        .unwrap()
        .unwrap()
        .path
}

/// Sets up the latch path with foreign children that must never count.
async fn latch_with_foreign_children(admin: &Addr<ZkSession>) {
    create_persistent(admin, "/handover", b"").await;
    create_persistent(admin, LATCH, b"").await;
    for name in ["foreign", "lock-0000000000", "x-latch-12"] {
        create_persistent(admin, &format!("{LATCH}/{name}"), b"").await;
    }
}

#[actix_rt::test]
async fn right_behind_the_leader_a_participant_takes_over_without_a_request() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (admin, _s) = connected_session(&cs, 6 * SECOND).await;
    latch_with_foreign_children(&admin).await;

    // Ours behind ours.
    let mut a = Participant::join(&cs, "a").await;
    a.expect_lead(5 * SECOND).await;
    let mut b = Participant::join(&cs, "b").await;
    await_children(&admin, LATCH, 5, 5 * SECOND).await;
    tokio::time::sleep(Duration::from_millis(200)).await; // b's watch is armed
    let before = b.metrics().await;
    a.leave().await;
    b.expect_lead(5 * SECOND).await;
    let after = b.metrics().await;
    assert_eq!(after.requests - before.requests, 0, "the successor asked ZooKeeper something");
    assert_eq!(after.listings_skipped - before.listings_skipped, 1);

    // Ours behind a Curator-shaped peer that leads.
    let (peer_session, _p) = connected_session(&cs, 6 * SECOND).await;
    b.leave().await;
    let peer = curator_peer(&peer_session).await;
    let mut c = Participant::join(&cs, "c").await;
    await_children(&admin, LATCH, 5, 5 * SECOND).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(c.events.try_drain().is_empty(), "c led behind a live peer");
    let before = c.metrics().await;
    admin.send(Delete { path: peer, version: None }).await.unwrap().unwrap();
    c.expect_lead(5 * SECOND).await;
    let after = c.metrics().await;
    assert_eq!((after.requests - before.requests, after.listings_skipped - before.listings_skipped), (0, 1));
    c.leave().await;
}

#[actix_rt::test]
async fn behind_a_predecessor_that_was_not_first_a_participant_looks_again() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (admin, _s) = connected_session(&cs, 6 * SECOND).await;
    latch_with_foreign_children(&admin).await;

    // Line: a (ours, leads), a Curator-shaped peer, b (ours).
    let mut a = Participant::join(&cs, "a").await;
    a.expect_lead(5 * SECOND).await;
    let (peer_session, _p) = connected_session(&cs, 6 * SECOND).await;
    let peer = curator_peer(&peer_session).await;
    let mut b = Participant::join(&cs, "b").await;
    await_children(&admin, LATCH, 6, 5 * SECOND).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The peer between them goes: b must not lead while a does; it looks and watches a.
    let before = b.metrics().await;
    admin.send(Delete { path: peer, version: None }).await.unwrap().unwrap();
    let woke = eventually(5 * SECOND, "b looks at the line again", || async {
        let now = b.metrics().await;
        (now.requests > before.requests).then_some(now)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.events.try_drain().is_empty(), "b led while a still held the latch");
    assert_eq!(woke.listings_skipped, before.listings_skipped);

    // Now a is right ahead of b: its departure hands over without a request.
    let before = b.metrics().await;
    a.leave().await;
    b.expect_lead(5 * SECOND).await;
    let after = b.metrics().await;
    assert_eq!((after.requests - before.requests, after.listings_skipped - before.listings_skipped), (0, 1));
    b.leave().await;
}
