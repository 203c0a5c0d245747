//! Fencing tokens and leader-only writes against a real ZooKeeper: the token is the czxid of the
//! leader's latch node as any client reads it, strictly increases over a hundred leadership
//! changes of every kind (resign, stop, session expiry, latch-path deletion, a Curator peer in
//! line, a frozen zk-elect process), a revoked or expired leader's writes never land, and the
//! strict check says no once a successor leads.

mod common;

use std::time::{Duration, Instant};

use actix::prelude::*;
use common::*;
use uuid::Uuid;
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::zk::{Create, Delete, GetChildren, NodeMode, WriteOp, WriteResult};
use zk_election::{
    ElectionConfig, ElectionError, GetFencingToken, HasLeadership, LeaderWrite, LeadershipClaim, LeadershipEvent,
    ProveLeadership, Resign, StopElection, StopSession, ZkError, ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/fencing/latch";
const LEADER: &str = "/fencing/leader";
const COMPONENT: &str = "jobmanager";
const TIMEOUT: Duration = Duration::from_secs(2);

fn config() -> ElectionConfig {
    ElectionConfig::builder(LATCH).build().expect("valid config")
}

async fn join(connect: &str, address: &str) -> Participant {
    Participant::start(connect, config(), COMPONENT, address, LEADER, true, TIMEOUT).await
}

/// The leader session and fencing token of the next grant `participant` is told about.
async fn expect_granted(participant: &mut Participant, within: Duration) -> (Uuid, i64) {
    match participant.events.until(within, |e| matches!(e, LeadershipEvent::Granted { .. })).await.1 {
        LeadershipEvent::Granted { leader_session, fencing_token, .. } => (leader_session, fencing_token),
        _ => unreachable!(),
    }
}

/// The czxid of the latch node whose data (participant ID) is `address`, as an outsider reads it.
async fn czxid_of(observer: &Addr<ZkSession>, address: &str) -> Option<i64> {
    let children = ops(observer).send(GetChildren { path: LATCH.into() }).await.ok()?.ok()?;
    for child in children {
        if let Some((data, stat)) = read(observer, &format!("{LATCH}/{child}")).await {
            if data == address.as_bytes() {
                return Some(stat.czxid);
            }
        }
    }
    None
}

#[actix_rt::test]
async fn the_token_is_the_czxid_of_our_latch_node_and_names_the_leadership() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (observer, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    let mut a = join(&server.connect_string(), "a:1").await;
    let (leader_session, token) = expect_granted(&mut a, 5 * SECOND).await;
    let (_, published) = expect_publication(&mut a.events, 5 * SECOND).await;
    assert_eq!(published, token);
    assert_eq!(czxid_of(&observer, "a:1").await, Some(token), "token = czxid of our latch node");

    let ask = |claim| a.supervisor.send(HasLeadership { component: COMPONENT.into(), claim });
    assert!(ask(LeadershipClaim::FencingToken(token)).await.unwrap());
    assert!(ask(LeadershipClaim::LeaderSession(leader_session)).await.unwrap());
    assert!(!ask(LeadershipClaim::FencingToken(token - 1)).await.unwrap());
    assert!(!ask(LeadershipClaim::LeaderSession(Uuid::new_v4())).await.unwrap());
    let current = a.supervisor.send(GetFencingToken { component: COMPONENT.into() }).await.unwrap();
    assert_eq!(current, Some(token));

    // The published record carries it, for retrievers.
    let (data, _) = read(&observer, LEADER).await.expect("leader node");
    let info = zk_election::LeaderInfoCodec::Bincode.decode(&data).expect("bincode");
    assert_eq!((info.leader_session, info.fencing_token), (leader_session, Some(token)));

    a.supervisor.send(Resign::new(COMPONENT)).await.unwrap().unwrap();
    let (_, again) = expect_granted(&mut a, 5 * SECOND).await;
    assert!(again > token, "a new latch node, a larger token: {again} after {token}");
    let unknown = a.supervisor.send(GetFencingToken { component: "nobody".into() }).await.unwrap();
    assert_eq!(unknown, None);
}

/// Participants of one election, each behind its own proxy, and every grant they were told
/// about, in the order the test saw them.
struct Ring {
    server: ZkServer,
    proxies: Vec<FaultProxy>,
    participants: Vec<Participant>,
    observer: Addr<ZkSession>,
    /// (participant, fencing token) of every grant, in the order they arrived.
    grants: Vec<(usize, i64)>,
}

impl Ring {
    async fn start(count: usize) -> Ring {
        let server = ZkServer::start().expect("zookeeper");
        let (observer, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
        let mut proxies = Vec::new();
        let mut participants = Vec::new();
        for i in 0..count {
            let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
            participants.push(join(&proxy.connect_string(), &format!("p{i}:1")).await);
            proxies.push(proxy);
        }
        Ring { server, proxies, participants, observer, grants: Vec::new() }
    }

    /// Waits for the next grant to any participant; returns who.
    async fn next_grant(&mut self, within: Duration) -> usize {
        match self.try_next_grant(within).await {
            Some(who) => who,
            None => panic!("no grant within {within:?} (grants so far: {:?})", self.grants),
        }
    }

    /// Records every grant that arrived so far, in arrival order (several may arrive between two
    /// looks); returns who was granted last, if anyone.
    fn collect_grants(&mut self) -> Option<usize> {
        let mut arrived = Vec::new();
        for (i, participant) in self.participants.iter_mut().enumerate() {
            for (at, event) in participant.events.try_drain_timed() {
                if let LeadershipEvent::Granted { fencing_token, .. } = event {
                    arrived.push((at, i, fencing_token));
                }
            }
        }
        arrived.sort_by_key(|(at, _, _)| *at);
        self.grants.extend(arrived.iter().map(|(_, i, token)| (*i, *token)));
        arrived.last().map(|(_, i, _)| *i)
    }

    /// The leader: the participant granted last.
    fn leader(&self) -> usize {
        self.grants.last().expect("someone was granted").0
    }

    async fn resign(&mut self) {
        let leader = self.leader();
        self.participants[leader].supervisor.send(Resign::new(COMPONENT)).await.unwrap().unwrap();
        self.next_grant(5 * SECOND).await;
    }

    /// The leader stops and a fresh incarnation of it joins again with a new session.
    async fn stop_and_rejoin(&mut self) {
        let leader = self.leader();
        let old = &self.participants[leader];
        old.supervisor.send(StopElection).await.unwrap().unwrap();
        old.session.send(StopSession).await.unwrap();
        let address = old.address.clone();
        self.participants[leader] = join(&self.proxies[leader].connect_string(), &address).await;
        self.next_grant(5 * SECOND).await;
    }

    /// The leader's connection is blackholed until its session expires and someone else leads.
    async fn expire_leader(&mut self) {
        let leader = self.leader();
        self.proxies[leader].blackhole();
        let successor = self.next_grant(3 * TIMEOUT).await;
        assert_ne!(successor, leader, "the partitioned leader was granted again");
        self.proxies[leader].pass();
    }

    /// An operator deletes the latch path with every node in it; everyone joins again.
    async fn delete_latch_path(&mut self) {
        for _ in 0..20 {
            let children = ops(&self.observer).send(GetChildren { path: LATCH.into() }).await.unwrap();
            for child in children.unwrap_or_default() {
                let _ = ops(&self.observer).send(Delete { path: format!("{LATCH}/{child}"), version: None }).await;
            }
            match ops(&self.observer).send(Delete { path: LATCH.into(), version: None }).await.unwrap() {
                Ok(()) | Err(ZkError::NoNode) => break,
                // Someone joined again in between: clear it once more.
                Err(_) => {}
            }
        }
        self.next_grant(5 * SECOND).await;
    }

    /// A Curator `LeaderLatch` peer (the same node shape, from an outside session) queues up;
    /// the leader resigns, so the peer leads for a while, then the peer goes.
    async fn curator_peer_takes_a_turn(&mut self) {
        let (peer, _s) = connected_session(&self.server.connect_string(), 4 * SECOND).await;
        let prefix = format!("{LATCH}/_c_{}-latch-", Uuid::new_v4());
        let node =
            ops(&peer).send(Create::new(prefix, b"curator".to_vec(), NodeMode::EphemeralSequential)).await.unwrap();
        let node = node.expect("peer joins").path;
        // Everyone of ours requeues behind the peer: it leads.
        for _ in 0..self.participants.len() {
            let leader = self.leader();
            self.participants[leader].supervisor.send(Resign::new(COMPONENT)).await.unwrap().unwrap();
            if self.try_next_grant(SECOND / 2).await.is_none() {
                break; // the peer is first: nobody of ours leads
            }
        }
        ops(&peer).send(Delete { path: node, version: None }).await.unwrap().unwrap();
        self.next_grant(5 * SECOND).await;
        peer.send(StopSession).await.unwrap();
    }

    async fn try_next_grant(&mut self, within: Duration) -> Option<usize> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(who) = self.collect_grants() {
                return Some(who);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[actix_rt::test]
async fn tokens_strictly_increase_over_a_hundred_leadership_changes_of_every_kind() {
    init_tracing();
    let mut ring = Ring::start(3).await;
    ring.next_grant(5 * SECOND).await;
    let mut round = 0;
    while ring.grants.len() < 101 {
        round += 1;
        match round % 25 {
            5 => ring.expire_leader().await,
            10 => ring.delete_latch_path().await,
            15 => ring.curator_peer_takes_a_turn().await,
            20 => ring.stop_and_rejoin().await,
            _ => ring.resign().await,
        }
    }
    // The last round may leave a rejoin in flight (a latch-path deletion the participants raced):
    // let it settle, and count what it granted too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ring.collect_grants();
    let tokens: Vec<i64> = ring.grants.iter().map(|(_, token)| *token).collect();
    for pair in ring.grants.windows(2) {
        let ((_, before), (_, after)) = (pair[0], pair[1]);
        assert!(after > before, "token {after} after {before}: {:?}", ring.grants);
    }
    // The token an outsider reads for the current leader.
    let leader = ring.leader();
    let address = ring.participants[leader].address.clone();
    let last = tokens.last().copied();
    let observer = ring.observer.clone();
    eventually(5 * SECOND, "the leader's latch node as an outsider reads it", || {
        let (observer, address) = (observer.clone(), address.clone());
        async move { (czxid_of(&observer, &address).await == last).then_some(()) }
    })
    .await;
    println!("{} grants in {round} rounds, tokens {} .. {}", tokens.len(), tokens[0], tokens[tokens.len() - 1]);
}

/// A leader-only write of `value` to `/fencing/state` by `participant` under `leader_session`.
async fn write_state(participant: &Participant, leader_session: Uuid, value: &str) -> Result<(), ElectionError> {
    let ops = vec![WriteOp::SetData { path: "/fencing/state".into(), data: value.as_bytes().to_vec(), version: None }];
    let write = LeaderWrite { component: COMPONENT.into(), leader_session, ops };
    let results = participant.supervisor.send(write).await.expect("supervisor alive")?;
    assert!(matches!(results.as_slice(), [WriteResult::Updated { .. }]), "{results:?}");
    Ok(())
}

/// A write by a deposed leader: refused as `NotLeader`, and nothing else (a timeout or a
/// connection error would prove nothing about fencing).
async fn assert_refused(participant: &Participant, leader_session: Uuid, value: &str) {
    assert_eq!(write_state(participant, leader_session, value).await, Err(ElectionError::NotLeader), "{value}");
}

#[actix_rt::test]
async fn leader_writes_of_a_revoked_or_expired_leader_never_land() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (observer, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    create_persistent(&observer, "/fencing/state", b"initial").await;
    let proxies: Vec<FaultProxy> =
        (0..2).map(|_| FaultProxy::for_connect_string(&server.connect_string()).expect("proxy")).collect();
    let mut a = join(&proxies[0].connect_string(), "a:1").await;
    let (a_session, _) = expect_granted(&mut a, 5 * SECOND).await;
    expect_published(&mut a.events, 5 * SECOND).await;
    let mut b = join(&proxies[1].connect_string(), "b:2").await;
    await_children(&observer, LATCH, 2, 5 * SECOND).await;
    write_state(&a, a_session, "a-1").await.expect("the leader writes");
    // A create and a delete in one guarded multi-op, answered op by op.
    let ops = vec![
        WriteOp::Create {
            path: "/fencing/a-tmp".into(),
            data: vec![],
            mode: NodeMode::Persistent,
            acl: Default::default(),
        },
        WriteOp::Delete { path: "/fencing/a-tmp".into(), version: None },
    ];
    let results = a.supervisor.send(LeaderWrite { component: COMPONENT.into(), leader_session: a_session, ops }).await;
    assert!(matches!(results.unwrap().unwrap().as_slice(), [WriteResult::Created { .. }, WriteResult::Deleted]));

    // Revoked: A resigns, B leads; A's writes under its old leadership are refused.
    a.supervisor.send(Resign::new(COMPONENT)).await.unwrap().unwrap();
    let (b_session, _) = expect_granted(&mut b, 5 * SECOND).await;
    expect_published(&mut b.events, 5 * SECOND).await;
    for i in 0..10 {
        assert_refused(&a, a_session, &format!("late a-{i}")).await;
    }
    write_state(&b, b_session, "b-1").await.expect("the new leader writes");

    // Expired: B is cut off until its session expires; A leads again; B's writes are refused,
    // during the partition and after it heals.
    proxies[1].blackhole();
    let (a_again, _) = expect_granted(&mut a, 3 * TIMEOUT).await;
    expect_published(&mut a.events, 5 * SECOND).await;
    for i in 0..10 {
        assert_refused(&b, b_session, &format!("cut off b-{i}")).await;
    }
    write_state(&a, a_again, "a-2").await.expect("the leader writes");
    proxies[1].pass();
    // B's new session queues it behind A again.
    await_children(&observer, LATCH, 2, 10 * SECOND).await;
    for i in 0..10 {
        assert_refused(&b, b_session, &format!("healed b-{i}")).await;
    }
    let (data, _) = read(&observer, "/fencing/state").await.expect("state");
    assert_eq!(data, b"a-2");
}

#[actix_rt::test]
async fn the_strict_check_says_no_once_a_successor_leads() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (operator, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    let mut a = join(&server.connect_string(), "a:1").await;
    let (a_session, a_token) = expect_granted(&mut a, 5 * SECOND).await;
    expect_published(&mut a.events, 5 * SECOND).await;
    let mut b = join(&server.connect_string(), "b:2").await;
    await_children(&operator, LATCH, 2, 5 * SECOND).await;
    let prove = |participant: &Participant, claim| {
        participant.supervisor.send(ProveLeadership { component: COMPONENT.into(), claim })
    };
    assert_eq!(prove(&a, LeadershipClaim::LeaderSession(a_session)).await.unwrap(), Ok(true));
    assert_eq!(prove(&a, LeadershipClaim::FencingToken(a_token)).await.unwrap(), Ok(true));
    assert_eq!(prove(&b, LeadershipClaim::FencingToken(a_token)).await.unwrap(), Ok(false));

    // An operator deletes A's latch node: B is granted; from then on A's proof fails.
    let children = ops(&operator).send(GetChildren { path: LATCH.into() }).await.unwrap().unwrap();
    let first = zk_election::latch::participants_in_order(&children)[0].to_owned();
    ops(&operator).send(Delete { path: format!("{LATCH}/{first}"), version: None }).await.unwrap().unwrap();
    let (_, b_token) = expect_granted(&mut b, 5 * SECOND).await;
    let asked = Instant::now();
    let proof = prove(&a, LeadershipClaim::LeaderSession(a_session)).await.unwrap();
    println!("A's proof after B's grant: {proof:?} in {:?}", asked.elapsed());
    assert_eq!(proof, Ok(false));
    assert!(b_token > a_token);
}

#[actix_rt::test]
async fn a_frozen_zk_elect_leader_is_succeeded_with_a_larger_token() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let campaign = |address: &str| {
        let cs = server.connect_string();
        let args = ["campaign", "--connect", &cs, "--latch-path", "/frozen/latch", "--leader-path", "/frozen/leader"];
        let mut args: Vec<&str> = args.to_vec();
        args.extend(["--address", address, "--session-timeout-ms", "2000", "--json"]);
        ZkElect::spawn(address, &args)
    };
    let mut a = campaign("a:1");
    let a_token = a.expect("granted", 10 * SECOND).await["fencing_token"].as_i64().expect("token");
    let mut b = campaign("b:2");
    b.expect("connection", 10 * SECOND).await;
    let (observer, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    await_children(&observer, "/frozen/latch", 2, 10 * SECOND).await;
    a.signal(libc::SIGSTOP);
    let b_token = b.expect("granted", 10 * SECOND).await["fencing_token"].as_i64().expect("token");
    a.signal(libc::SIGCONT);
    a.expect("revoked", 5 * SECOND).await;
    b.say("quit").await;
    b.expect_clean_exit(0).await;
    let again = a.expect("granted", 10 * SECOND).await["fencing_token"].as_i64().expect("token");
    println!("tokens: a {a_token}, b {b_token} (a frozen), a again {again}");
    assert!(a_token < b_token && b_token < again, "a {a_token}, b {b_token}, a again {again}");
    a.say("quit").await;
    a.expect_clean_exit(0).await;
}
