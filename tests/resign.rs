//! Resign (hand leadership over, rejoin at the back), leaving, and the fencing query
//! `HasLeadership`, against a real ZooKeeper.

mod common;

use std::time::Duration;

use actix::prelude::*;
use common::*;
use uuid::Uuid;
use zk_election::latch::participants_in_order;
use zk_election::session::GetSessionMetrics;
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::zk::GetChildren;
use zk_election::{
    Confirm, ElectionConfig, ElectionError, HasLeadership, LeadershipEvent, Resign, StopElection, StopSession,
    ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/resign/latch";
const LEADER: &str = "/resign/leader";
const COMPONENT: &str = "jobmanager";

/// Resign helpers over the shared test participant.
trait ResignParticipant {
    async fn has_leadership(&self, leader_session: Uuid) -> bool;
    async fn resign(&self) -> Result<(), ElectionError>;
    async fn leave(&self) -> Result<(), ElectionError>;
    async fn grants_within(&mut self, window: Duration) -> usize;
}

async fn join(connect: &str, address: &str, auto_confirm: bool, timeout: Duration) -> Participant {
    let config = ElectionConfig::builder(LATCH).build().unwrap();
    Participant::start(connect, config, COMPONENT, address, LEADER, auto_confirm, timeout).await
}

impl ResignParticipant for Participant {
    async fn has_leadership(&self, leader_session: Uuid) -> bool {
        self.supervisor.send(HasLeadership::leader_session(COMPONENT, leader_session)).await.unwrap()
    }

    async fn resign(&self) -> Result<(), ElectionError> {
        self.supervisor.send(Resign::new(COMPONENT)).await.unwrap()
    }

    async fn leave(&self) -> Result<(), ElectionError> {
        self.supervisor.send(StopElection).await.unwrap()
    }

    /// Grants this participant receives within `window` (for "stays a follower" checks).
    async fn grants_within(&mut self, window: Duration) -> usize {
        let events = self.events.drain_for(window).await;
        events.iter().filter(|e| matches!(e, LeadershipEvent::Granted { .. })).count()
    }
}

/// The addresses queued in the latch, leader first.
async fn latch_line(observer: &Addr<ZkSession>) -> Vec<String> {
    let children = ops(observer).send(GetChildren { path: LATCH.into() }).await.unwrap().unwrap_or_default();
    let mut line = Vec::new();
    for name in participants_in_order(&children) {
        if let Some((data, _)) = read(observer, &format!("{LATCH}/{name}")).await {
            line.push(String::from_utf8(data).unwrap());
        }
    }
    line
}

/// Waits until the latch holds exactly `expected`, in this order.
async fn await_line(observer: &Addr<ZkSession>, expected: &[&str]) {
    eventually(5 * SECOND, &format!("latch line {expected:?}"), || async {
        (latch_line(observer).await == expected).then_some(())
    })
    .await;
}

/// Waits until the leader node names `address`.
async fn await_leader_address(observer: &Addr<ZkSession>, address: &str) {
    eventually(5 * SECOND, &format!("leader node names {address}"), || async {
        let (data, _) = read(observer, LEADER).await?;
        let info = zk_election::LeaderInfoCodec::Bincode.decode(&data).ok()?;
        (info.address == address).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn resign_hands_over_and_rejoins_at_the_back() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    let mut line = Vec::new();
    for (i, address) in ["a:1", "b:2", "c:3"].into_iter().enumerate() {
        line.push(join(&cs, address, true, 4 * SECOND).await);
        await_line(&observer, &["a:1", "b:2", "c:3"][..=i]).await;
    }
    let [a, b, c] = &mut line[..] else { unreachable!() };
    let a_id = expect_grant(&mut a.events, 5 * SECOND).await;
    assert_eq!(expect_published(&mut a.events, 5 * SECOND).await, a_id);

    // a resigns: b leads, a queues behind c and stays a follower.
    tokio::time::sleep(Duration::from_millis(300)).await; // a's cache reads a's node
    let b_before = b.session.send(GetSessionMetrics).await.unwrap().total_requests();
    a.resign().await.expect("resign");
    a.events.until(5 * SECOND, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    assert!(!a.has_leadership(a_id).await, "the resigned ID still passes the fencing check");
    let b_id = expect_grant(&mut b.events, 5 * SECOND).await;
    assert_eq!(expect_published(&mut b.events, 5 * SECOND).await, b_id);
    await_leader_address(&observer, &b.address).await;
    await_line(&observer, &["b:2", "c:3", "a:1"]).await;
    assert_eq!(a.grants_within(Duration::from_millis(300)).await, 0, "the resigner was granted again");
    // a's leader node went with its latch node: b found the place free (list, proof of first
    // place at the leader, create, watch), and lists the line with a watch (preemption).
    let spent = || async { b.session.send(GetSessionMetrics).await.unwrap().total_requests() - b_before };
    eventually(5 * SECOND, "the successor's requests", || async { (spent().await >= 5).then_some(()) }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(spent().await, 5, "requests of the successor");
    assert!(c.events.try_drain().is_empty(), "c was woken although b was next");

    // b resigns: c (not a, who is behind c) takes over.
    b.resign().await.expect("resign");
    let c_id = expect_grant(&mut c.events, 5 * SECOND).await;
    assert_eq!(expect_published(&mut c.events, 5 * SECOND).await, c_id);
    await_leader_address(&observer, &c.address).await;
    await_line(&observer, &["c:3", "a:1", "b:2"]).await;
    assert_eq!(a.grants_within(Duration::from_millis(300)).await, 0);

    // c resigns: a's turn comes round again.
    c.resign().await.expect("resign");
    let a_again = expect_grant(&mut a.events, 5 * SECOND).await;
    assert_ne!(a_again, a_id, "a new grant comes with a new leader session ID");
    await_leader_address(&observer, &a.address).await;
    assert!(a.has_leadership(a_again).await);
    assert!(!b.has_leadership(b_id).await && !c.has_leadership(c_id).await);
}

#[actix_rt::test]
async fn stop_leaves_the_election_and_a_stopped_one_cannot_resign() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    let mut leaving = join(&cs, "leaving:1", true, 4 * SECOND).await;
    await_line(&observer, &["leaving:1"]).await;
    let mut next = join(&cs, "next:2", true, 4 * SECOND).await;
    await_line(&observer, &["leaving:1", "next:2"]).await;
    let id = expect_grant(&mut leaving.events, 5 * SECOND).await;
    expect_published(&mut leaving.events, 5 * SECOND).await;
    await_leader_address(&observer, "leaving:1").await;

    let unknown = leaving.supervisor.send(Resign::new("nobody")).await.unwrap();
    assert_eq!(unknown, Err(ElectionError::UnknownContender("nobody".into())), "a stranger resigns");
    assert_eq!(latch_line(&observer).await, ["leaving:1", "next:2"], "the stranger's resign moved the line");
    leaving.leave().await.expect("leave");
    // Our nodes are gone when the answer arrives, and the contender is told nothing more.
    assert_eq!(latch_line(&observer).await, ["next:2"]);
    let next_id = expect_grant(&mut next.events, 5 * SECOND).await;
    expect_published(&mut next.events, 5 * SECOND).await;
    await_leader_address(&observer, "next:2").await;
    assert!(!leaving.has_leadership(id).await);
    assert_eq!(leaving.resign().await, Err(ElectionError::Stopped));
    assert!(leaving.events.drain_for(Duration::from_millis(300)).await.is_empty(), "events after leaving");
    assert!(next.has_leadership(next_id).await);
    leaving.session.send(StopSession).await.unwrap();
}

#[actix_rt::test]
async fn has_leadership_is_true_only_for_the_current_confirmed_id() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let mut solo = join(&server.connect_string(), "solo:1", false, 4 * SECOND).await;
    let first = expect_grant(&mut solo.events, 5 * SECOND).await;
    assert!(!solo.has_leadership(first).await, "granted but not confirmed yet");
    solo.supervisor.send(Confirm { component: COMPONENT.into(), leader_session: first }).await.unwrap().unwrap();
    assert!(solo.has_leadership(first).await);
    assert!(!solo.has_leadership(Uuid::new_v4()).await, "an unknown ID passes");
    let other_component = HasLeadership::leader_session("dispatcher", first);
    assert!(!solo.supervisor.send(other_component).await.unwrap(), "an unknown component passes");

    // Alone in the latch, a resigner leads again at once, but under a new ID.
    solo.resign().await.unwrap();
    let second = expect_grant(&mut solo.events, 5 * SECOND).await;
    assert_ne!(second, first);
    assert!(!solo.has_leadership(first).await, "an old ID passes after a new grant");
    assert!(!solo.has_leadership(second).await, "the new ID passes before it is confirmed");
    solo.supervisor.send(Confirm { component: COMPONENT.into(), leader_session: second }).await.unwrap().unwrap();
    assert!(solo.has_leadership(second).await);

    solo.supervisor.send(StopElection).await.unwrap().unwrap();
    assert!(!solo.has_leadership(second).await, "leadership passes after stop");
}

#[actix_rt::test]
async fn has_leadership_fails_as_soon_as_the_connection_is_suspended() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let mut leader = join(&proxy.connect_string(), "fenced:1", true, 4 * SECOND).await;
    let id = expect_grant(&mut leader.events, 5 * SECOND).await;
    expect_published(&mut leader.events, 5 * SECOND).await;
    assert!(leader.has_leadership(id).await);

    // Standard policy: a leader that cannot reach ZooKeeper stops passing the check at once
    // (well before its session could expire and someone else be granted).
    proxy.blackhole();
    leader.events.until(10 * SECOND, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    assert!(!leader.has_leadership(id).await);
    proxy.pass();
    let again = expect_grant(&mut leader.events, 10 * SECOND).await;
    expect_published(&mut leader.events, 5 * SECOND).await;
    assert!(!leader.has_leadership(id).await, "the pre-outage ID passes again");
    assert!(leader.has_leadership(again).await);
}
