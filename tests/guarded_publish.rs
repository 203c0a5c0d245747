//! Guarded publish: a leader frozen at the moment it publishes wakes up deposed, and its write
//! never lands on the successor's leader node (ARCHITECTURE.md, "Invariants").
//!
//! Each scenario freezes the leader right after its grant, with its confirm (and so its
//! publish) pending, lets a successor take over and publish, then unfreezes the old leader and
//! checks, from an observer's watch and the node's stat, that the successor's node was never
//! touched, and from the old leader's own counters that it wrote nothing.

mod common;

use std::time::Duration;

use actix::prelude::*;
use common::*;
use zk_election::port::WatchFired;
use zk_election::session::{GetSessionMetrics, GetStatus};
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::zk::{Delete, GetChildren, GetData, RequestKind, Stat};
use zk_election::{
    Confirm, ConnectionLossPolicy, ElectionConfig, ElectionSupervisor, GetElectionMetrics, LeaderInfoCodec,
    LeadershipEvent, ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/guarded/latch";
const LEADER: &str = "/guarded/leader";

/// The successor's published node, as an observer saw it right after the publish, with a
/// watch armed on it.
struct Published {
    stat: Stat,
    watch: Received<WatchFired>,
}

/// Waits until the leader node holds `address`/`leader_session`, then arms a watch on it.
async fn watch_published(observer: &Addr<ZkSession>, address: &str, leader_session: uuid::Uuid) -> Published {
    eventually(5 * SECOND, "successor's leader node", || async {
        let (data, _) = read(observer, LEADER).await?;
        let info = LeaderInfoCodec::Bincode.decode(&data).ok()?;
        (info.address == address && info.leader_session == leader_session).then_some(())
    })
    .await;
    let (recipient, watch) = probe::<WatchFired>();
    let (_, stat) = ops(observer)
        .send(Watched::new(GetData { path: LEADER.into() }, recipient))
        .await
        .unwrap()
        .expect("leader node");
    Published { stat, watch }
}

/// Asserts that nobody wrote the successor's node since `published` was taken.
async fn assert_untouched(
    observer: &Addr<ZkSession>,
    mut published: Published,
    address: &str,
    leader_session: uuid::Uuid,
) {
    let fired = published.watch.try_drain();
    assert!(fired.is_empty(), "the successor's leader node was written: {fired:?}");
    let (data, stat) = read(observer, LEADER).await.expect("leader node still there");
    let info = LeaderInfoCodec::Bincode.decode(&data).expect("decodable");
    assert_eq!((info.address.as_str(), info.leader_session), (address, leader_session));
    assert_eq!(
        (stat.czxid, stat.mzxid, stat.version, stat.ephemeral_owner),
        (published.stat.czxid, published.stat.mzxid, published.stat.version, published.stat.ephemeral_owner),
        "leader node recreated or rewritten"
    );
}

async fn latch_children(observer: &Addr<ZkSession>) -> Vec<String> {
    ops(observer).send(GetChildren { path: LATCH.into() }).await.unwrap().unwrap_or_default()
}

/// The old leader's actors (supervisor, latch, cache) run on an arbiter of their own, which the
/// test can freeze: its thread blocks until released, so their mailboxes fill up unprocessed
/// while ZooKeeper and everyone else go on.
#[actix_rt::test]
async fn leader_frozen_while_publishing_cannot_overwrite_its_successor() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _o) = connected_session(&cs, 10 * SECOND).await;
    let config = ElectionConfig::builder(LATCH).build().unwrap();

    // The old leader: confirms by hand, lives on its own arbiter.
    let (old_session, _old_states) = connected_session(&cs, 10 * SECOND).await;
    let arbiter = Arbiter::new();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let (session, cfg) = (old_session.clone(), config.clone());
    arbiter.spawn(async move {
        let _ = sender.send(ElectionSupervisor::start(session, cfg));
    });
    let old = receiver.await.expect("supervisor started");
    let mut old_events = subscribe(&old, "jm", "old:1", LEADER, false).await;
    let granted = expect_grant(&mut old_events, 5 * SECOND).await;
    let (new_session, _new_states) = connected_session(&cs, 10 * SECOND).await;
    let new = ElectionSupervisor::start(new_session.clone(), config);
    let mut new_events = subscribe(&new, "jm", "new:2", LEADER, true).await;
    eventually(5 * SECOND, "successor queued", || async { (latch_children(&observer).await.len() == 2).then_some(()) })
        .await;
    let old_latch_node = {
        let mut children = latch_children(&observer).await;
        children.sort_by_key(|c| c.rsplit('-').next().map(str::to_owned));
        format!("{LATCH}/{}", children[0])
    };

    // Freeze the old leader with its confirm in the mailbox: the publish starts the moment it
    // wakes up.
    let (release, frozen) = std::sync::mpsc::channel::<()>();
    arbiter.spawn_fn(move || {
        let _ = frozen.recv();
    });
    old.do_send(Confirm { component: "jm".into(), leader_session: granted });

    // Meanwhile it loses the latch with its session alive (its node deleted, as an operator or
    // a container cleanup would) and the successor takes over and publishes.
    ops(&observer).send(Delete { path: old_latch_node, version: None }).await.unwrap().expect("delete latch node");
    let successor = expect_grant(&mut new_events, 5 * SECOND).await;
    assert_eq!(expect_published(&mut new_events, 5 * SECOND).await, successor);
    let published = watch_published(&observer, "new:2", successor).await;

    // Wake the old leader: it handles the confirm (still leader as far as it knows), reads the
    // node and sends its write; ZooKeeper refuses it because the guard (its latch node) is gone.
    let multis_before = old_session.send(GetSessionMetrics).await.unwrap().requests.get(&RequestKind::Multi).copied();
    release.send(()).unwrap();
    old_events.until(5 * SECOND, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    eventually(5 * SECOND, "old leader back in line", || async {
        (latch_children(&observer).await.len() == 2).then_some(())
    })
    .await;

    let metrics = old.send(GetElectionMetrics).await.unwrap();
    let multis = old_session.send(GetSessionMetrics).await.unwrap().requests.get(&RequestKind::Multi).copied();
    assert_eq!(metrics.publishes, 0, "the deposed leader wrote its leader information");
    assert_eq!(metrics.confirms, 1, "the held confirm was not accepted, so no publish was attempted");
    assert!(
        multis.unwrap_or(0) > multis_before.unwrap_or(0),
        "the stale write never reached ZooKeeper, so the guard was not exercised"
    );
    assert!(!metrics.is_leader);
    assert!(!old_events.try_drain().iter().any(|e| matches!(e, LeadershipEvent::Published { .. })));
    assert_untouched(&observer, published, "new:2", successor).await;
    println!("stale multi-ops refused by the guard: {}", multis.unwrap_or(0) - multis_before.unwrap_or(0));
    arbiter.stop();
}

/// The other way a leader freezes: its network. Partitioned right after the grant with its
/// publish in flight, under the tolerant policy (it keeps believing it leads until `Lost`), it
/// is succeeded once the server expires its session; when the partition heals, nothing it sent
/// lands.
#[actix_rt::test]
async fn leader_partitioned_while_publishing_cannot_overwrite_its_successor() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let (observer, _o) = connected_session(&server.connect_string(), 10 * SECOND).await;
    let timeout = 2 * SECOND;
    let config = ElectionConfig::builder(LATCH).policy(ConnectionLossPolicy::SessionTolerant).build().unwrap();

    let (old_session, _s) = connected_session(&proxy.connect_string(), timeout).await;
    let old = ElectionSupervisor::start(old_session.clone(), config.clone());
    let mut old_events = subscribe(&old, "jm", "old:1", LEADER, false).await;
    let granted = expect_grant(&mut old_events, 5 * SECOND).await;
    let old_zk_session = old_session.send(GetStatus).await.unwrap().zk_session.unwrap();
    let (new_session, _n) = connected_session(&server.connect_string(), timeout).await;
    let new = ElectionSupervisor::start(new_session.clone(), config);
    let mut new_events = subscribe(&new, "jm", "new:2", LEADER, true).await;
    eventually(5 * SECOND, "successor queued", || async { (latch_children(&observer).await.len() == 2).then_some(()) })
        .await;

    // Partition, then confirm: the publish's first request is held in the partition.
    proxy.blackhole();
    old.send(Confirm { component: "jm".into(), leader_session: granted }).await.unwrap().expect("confirm accepted");
    let successor = expect_grant(&mut new_events, 4 * timeout).await;
    assert_eq!(expect_published(&mut new_events, 5 * SECOND).await, successor);
    let cons = server.four_letter("cons").unwrap();
    assert!(!cons.contains(&format!("sid={old_zk_session:#x}")), "successor granted while the old session lived");
    let published = watch_published(&observer, "new:2", successor).await;
    old_events.until(2 * timeout, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;

    // Heal: whatever the old leader had in flight is delivered now, into an expired session.
    proxy.pass();
    eventually(4 * timeout, "old leader back in line in a new session", || async {
        let status = old_session.send(GetStatus).await.ok()?;
        (status.is_connected()
            && status.zk_session != Some(old_zk_session)
            && latch_children(&observer).await.len() == 2)
            .then_some(())
    })
    .await;
    let metrics = old.send(GetElectionMetrics).await.unwrap();
    assert_eq!(metrics.publishes, 0, "the deposed leader wrote its leader information");
    assert!(!old_events.try_drain().iter().any(|e| matches!(e, LeadershipEvent::Published { .. })));
    assert_untouched(&observer, published, "new:2", successor).await;
}
