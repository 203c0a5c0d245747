//! Bad input, never a crash: arbitrary leader-node data, foreign latch children, the latch path
//! deleted underneath us, refused credentials and ACLs (a leave record refused among them), and a server that grants another
//! session timeout than the one asked.

mod common;

use std::time::{Duration, Instant};

use actix::prelude::*;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use zk_election::node_cache::{LeaderNodeCache, NodeChanged, NodeView};
use zk_election::session::GetStatus;
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::zk::{Acl, AuthId, Create, Delete, Exists, GetChildren, NodeAcl, NodeMode, Permission, SetData};
use zk_election::{
    ConnectionState, ElectionConfig, ElectionError, ElectionSupervisor, GetElectionMetrics, HasLeadership, LeaderInfo,
    LeaderInfoCodec, LeadershipEvent, SessionConfig, StopElection, ZkError, ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/bad/latch";
const LEADER: &str = "/bad/leader";
/// ZooKeeper refuses packets over `jute.maxbuffer` (1 MiB - 1); a setData packet carries the
/// path and a few headers besides the data, so stay a little under.
const MAX_DATA: usize = 1024 * 1024 - 1024;

/// Arbitrary leader-node data: short junk, large pseudo-random blobs up to [`MAX_DATA`], and
/// near misses (valid encodings of either codec, cut, extended or with one byte flipped).
fn leader_data() -> impl Strategy<Value = Vec<u8>> {
    let near_miss = (any::<bool>(), "[a-z0-9.:-]{0,40}", any::<u128>(), any::<u8>(), any::<usize>(), any::<u8>())
        .prop_map(|(java, address, id, mutation, at, byte)| {
            let codec = if java { LeaderInfoCodec::Java } else { LeaderInfoCodec::Bincode };
            let mut bytes = codec.encode(&LeaderInfo::new(address, uuid::Uuid::from_u128(id))).expect("encodable");
            let at = at % bytes.len();
            match mutation % 3 {
                0 => bytes.truncate(at),
                1 => bytes.push(byte),
                _ => bytes[at] ^= byte | 1,
            }
            bytes
        });
    let large = (any::<u64>(), 0..=MAX_DATA).prop_map(|(seed, len)| blob(seed, len));
    prop_oneof![4 => proptest::collection::vec(any::<u8>(), 0..256), 2 => near_miss, 1 => large]
}

/// `len` pseudo-random bytes (xorshift), cheap enough for megabytes.
fn blob(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Decoding is total: any input gives an answer, and an accepted input is exactly what the
/// encoder writes for what was decoded.
#[test]
fn decoders_take_arbitrary_bytes_up_to_the_size_limit() {
    let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });
    runner
        .run(&leader_data(), |bytes| {
            for codec in LeaderInfoCodec::ALL {
                if let Ok(info) = codec.decode(&bytes) {
                    prop_assert_eq!(codec.encode(&info).expect("re-encodable"), bytes.clone());
                }
            }
            Ok(())
        })
        .unwrap();
    for len in [0, 1, MAX_DATA, 2 * 1024 * 1024] {
        for codec in LeaderInfoCodec::ALL {
            assert!(codec.decode(&blob(7, len)).is_err(), "{codec} accepted {len} random bytes");
        }
    }
}

/// The running election, to which the property cases do their damage.
struct Fixture {
    vandal: Addr<ZkSession>,
    leader: Addr<ElectionSupervisor>,
    leader_session: Addr<ZkSession>,
    granted: uuid::Uuid,
    follower: Addr<ElectionSupervisor>,
    /// A cache of a leader node nobody leads: what a follower or a retriever sees.
    unled: Received<NodeChanged>,
}

const UNLED: &str = "/bad/unled";

async fn fixture(cs: &str) -> Fixture {
    let (vandal, _s) = connected_session(cs, 10 * SECOND).await;
    let config = ElectionConfig::builder(LATCH).build().unwrap();
    let (leader_session, _s) = connected_session(cs, 10 * SECOND).await;
    let leader = ElectionSupervisor::start(leader_session.clone(), config.clone());
    let mut leader_events = subscribe(&leader, "jm", "leader:1", LEADER, true).await;
    let granted = expect_grant(&mut leader_events, 5 * SECOND).await;
    expect_published(&mut leader_events, 5 * SECOND).await;
    let (follower_session, _s) = connected_session(cs, 10 * SECOND).await;
    let follower = ElectionSupervisor::start(follower_session, config);
    let _follower_events = subscribe(&follower, "jm", "follower:2", LEADER, true).await;
    create_persistent(&vandal, UNLED, b"").await;
    let (owner, mut unled) = probe::<NodeChanged>();
    let _cache = LeaderNodeCache::new(vandal.clone(), UNLED.into(), owner).start();
    unled.until(5 * SECOND, |c| matches!(c.view, NodeView::Present { .. })).await;
    Fixture { vandal, leader, leader_session, granted, follower, unled }
}

/// One case: `bytes` written into a node nobody leads (the cache reports them as they are and
/// they are undecodable unless they happen to be a valid record) and into the leader's node
/// (the leader rewrites it).
async fn damage(fixture: &mut Fixture, bytes: Vec<u8>) {
    let set = |path: &str, data: Vec<u8>| SetData { path: path.into(), data, version: None };
    ops(&fixture.vandal).send(set(UNLED, bytes.clone())).await.unwrap().expect("set unled");
    let (_, changed) =
        fixture.unled.until(5 * SECOND, |c| matches!(&c.view, NodeView::Present { data, .. } if *data == bytes)).await;
    let NodeView::Present { data, .. } = changed.view else { unreachable!() };
    if let Ok(info) = LeaderInfoCodec::Bincode.decode(&data) {
        assert_eq!(LeaderInfoCodec::Bincode.encode(&info).unwrap(), data, "decoded something it would not write");
    }

    ops(&fixture.vandal).send(set(LEADER, bytes)).await.unwrap().expect("set leader node");
    let owner = fixture.leader_session.send(GetStatus).await.unwrap().zk_session;
    let granted = fixture.granted;
    eventually(5 * SECOND, "leader node rewritten", || async {
        let (data, stat) = read(&fixture.vandal, LEADER).await?;
        let info = LeaderInfoCodec::Bincode.decode(&data).ok()?;
        let ours = info.address == "leader:1" && info.leader_session == granted && info.fencing_token.is_some();
        (ours && Some(stat.ephemeral_owner) == owner).then_some(())
    })
    .await;
}

#[test]
fn leader_node_cache_and_supervisor_take_arbitrary_bytes_up_to_the_size_limit() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let system = actix::System::new();
    let mut fixture = system.block_on(fixture(&server.connect_string()));
    // The edges first, then random cases (each is a real write and a real rewrite).
    for len in [0, 1, MAX_DATA] {
        system.block_on(damage(&mut fixture, blob(len as u64, len)));
    }
    let mut runner = TestRunner::new(Config { cases: 32, failure_persistence: None, ..Config::default() });
    let fixture = std::cell::RefCell::new(fixture);
    runner
        .run(&leader_data(), |bytes| {
            system.block_on(damage(&mut fixture.borrow_mut(), bytes));
            Ok(())
        })
        .unwrap();
    let fixture = fixture.into_inner();
    system.block_on(async {
        let leader = fixture.leader.send(GetElectionMetrics).await.expect("leader supervisor alive");
        let follower = fixture.follower.send(GetElectionMetrics).await.expect("follower supervisor alive");
        assert!(leader.is_leader && !follower.is_leader);
        assert_eq!(follower.publishes, 0, "a follower wrote the leader node");
        assert!(leader.rewrites >= 30, "only {} rewrites", leader.rewrites);
        let still = HasLeadership::leader_session("jm", fixture.granted);
        assert!(fixture.leader.send(still).await.unwrap(), "junk data cost the leader its leadership");
    });
}

#[actix_rt::test]
async fn foreign_latch_children_are_ignored() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (admin, _a) = connected_session(&cs, 10 * SECOND).await;
    // Junk in the latch: no marker, a marker without or with a bad sequence, a short sequence
    // that would sort first, non-UTF-8 data.
    let junk: [(&str, &[u8]); 7] = [
        ("foreign", b"x"),
        ("x-latch-", b""),
        ("_c_d-latch-12ab", b""),
        ("_c_e-latch-0", b"would sort first"),
        ("lock-0000000000", b""),
        ("latch-00000000001", b""),
        ("blob", &[0xff, 0xfe, 0x00, 0x80, 0xc3]),
    ];
    for (name, data) in junk {
        create_persistent(&admin, &format!("{LATCH}/{name}"), data).await;
    }
    // A real participant (another process) with non-UTF-8 participant data leads first.
    let (foreign, _f) = connected_session(&cs, 10 * SECOND).await;
    let prefix = format!("{LATCH}/_c_{}-latch-", uuid::Uuid::new_v4());
    let binary = vec![0xc3, 0x28, 0xa0, 0xa1, 0xf0, 0x28, 0x8c, 0xbc];
    ops(&foreign).send(Create::new(prefix, binary, NodeMode::EphemeralSequential)).await.unwrap().expect("participant");

    let (session, _s) = connected_session(&cs, 10 * SECOND).await;
    let supervisor = ElectionSupervisor::start(session.clone(), ElectionConfig::builder(LATCH).build().unwrap());
    let mut events = subscribe(&supervisor, "jm", "a:1", LEADER, true).await;
    let children = await_children(&admin, LATCH, 9, 5 * SECOND).await;
    let seen = events.drain_for(SECOND / 2).await;
    assert!(seen.is_empty(), "queued behind a real participant, yet: {seen:?}");

    // The real participant leaves: we lead, whatever junk surrounds us.
    foreign.send(zk_election::StopSession).await.unwrap();
    let granted = expect_grant(&mut events, 5 * SECOND).await;
    assert_eq!(expect_published(&mut events, 5 * SECOND).await, granted);
    // More junk while we lead changes nothing.
    create_persistent(&admin, &format!("{LATCH}/late-foreign"), &[0x80]).await;
    assert!(events.drain_for(SECOND / 2).await.is_empty());
    assert!(supervisor.send(GetElectionMetrics).await.unwrap().is_leader);
    assert!(!children.is_empty());
}

#[actix_rt::test]
async fn latch_path_deleted_underneath_us_rejoins() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (admin, _a) = connected_session(&server.connect_string(), 10 * SECOND).await;
    let config = ElectionConfig::builder(LATCH).build().unwrap();
    let mut processes = Vec::new();
    for address in ["a:1", "b:2"] {
        let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
        let (session, _s) = connected_session(&proxy.connect_string(), 6 * SECOND).await;
        let supervisor = ElectionSupervisor::start(session.clone(), config.clone());
        let events = subscribe(&supervisor, "jm", address, LEADER, true).await;
        processes.push((proxy, session, supervisor, events));
    }
    let first = eventually(5 * SECOND, "a leader", || async {
        for (i, (_, _, supervisor, _)) in processes.iter().enumerate() {
            if supervisor.send(GetElectionMetrics).await.ok()?.is_leader {
                return Some(i);
            }
        }
        None
    })
    .await;
    let granted = expect_grant(&mut processes[first].3, 5 * SECOND).await;
    expect_published(&mut processes[first].3, 5 * SECOND).await;
    await_children(&admin, LATCH, 2, 5 * SECOND).await;

    // Hold both processes' traffic (briefly: well under the connection timeout, no suspension)
    // so the whole latch goes at once, their nodes included; then let them see it.
    for (proxy, ..) in &processes {
        proxy.blackhole();
    }
    let children = ops(&admin).send(GetChildren { path: LATCH.into() }).await.unwrap().unwrap();
    for child in children {
        ops(&admin).send(Delete { path: format!("{LATCH}/{child}"), version: None }).await.unwrap().unwrap();
    }
    ops(&admin).send(Delete { path: LATCH.into(), version: None }).await.unwrap().expect("latch path deleted");
    for (proxy, ..) in &processes {
        proxy.pass();
    }

    // The leader is demoted (its node is gone), both rejoin with fresh nodes, one leads again.
    processes[first].3.until(5 * SECOND, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    let owners = eventually(5 * SECOND, "both back in a recreated latch", || async {
        let children = ops(&admin).send(GetChildren { path: LATCH.into() }).await.unwrap().ok()?;
        let mut owners = Vec::new();
        for child in children {
            owners.push(read(&admin, &format!("{LATCH}/{child}")).await?.1.ephemeral_owner);
        }
        (owners.len() == 2).then_some(owners)
    })
    .await;
    for (_, session, ..) in &processes {
        assert!(owners.contains(&session.send(GetStatus).await.unwrap().zk_session.unwrap()));
    }
    let leader = eventually(5 * SECOND, "a leader again", || async {
        let mut leading = Vec::new();
        for (i, (_, _, supervisor, _)) in processes.iter().enumerate() {
            if supervisor.send(GetElectionMetrics).await.ok()?.is_leader {
                leading.push(i);
            }
        }
        (leading.len() == 1).then(|| leading[0])
    })
    .await;
    let again = expect_grant(&mut processes[leader].3, 5 * SECOND).await;
    assert_ne!(again, granted);
    assert_eq!(expect_published(&mut processes[leader].3, 5 * SECOND).await, again);
}

/// Expects an error event carrying `wanted` soon, with the supervisor still answering.
async fn expect_error(events: &mut Events, supervisor: &Addr<ElectionSupervisor>, wanted: ZkError) {
    let (_, event) = events.until(10 * SECOND, |e| matches!(e, LeadershipEvent::Error { .. })).await;
    match event {
        LeadershipEvent::Error { error: ElectionError::ZooKeeper(error), .. } => assert_eq!(error, wanted),
        other => panic!("expected a ZooKeeper error {wanted:?}, got {other:?}"),
    }
    let metrics = supervisor.send(GetElectionMetrics).await.expect("supervisor alive");
    assert!(!metrics.is_leader);
}

#[actix_rt::test]
async fn acl_denial_is_a_typed_error_and_the_election_recovers_when_lifted() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (admin, _a) = connected_session(&cs, 10 * SECOND).await;
    let read_only = vec![Acl::new(Permission::READ, AuthId::anyone())];
    ops(&admin)
        .send(Create::new("/locked", vec![], NodeMode::Persistent).acl(NodeAcl::Custom(read_only)))
        .await
        .unwrap()
        .unwrap();

    let (session, _s) = connected_session(&cs, 10 * SECOND).await;
    let supervisor = ElectionSupervisor::start(session, ElectionConfig::builder("/locked/latch").build().unwrap());
    let mut events = subscribe(&supervisor, "jm", "a:1", LEADER, true).await;
    expect_error(&mut events, &supervisor, ZkError::NoAuth).await;
    // It keeps trying (and reporting) without giving up.
    expect_error(&mut events, &supervisor, ZkError::NoAuth).await;

    ops(&admin).send(Delete { path: "/locked".into(), version: None }).await.unwrap().unwrap();
    let granted = expect_grant(&mut events, 5 * SECOND).await;
    assert_eq!(expect_published(&mut events, 5 * SECOND).await, granted);
}

/// A latch path whose ACL refuses the leave record (no WRITE) never keeps a leader in line:
/// its resign and its stop delete its latch node without the record, and the next one leads.
#[actix_rt::test]
async fn a_latch_path_that_refuses_the_leave_record_still_lets_the_leader_leave() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (admin, _a) = connected_session(&cs, 10 * SECOND).await;
    let no_write = vec![Acl::new(Permission::READ | Permission::CREATE | Permission::DELETE, AuthId::anyone())];
    let latch = "/norecord";
    let create = Create::new(latch, vec![], NodeMode::Persistent).acl(NodeAcl::Custom(no_write));
    ops(&admin).send(create).await.unwrap().unwrap();
    let start = |address: &'static str| {
        let cs = cs.clone();
        async move {
            let (session, _s) = connected_session(&cs, 10 * SECOND).await;
            let supervisor = ElectionSupervisor::start(session, ElectionConfig::builder(latch).build().unwrap());
            let events = subscribe(&supervisor, "jm", address, LEADER, true).await;
            (supervisor, events)
        }
    };
    let (a, mut a_events) = start("a:1").await;
    expect_published(&mut a_events, 10 * SECOND).await;
    let (b, mut b_events) = start("b:1").await;
    await_children(&admin, latch, 2, 5 * SECOND).await;

    a.send(zk_election::Resign::new("jm")).await.unwrap().expect("resign");
    expect_published(&mut b_events, 10 * SECOND).await;
    await_children(&admin, latch, 2, 5 * SECOND).await;
    b.send(StopElection).await.unwrap().expect("a clean stop, without the record");
    expect_published(&mut a_events, 10 * SECOND).await;
    await_children(&admin, latch, 1, 5 * SECOND).await;
    let data = ops(&admin).send(zk_election::zk::GetData::new(latch)).await.unwrap().unwrap().0;
    assert!(data.is_empty(), "no record was written: {data:?}");
}

#[actix_rt::test]
async fn wrong_credentials_are_a_typed_error_and_the_right_ones_work() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let authed = |password: &str| {
        SessionConfig::builder(cs.clone()).session_timeout(4 * SECOND).digest_auth("alice", password).build().unwrap()
    };
    // Alice's latch: creator-only nodes (the default with digest auth).
    let owner = ZkSession::start(authed("right"));
    let config = ElectionConfig::builder(LATCH).build().unwrap();
    let alice = ElectionSupervisor::start(owner.clone(), config.clone());
    let mut alice_events = subscribe(&alice, "jm", "alice:1", LEADER, true).await;
    let granted = expect_grant(&mut alice_events, 10 * SECOND).await;
    assert_eq!(expect_published(&mut alice_events, 5 * SECOND).await, granted);

    // The same user with a wrong password is another identity to ZooKeeper: denied.
    let intruder_session = ZkSession::start(authed("wrong"));
    let open = ElectionConfig::builder(LATCH).acl(NodeAcl::Open).build().unwrap();
    let intruder = ElectionSupervisor::start(intruder_session.clone(), open);
    let mut intruder_events = subscribe(&intruder, "jm", "intruder:9", "/bad/intruder", true).await;
    expect_error(&mut intruder_events, &intruder, ZkError::NoAuth).await;
    assert!(alice.send(HasLeadership::leader_session("jm", granted)).await.unwrap());
    intruder.send(StopElection).await.unwrap().ok();

    // The right password in another process joins Alice's latch as a follower.
    let second_session = ZkSession::start(authed("right"));
    let second = ElectionSupervisor::start(second_session, config);
    let mut second_events = subscribe(&second, "jm", "alice:2", LEADER, true).await;
    let (admin, _a) = connected_session(&cs, 10 * SECOND).await;
    // An unauthenticated observer may not list Alice's latch, but `exists` shows its stat.
    eventually(5 * SECOND, "second process in the latch", || async {
        let stat = ops(&admin).send(Exists { path: LATCH.into() }).await.ok()?.ok()??;
        (stat.num_children == 2).then_some(())
    })
    .await;
    assert!(second_events.drain_for(SECOND / 2).await.iter().all(|e| !matches!(e, LeadershipEvent::Error { .. })));
}

#[actix_rt::test]
async fn server_enforcing_auth_fails_a_session_without_it_as_a_typed_error() {
    init_tracing();
    let server = ZkServer::builder()
        .jvm_arg("-Dzookeeper.enforce.auth.enabled=true")
        .jvm_arg("-Dzookeeper.enforce.auth.schemes=digest")
        .start()
        .expect("zookeeper");
    let cs = server.connect_string();
    let config =
        SessionConfig::builder(cs.clone()).session_timeout(4 * SECOND).request_timeout(2 * SECOND).build().unwrap();
    let session = ZkSession::start(config);
    let supervisor = ElectionSupervisor::start(session.clone(), ElectionConfig::builder(LATCH).build().unwrap());
    let mut events = subscribe(&supervisor, "jm", "anonymous:1", LEADER, true).await;
    // No credentials at all: the error says the server demands some.
    expect_error(&mut events, &supervisor, ZkError::AuthRequired).await;
    // Alive and not spinning: the session keeps retrying with backoff.
    let cpu = cpu_time();
    let wall = Instant::now();
    tokio::time::sleep(2 * SECOND).await; // measuring idleness needs a fixed window
    let used = cpu_time() - cpu;
    assert!(used < wall.elapsed() / 4, "used {used:?} CPU in {:?} against a refusing server", wall.elapsed());
    assert!(!supervisor.send(GetElectionMetrics).await.expect("supervisor alive").is_leader);
    session.send(GetStatus).await.expect("session alive");
}

#[actix_rt::test]
async fn negotiated_session_timeout_wins_over_the_asked_one() {
    init_tracing();
    // Asked 1 s, the server grants no less than 3 s.
    let server = ZkServer::builder().min_session_timeout(3 * SECOND).start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let (session, mut states) = connected_session(&proxy.connect_string(), SECOND).await;
    let negotiated = session.send(GetStatus).await.unwrap().negotiated_timeout.expect("negotiated");
    assert_eq!(negotiated, 3 * SECOND);
    let partitioned_at = Instant::now();
    proxy.blackhole();
    expect_state(&mut states, ConnectionState::Suspended, negotiated).await;
    let lost_at = expect_state(&mut states, ConnectionState::Lost, 2 * negotiated).await;
    let lost_after = lost_at - partitioned_at;
    println!("asked 1 s, negotiated {negotiated:?}: Lost {lost_after:?} after the partition");
    // Not the asked 1 s: the session was kept until (close to) the server's own expiry.
    assert!(lost_after >= negotiated - SECOND / 2, "Lost after {lost_after:?}, timeout {negotiated:?}");
    assert!(lost_after <= negotiated + SECOND / 2, "Lost after {lost_after:?}, timeout {negotiated:?}");

    // Asked 10 s, the server grants at most 2 s: Lost must come before the server's expiry.
    let server = ZkServer::builder().max_session_timeout(2 * SECOND).start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let (session, mut states) = connected_session(&proxy.connect_string(), 10 * SECOND).await;
    let negotiated = session.send(GetStatus).await.unwrap().negotiated_timeout.expect("negotiated");
    assert_eq!(negotiated, 2 * SECOND);
    let partitioned_at = Instant::now();
    proxy.blackhole();
    let lost_at = expect_state(&mut states, ConnectionState::Lost, 2 * negotiated).await;
    let lost_after = lost_at - partitioned_at;
    println!("asked 10 s, negotiated {negotiated:?}: Lost {lost_after:?} after the partition");
    assert!(lost_after <= negotiated + SECOND / 4, "Lost after {lost_after:?}, timeout {negotiated:?}");
}
