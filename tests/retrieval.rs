//! Leader retrieval against a real ZooKeeper: following leader changes, both codecs, garbage in
//! the leader node, ZooKeeper restarts, and lost sessions (the leader's and our own).

mod common;

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use common::*;
use uuid::Uuid;
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::zk::{Acl, AuthId, Create, Delete, NodeAcl, NodeMode, Permission, SetData};
use zk_election::{
    ConfigError, ConnectionLossPolicy, ElectionConfig, ElectionSupervisor, GetLeader, LeaderChanged, LeaderInfo,
    LeaderInfoCodec, LeaderRetriever, StopElection, StopRetriever, StopSession, SubscribeLeader, ZkError, ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/retrieval/latch";
const LEADER: &str = "/retrieval/leader";

/// What a subscriber of a retriever is told.
type Changes = Received<LeaderChanged>;

/// A retriever of `LEADER` over `session` and a probe subscribed to it.
async fn retriever(session: &Addr<ZkSession>, codec: LeaderInfoCodec) -> (Addr<LeaderRetriever>, Changes) {
    let retriever = LeaderRetriever::start(session.clone(), LEADER, codec).expect("valid leader path");
    let (recipient, changes) = probe::<LeaderChanged>();
    retriever.send(SubscribeLeader(recipient)).await.expect("retriever alive");
    (retriever, changes)
}

fn leader(address: &str, leader_session: Uuid) -> LeaderChanged {
    LeaderChanged::Leader { address: address.to_owned(), leader_session, fencing_token: None }
}

/// Waits until the subscriber is told exactly `expected`; returns everything told up to then.
async fn await_change(changes: &mut Changes, expected: &LeaderChanged, within: Duration) -> Vec<LeaderChanged> {
    let mut seen = Vec::new();
    changes
        .until(within, |change| {
            seen.push(change.clone());
            change == expected
        })
        .await;
    seen
}

fn assert_no_repeats(seen: &[LeaderChanged]) {
    for pair in seen.windows(2) {
        assert_ne!(pair[0], pair[1], "the same value was told twice in a row: {seen:?}");
    }
}

/// One contender process: its own session, supervisor and auto-confirming contender.
struct Contender {
    address: String,
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
    events: Events,
    states: States,
}

impl Contender {
    async fn join(connect: &str, address: &str, timeout: Duration, policy: ConnectionLossPolicy) -> Contender {
        let (session, states) = connected_session(connect, timeout).await;
        let config = ElectionConfig::builder(LATCH).policy(policy).build().unwrap();
        let supervisor = ElectionSupervisor::start(session.clone(), config);
        let events = subscribe(&supervisor, "jobmanager", address, LEADER, true).await;
        Contender { address: address.to_owned(), session, supervisor, events, states }
    }

    /// Waits until this contender's own session is back after an outage: every session
    /// reconnects on its own schedule, and a stop before that is deferred, not clean.
    async fn reconnected(&mut self) {
        let back = zk_election::ConnectionState::Reconnected { same_session: true };
        expect_state(&mut self.states, back, 15 * SECOND).await;
    }

    /// Waits for the next publish and returns what the leader node now says.
    async fn published(&mut self) -> LeaderChanged {
        let (leader_session, fencing_token) = expect_publication(&mut self.events, 10 * SECOND).await;
        LeaderChanged::Leader { address: self.address.clone(), leader_session, fencing_token: Some(fencing_token) }
    }

    async fn leave(self) {
        self.supervisor.send(StopElection).await.unwrap().expect("clean stop");
        self.session.send(StopSession).await.unwrap();
    }
}

#[actix_rt::test]
async fn retriever_follows_three_leader_changes_in_order() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    let (_retriever, mut changes) = retriever(&observer, LeaderInfoCodec::Bincode).await;
    assert_eq!(changes.next(5 * SECOND).await.1, LeaderChanged::NoLeader, "no leader node yet");

    // Join one at a time, so the latch order is the join order.
    let mut contenders = Vec::new();
    for i in 0..4 {
        contenders.push(Contender::join(&cs, &format!("10.0.0.{i}:6123"), 4 * SECOND, Default::default()).await);
        await_children(&observer, LATCH, i + 1, 5 * SECOND).await;
    }
    let mut expected = Vec::new();
    let mut seen = Vec::new();
    for round in 0..4 {
        let published = contenders[0].published().await;
        seen.extend(await_change(&mut changes, &published, 5 * SECOND).await);
        expected.push(published);
        let old = contenders.remove(0);
        if round < 3 {
            old.leave().await;
        }
    }
    let leaders: Vec<&LeaderChanged> = seen.iter().filter(|c| matches!(c, LeaderChanged::Leader { .. })).collect();
    assert_eq!(leaders, expected.iter().collect::<Vec<_>>(), "leaders told out of order, or extra ones");
    assert!(seen.iter().all(|c| !matches!(c, LeaderChanged::Undecodable { .. })), "{seen:?}");
    assert_no_repeats(&seen);
}

#[actix_rt::test]
async fn retriever_survives_a_zookeeper_restart() {
    init_tracing();
    let server = Arc::new(ZkServer::start().expect("zookeeper"));
    let cs = server.connect_string();
    // Long session timeouts: every session outlives the restart.
    let timeout = 10 * SECOND;
    let (observer, mut states) = connected_session(&cs, timeout).await;
    let (_retriever, mut changes) = retriever(&observer, LeaderInfoCodec::Bincode).await;
    let mut first = Contender::join(&cs, "first:1", timeout, ConnectionLossPolicy::SessionTolerant).await;
    let mut seen = await_change(&mut changes, &first.published().await, 10 * SECOND).await;
    let second = Contender::join(&cs, "second:2", timeout, ConnectionLossPolicy::SessionTolerant).await;
    await_children(&observer, LATCH, 2, 5 * SECOND).await;

    let restarting = server.clone();
    blocking(move || restarting.kill()).await.expect("kill");
    expect_state(&mut states, zk_election::ConnectionState::Suspended, 5 * SECOND).await;
    let restarting = server.clone();
    blocking(move || restarting.restart()).await.expect("restart");
    expect_state(&mut states, zk_election::ConnectionState::Reconnected { same_session: true }, 15 * SECOND).await;

    // The watch survived the restart: the next leader is seen.
    let mut second = second;
    first.reconnected().await;
    second.reconnected().await;
    first.leave().await;
    let next = second.published().await;
    seen.extend(await_change(&mut changes, &next, 10 * SECOND).await);
    assert_no_repeats(&seen);
    assert!(!seen.iter().any(|c| matches!(c, LeaderChanged::Undecodable { .. })), "{seen:?}");
    // And it is still armed afterwards.
    second.leave().await;
    await_change(&mut changes, &LeaderChanged::NoLeader, 5 * SECOND).await;
}

#[actix_rt::test]
async fn no_leader_when_the_leaders_session_is_lost() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let (observer, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    let (_retriever, mut changes) = retriever(&observer, LeaderInfoCodec::Bincode).await;
    let timeout = 2 * SECOND;
    let mut partitioned = Contender::join(&proxy.connect_string(), "partitioned:1", timeout, Default::default()).await;
    let before = partitioned.published().await;
    await_change(&mut changes, &before, 5 * SECOND).await;

    // The server expires the partitioned leader's session and drops its ephemeral leader node.
    proxy.blackhole();
    let mut seen = await_change(&mut changes, &LeaderChanged::NoLeader, 4 * timeout).await;
    assert_eq!(seen, vec![LeaderChanged::NoLeader]);

    // Back on the network with a new session, it leads again with a new leader session ID.
    proxy.pass();
    let after = partitioned.published().await;
    assert_ne!(after, before);
    seen.extend(await_change(&mut changes, &after, 5 * SECOND).await);
    assert_eq!(seen, vec![LeaderChanged::NoLeader, after]);
}

#[actix_rt::test]
async fn no_leader_while_our_own_session_is_lost_then_reread() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let mut leader = Contender::join(&server.connect_string(), "steady:1", 4 * SECOND, Default::default()).await;
    let (observer, mut states) = connected_session(&proxy.connect_string(), 2 * SECOND).await;
    let (retriever, mut changes) = retriever(&observer, LeaderInfoCodec::Bincode).await;
    let steady = leader.published().await;
    await_change(&mut changes, &steady, 5 * SECOND).await;

    proxy.blackhole();
    expect_state(&mut states, zk_election::ConnectionState::Suspended, 5 * SECOND).await;
    // Suspended alone changes nothing: the leader may well be alive.
    assert_eq!(retriever.send(GetLeader).await.unwrap(), Some(steady.clone()));
    expect_state(&mut states, zk_election::ConnectionState::Lost, 5 * SECOND).await;
    assert_eq!(changes.next(SECOND).await.1, LeaderChanged::NoLeader);

    // The node did not change meanwhile, yet it is read again and told again.
    proxy.pass();
    expect_state(&mut states, zk_election::ConnectionState::Reconnected { same_session: false }, 15 * SECOND).await;
    assert_eq!(changes.next(5 * SECOND).await.1, steady);
    assert!(changes.drain_for(Duration::from_millis(300)).await.is_empty());
}

#[actix_rt::test]
async fn both_codecs_and_undecodable_data() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (vandal, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    let (_bincode, mut bincode) = retriever(&vandal, LeaderInfoCodec::Bincode).await;
    let (_java, mut java) = retriever(&vandal, LeaderInfoCodec::Java).await;
    for changes in [&mut bincode, &mut java] {
        assert_eq!(changes.next(5 * SECOND).await.1, LeaderChanged::NoLeader);
    }
    let info = LeaderInfo::new("akka.tcp://flink@10.0.0.7:6123/user/rpc/jobmanager_1", Uuid::new_v4());
    let told = leader(&info.address, info.leader_session);
    let write = |data: Vec<u8>| {
        let vandal = vandal.clone();
        async move { ops(&vandal).send(SetData { path: LEADER.into(), data, version: None }).await.unwrap().unwrap() }
    };

    let as_bincode = LeaderInfoCodec::Bincode.encode(&info).unwrap();
    create_persistent(&vandal, LEADER, &as_bincode).await;
    assert_eq!(bincode.next(5 * SECOND).await.1, told);
    assert_eq!(java.next(5 * SECOND).await.1, LeaderChanged::Undecodable { bytes: as_bincode.len() });

    let as_java = LeaderInfoCodec::Java.encode(&info).unwrap();
    write(as_java.clone()).await;
    assert_eq!(bincode.next(5 * SECOND).await.1, LeaderChanged::Undecodable { bytes: as_java.len() });
    assert_eq!(java.next(5 * SECOND).await.1, told);

    let garbage: Vec<u8> = (0..37u8).map(|b| b.wrapping_mul(91)).collect();
    write(garbage).await;
    for changes in [&mut bincode, &mut java] {
        assert_eq!(changes.next(5 * SECOND).await.1, LeaderChanged::Undecodable { bytes: 37 });
    }
    // Empty data reads as "no leader", as in Flink's retrieval service.
    write(Vec::new()).await;
    for changes in [&mut bincode, &mut java] {
        assert_eq!(changes.next(5 * SECOND).await.1, LeaderChanged::NoLeader);
    }
    write(as_java).await;
    assert_eq!(java.next(5 * SECOND).await.1, told);
    ops(&vandal).send(Delete { path: LEADER.into(), version: None }).await.unwrap().unwrap();
    assert_eq!(java.next(5 * SECOND).await.1, LeaderChanged::NoLeader);
    // Bincode went Undecodable → Undecodable (another length) → NoLeader, in order.
    assert_eq!(bincode.next(5 * SECOND).await.1, LeaderChanged::Undecodable { bytes: 84 + info.address.len() });
    assert_eq!(bincode.next(5 * SECOND).await.1, LeaderChanged::NoLeader);
}

#[actix_rt::test]
async fn unreadable_leader_node_is_reported_and_still_followed() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (vandal, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    // A leader node nobody may read, not even its creator. (ZooKeeper does not notify watchers
    // of changes they may not read, so the retriever starts when the node is already there.)
    create_persistent(&vandal, "/retrieval", b"").await;
    let write_only = vec![Acl::new(Permission::WRITE, AuthId::anyone())];
    let locked = Create::new(LEADER, b"secret".to_vec(), NodeMode::Persistent);
    ops(&vandal).send(locked.acl(NodeAcl::Custom(write_only))).await.unwrap().unwrap();
    let (_retriever, mut changes) = retriever(&vandal, LeaderInfoCodec::Bincode).await;
    assert_eq!(changes.next(5 * SECOND).await.1, LeaderChanged::Unreadable { error: ZkError::NoAuth });
    // It is read again while unreadable: the retriever notices it go.
    ops(&vandal).send(Delete { path: LEADER.into(), version: None }).await.unwrap().unwrap();
    assert_eq!(changes.next(5 * SECOND).await.1, LeaderChanged::NoLeader);
}

#[actix_rt::test]
async fn late_subscribers_get_the_current_value_and_nothing_repeats() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (vandal, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    let mut contender = Contender::join(&server.connect_string(), "only:1", 4 * SECOND, Default::default()).await;
    let retriever = LeaderRetriever::start(vandal.clone(), LEADER, LeaderInfoCodec::Bincode).unwrap();
    let current = contender.published().await;
    eventually(5 * SECOND, "retriever knows the leader", || async {
        (retriever.send(GetLeader).await.unwrap().as_ref() == Some(&current)).then_some(())
    })
    .await;

    let mut late = Vec::new();
    for _ in 0..3 {
        let (recipient, changes) = probe::<LeaderChanged>();
        retriever.send(SubscribeLeader(recipient)).await.unwrap();
        late.push(changes);
    }
    for changes in &mut late {
        assert_eq!(changes.next(SECOND).await.1, current, "a new subscriber is told the current value at once");
    }
    // Rewriting the same bytes fires the watch and bumps the version, but tells nobody anything.
    let (data, _) = read(&vandal, LEADER).await.unwrap();
    ops(&vandal).send(SetData { path: LEADER.into(), data, version: None }).await.unwrap().unwrap();
    for changes in &mut late {
        assert!(changes.drain_for(Duration::from_millis(500)).await.is_empty());
    }

    // After stop, nobody hears anything more, and the actor is gone.
    retriever.send(StopRetriever).await.unwrap();
    contender.leave().await;
    for changes in &mut late {
        assert!(changes.drain_for(Duration::from_millis(300)).await.is_empty());
    }
    assert!(retriever.send(GetLeader).await.is_err(), "retriever still running after stop");
}

#[actix_rt::test]
async fn invalid_leader_paths_are_refused() {
    // Refused before anything is read: no server needed.
    let session = ZkSession::connect("127.0.0.1:9").unwrap();
    for bad in ["", "relative", "/trailing/", "/a//b", "/"] {
        let result = LeaderRetriever::new(session.clone(), bad, LeaderInfoCodec::Bincode);
        assert!(matches!(result, Err(ConfigError::InvalidPath { what: "leader path", .. })), "{bad:?} accepted");
    }
    session.send(StopSession).await.unwrap();
}
