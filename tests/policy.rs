//! Connection-loss policies against a real ZooKeeper: what a leader keeps through a blip.
//!
//! - `Standard` (Curator, Flink): revoke on `Suspended`, a fresh grant (new leader session ID)
//!   after `Reconnected`.
//! - `SessionTolerant`: keep leadership through `Suspended` with the same leader session ID;
//!   revoke when the session's lease ends (no later than `Lost`); after a new session, start
//!   over.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use common::*;
use zk_election::session::GetStatus;
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::zk::{GetChildren, Stat};
use zk_election::{
    ConnectionLossPolicy, ConnectionState, ElectionConfig, ElectionSupervisor, HasLeadership, LeaderInfo,
    LeaderInfoCodec, LeadershipEvent, StopElection, StopSession, ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/policy/latch";
const LEADER: &str = "/policy/leader";
const COMPONENT: &str = "jm";

/// A contender process: its session (with a probe of its connection states), its supervisor
/// and the contender's events.
struct Process {
    session: Addr<ZkSession>,
    states: States,
    supervisor: Addr<ElectionSupervisor>,
    events: Events,
}

impl Process {
    async fn join(connect: &str, address: &str, policy: ConnectionLossPolicy, timeout: Duration) -> Process {
        let (session, states) = connected_session(connect, timeout).await;
        let config = ElectionConfig::builder(LATCH).policy(policy).build().unwrap();
        let supervisor = ElectionSupervisor::start(session.clone(), config);
        let events = subscribe(&supervisor, COMPONENT, address, LEADER, true).await;
        Process { session, states, supervisor, events }
    }

    async fn has_leadership(&self, leader_session: uuid::Uuid) -> bool {
        self.supervisor.send(HasLeadership::leader_session(COMPONENT, leader_session)).await.unwrap()
    }

    async fn zk_session_id(&self) -> i64 {
        self.session.send(GetStatus).await.unwrap().zk_session.expect("session")
    }

    /// Waits for a grant and its publish; returns the leader session ID.
    async fn leads(&mut self, within: Duration) -> uuid::Uuid {
        let granted = expect_grant(&mut self.events, within).await;
        assert_eq!(expect_published(&mut self.events, within).await, granted);
        granted
    }
}

/// The leader node's content and stat.
async fn leader_node(observer: &Addr<ZkSession>) -> (LeaderInfo, Stat) {
    let (data, stat) = read(observer, LEADER).await.expect("leader node exists");
    (LeaderInfoCodec::Bincode.decode(&data).expect("decodable leader node"), stat)
}

fn is_leadership_change(event: &LeadershipEvent) -> bool {
    matches!(event, LeadershipEvent::Granted { .. } | LeadershipEvent::Revoked { .. })
}

#[actix_rt::test]
async fn standard_revokes_on_suspended_and_grants_anew_after_reconnect() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let (observer, _s) = connected_session(&server.connect_string(), 10 * SECOND).await;
    let timeout = 3 * SECOND;
    let mut leader = Process::join(&proxy.connect_string(), "a:1", ConnectionLossPolicy::Standard, timeout).await;
    let first = leader.leads(5 * SECOND).await;
    let zk_session = leader.zk_session_id().await;

    proxy.blackhole();
    let suspended_at = expect_state(&mut leader.states, ConnectionState::Suspended, timeout).await;
    let (revoked_at, _) = leader.events.until(timeout, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    assert!(revoked_at >= suspended_at, "revoked before the suspension");
    assert!(revoked_at - suspended_at < SECOND, "revoke came {:?} after Suspended", revoked_at - suspended_at);
    assert!(!leader.has_leadership(first).await);
    proxy.pass();
    let (_, reconnected) = leader.states.next(timeout).await;
    assert_eq!(reconnected.state, ConnectionState::Reconnected { same_session: true });

    // Same ZooKeeper session, new leadership: a fresh leader session ID, published.
    let second = leader.leads(5 * SECOND).await;
    assert_ne!(second, first, "a re-grant must come with a new leader session ID");
    assert_eq!(leader.zk_session_id().await, zk_session);
    assert!(leader.has_leadership(second).await && !leader.has_leadership(first).await);
    let (info, stat) = leader_node(&observer).await;
    assert_eq!((info.address.as_str(), info.leader_session), ("a:1", second));
    assert_eq!(stat.ephemeral_owner, zk_session);
}

#[actix_rt::test]
async fn session_tolerant_keeps_leadership_through_a_short_partition() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let (observer, _s) = connected_session(&server.connect_string(), 10 * SECOND).await;
    let timeout = 3 * SECOND;
    let policy = ConnectionLossPolicy::SessionTolerant;
    let mut leader = Process::join(&proxy.connect_string(), "a:1", policy, timeout).await;
    let granted = leader.leads(5 * SECOND).await;
    let (_, stat_before) = leader_node(&observer).await;

    proxy.blackhole();
    expect_state(&mut leader.states, ConnectionState::Suspended, timeout).await;
    assert!(leader.has_leadership(granted).await, "leadership dropped on Suspended");
    proxy.pass();
    let (_, reconnected) = leader.states.next(timeout).await;
    assert_eq!(reconnected.state, ConnectionState::Reconnected { same_session: true });

    // Give a wrong revoke or re-grant time to show (they follow the reconnect within
    // milliseconds); none may come.
    let seen = leader.events.drain_for(SECOND).await;
    assert!(!seen.iter().any(is_leadership_change), "leadership changed across a blip: {seen:?}");
    assert!(leader.has_leadership(granted).await);
    let (info, stat_after) = leader_node(&observer).await;
    assert_eq!((info.address.as_str(), info.leader_session), ("a:1", granted));
    assert_eq!((stat_after.czxid, stat_after.mzxid), (stat_before.czxid, stat_before.mzxid), "leader node rewritten");
}

#[actix_rt::test]
async fn session_tolerant_keeps_leadership_through_a_server_restart() {
    init_tracing();
    let server = Arc::new(ZkServer::start().expect("zookeeper"));
    // Long enough for a JVM restart to fit in well before Lost (about 6 s after Suspended).
    let timeout = 10 * SECOND;
    let policy = ConnectionLossPolicy::SessionTolerant;
    let mut leader = Process::join(&server.connect_string(), "a:1", policy, timeout).await;
    let granted = leader.leads(5 * SECOND).await;
    let zk_session = leader.zk_session_id().await;

    let s = server.clone();
    blocking(move || s.restart()).await.expect("restart");
    expect_state(&mut leader.states, ConnectionState::Suspended, timeout).await;
    let (_, reconnected) = leader.states.next(timeout).await;
    assert_eq!(reconnected.state, ConnectionState::Reconnected { same_session: true });

    let seen = leader.events.drain_for(SECOND).await;
    assert!(!seen.iter().any(is_leadership_change), "leadership changed across a restart: {seen:?}");
    assert!(leader.has_leadership(granted).await);
    let (observer, _s) = connected_session(&server.connect_string(), 10 * SECOND).await;
    let (info, stat) = leader_node(&observer).await;
    assert_eq!((info.address.as_str(), info.leader_session), ("a:1", granted));
    assert_eq!(stat.ephemeral_owner, zk_session);
}

#[actix_rt::test]
async fn session_tolerant_revokes_when_the_lease_ends_and_starts_over_in_a_new_session() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let (observer, _s) = connected_session(&server.connect_string(), 10 * SECOND).await;
    let timeout = 2 * SECOND;
    let policy = ConnectionLossPolicy::SessionTolerant;
    let mut old = Process::join(&proxy.connect_string(), "old:1", policy, timeout).await;
    let first = old.leads(5 * SECOND).await;
    let old_zk_session = old.zk_session_id().await;
    let mut successor = Process::join(&server.connect_string(), "new:2", policy, timeout).await;
    eventually(5 * SECOND, "successor queued", || async {
        let children = ops(&observer).send(GetChildren { path: LATCH.into() }).await.unwrap().ok()?;
        (children.len() == 2).then_some(())
    })
    .await;

    let partitioned_at = Instant::now();
    proxy.blackhole();
    let suspended_at = expect_state(&mut old.states, ConnectionState::Suspended, timeout).await;
    let lost_at = expect_state(&mut old.states, ConnectionState::Lost, 2 * timeout).await;
    let (revoked_at, _) = old.events.until(timeout, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    // Not on Suspended: the revoke comes when the session's lease ends, a little before Lost
    // (both before the server could expire the session, one session timeout after it last
    // heard from us).
    assert!(
        revoked_at >= suspended_at + timeout / 4 && revoked_at <= lost_at && lost_at > suspended_at,
        "Suspended {:?}, revoked {:?}, Lost {:?} after the partition",
        suspended_at - partitioned_at,
        revoked_at - partitioned_at,
        lost_at - partitioned_at
    );
    assert!(
        lost_at - partitioned_at <= timeout + SECOND / 2,
        "Lost {:?} after the partition",
        lost_at - partitioned_at
    );
    let successor_granted = successor.leads(2 * timeout).await;
    let cons = server.four_letter("cons").unwrap();
    assert!(!cons.contains(&format!("sid={old_zk_session:#x}")), "successor granted while the old session lived");
    println!(
        "partition → Suspended {:?}, → Lost {:?}, → revoked {:?}; successor granted {:?} after the partition",
        suspended_at - partitioned_at,
        lost_at - partitioned_at,
        revoked_at - partitioned_at,
        partitioned_at.elapsed()
    );

    // Back in a new session: a follower with a fresh latch node, no grant while the
    // successor leads.
    proxy.pass();
    let (_, back) = old.states.until(4 * timeout, |e| matches!(e.state, ConnectionState::Reconnected { .. })).await;
    assert_eq!(back.state, ConnectionState::Reconnected { same_session: false });
    let new_zk_session = old.zk_session_id().await;
    assert_ne!(new_zk_session, old_zk_session);
    eventually(2 * timeout, "old leader back in the latch in its new session", || async {
        let children = ops(&observer).send(GetChildren { path: LATCH.into() }).await.unwrap().ok()?;
        let mut owners = Vec::new();
        for child in children {
            owners.push(read(&observer, &format!("{LATCH}/{child}")).await?.1.ephemeral_owner);
        }
        (owners.len() == 2 && owners.contains(&new_zk_session)).then_some(())
    })
    .await;
    assert!(!old.events.try_drain().iter().any(|e| matches!(e, LeadershipEvent::Granted { .. })));

    // When the successor goes, the old leader starts over: a new leader session ID.
    successor.supervisor.send(StopElection).await.unwrap().unwrap();
    successor.session.send(StopSession).await.unwrap();
    let again = old.leads(5 * SECOND).await;
    assert!(again != first && again != successor_granted);
    let (info, stat) = leader_node(&observer).await;
    assert_eq!((info.address.as_str(), info.leader_session, stat.ephemeral_owner), ("old:1", again, new_zk_session));
}
