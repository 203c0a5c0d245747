//! The election against a real ZooKeeper: re-election, confirm rules, stop, self-healing of the
//! leader node, error forwarding, the latch protocol, partitions.

mod common;

use std::time::{Duration, Instant};

use actix::prelude::*;
use common::*;
use zk_election::latch::participants_in_order;
use zk_election::session::GetSessionMetrics;
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::zk::{Acl, AuthId, Create, Delete, GetChildren, NodeAcl, NodeMode, Permission, SetData, Stat};
use zk_election::{
    Confirm, ConnectionState, ElectionConfig, ElectionError, ElectionSupervisor, GetElectionMetrics, HasLeadership,
    LeaderInfo, LeaderInfoCodec, LeadershipEvent, Resign, StopElection, StopSession, ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/election/latch";
const LEADER: &str = "/election/leader";
const COMPONENT: &str = "jobmanager";

/// Joins the election at `LATCH` as "jobmanager" publishing at `LEADER`.
async fn join(connect: &str, address: &str, auto_confirm: bool) -> Participant {
    join_with(connect, address, auto_confirm, ElectionConfig::builder(LATCH).build().unwrap(), 4 * SECOND).await
}

async fn join_with(
    connect: &str,
    address: &str,
    auto_confirm: bool,
    config: ElectionConfig,
    timeout: Duration,
) -> Participant {
    Participant::start(connect, config, COMPONENT, address, LEADER, auto_confirm, timeout).await
}

/// The decoded content of the leader node, if any.
async fn leader_node(observer: &Addr<ZkSession>) -> Option<(LeaderInfo, Stat)> {
    let (data, stat) = read(observer, LEADER).await?;
    LeaderInfoCodec::Bincode.decode(&data).ok().map(|info| (info, stat))
}

/// Waits until the leader node holds exactly `address` and `leader_session`.
async fn await_leader_node(observer: &Addr<ZkSession>, address: &str, leader_session: uuid::Uuid, within: Duration) {
    eventually(within, &format!("leader node = {address} {leader_session}"), || async {
        leader_node(observer).await.filter(|(info, _)| info.address == address && info.leader_session == leader_session)
    })
    .await;
}

/// The latch nodes in leadership order, and the index in `participants` of each node's owner
/// (read from the node's data, the participant's address).
async fn line_order(observer: &Addr<ZkSession>, participants: &[Participant]) -> (Vec<String>, Vec<usize>) {
    let children = ops(observer).send(GetChildren { path: LATCH.into() }).await.unwrap().unwrap();
    let ordered: Vec<String> = participants_in_order(&children).into_iter().map(str::to_owned).collect();
    let mut owners = Vec::new();
    for name in &ordered {
        let (data, _) = read(observer, &format!("{LATCH}/{name}")).await.expect("latch node");
        let address = String::from_utf8(data).expect("utf-8 participant id");
        owners.push(participants.iter().position(|p| p.address == address).expect("known address"));
    }
    (ordered, owners)
}

/// Requests each participant's session has issued so far.
/// Waits until `participant`'s session has served `count` data reads: the latch's watch on its
/// own node, its watch on a predecessor if it waited behind one, and its leader-node cache's
/// read once it published. (A condition, so that no request is still under way when counted.)
async fn await_data_reads(participant: &Participant, count: u64) {
    eventually(5 * SECOND, &format!("{} data reads by {}", count, participant.address), || async {
        let metrics = participant.session.send(GetSessionMetrics).await.ok()?;
        (metrics.requests.get(&zk_election::zk::RequestKind::GetData).copied().unwrap_or(0) >= count).then_some(())
    })
    .await
}

async fn requests_by_participant(participants: &[Participant]) -> Vec<u64> {
    let mut counts = Vec::new();
    for p in participants {
        counts.push(p.session.send(GetSessionMetrics).await.expect("session alive").total_requests());
    }
    counts
}

#[actix_rt::test]
async fn five_contenders_four_failovers() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    let mut participants = Vec::new();
    for i in 0..5 {
        participants.push(join(&cs, &format!("10.0.0.{i}:6123"), true).await);
    }
    for round in 0..5 {
        // Exactly one of the remaining participants is granted and publishes.
        let leader = eventually(5 * SECOND, "one leader", || {
            let participants = &participants;
            async move {
                let mut leading = Vec::new();
                for (i, p) in participants.iter().enumerate() {
                    if p.is_leader().await {
                        leading.push(i);
                    }
                }
                (leading.len() == 1).then(|| leading[0])
            }
        })
        .await;
        let p = &mut participants[leader];
        let granted = expect_grant(&mut p.events, 5 * SECOND).await;
        assert_eq!(expect_published(&mut p.events, 5 * SECOND).await, granted);
        await_leader_node(&observer, &p.address, granted, 2 * SECOND).await;
        for (i, other) in participants.iter_mut().enumerate() {
            if i != leader {
                let seen = other.events.try_drain();
                assert!(
                    !seen.iter().any(|e| matches!(e, LeadershipEvent::Granted { .. })),
                    "round {round}: follower {i} was granted too: {seen:?}"
                );
            }
        }
        if round == 4 {
            break;
        }
        let stopped = participants.remove(leader);
        stopped.supervisor.send(StopElection).await.unwrap().expect("clean stop");
        stopped.session.send(StopSession).await.unwrap();
    }
}

#[actix_rt::test]
async fn leader_node_is_ephemeral() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (observer, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    let mut leader = join(&server.connect_string(), "a:1", true).await;
    let granted = expect_grant(&mut leader.events, 5 * SECOND).await;
    await_leader_node(&observer, "a:1", granted, 5 * SECOND).await;
    let (_, stat) = leader_node(&observer).await.unwrap();
    let owner = leader.session.send(zk_election::session::GetStatus).await.unwrap().zk_session;
    assert_eq!(Some(stat.ephemeral_owner), owner);
    leader.session.send(StopSession).await.unwrap();
    eventually(2 * SECOND, "leader node gone with its session", || async {
        read(&observer, LEADER).await.is_none().then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn confirm_rules() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    let mut first = join(&cs, "first:1", false).await;
    let granted = expect_grant(&mut first.events, 5 * SECOND).await;
    let confirm = |id| Confirm { component: "jobmanager".into(), leader_session: id };

    let wrong = uuid::Uuid::new_v4();
    assert_eq!(
        first.supervisor.send(confirm(wrong)).await.unwrap(),
        Err(ElectionError::StaleLeaderSession { confirmed: wrong, granted: Some(granted) })
    );
    assert_eq!(
        first.supervisor.send(Confirm { component: "nobody".into(), leader_session: granted }).await.unwrap(),
        Err(ElectionError::UnknownContender("nobody".into()))
    );
    assert!(read(&observer, LEADER).await.is_none(), "a rejected confirm wrote the leader node");
    assert!(!first.supervisor.send(HasLeadership::leader_session("jobmanager", granted)).await.unwrap());

    first.supervisor.send(confirm(granted)).await.unwrap().expect("valid confirm");
    await_leader_node(&observer, "first:1", granted, 5 * SECOND).await;
    assert!(first.supervisor.send(HasLeadership::leader_session("jobmanager", granted)).await.unwrap());

    // A follower confirming anything is ignored.
    let mut second = join(&cs, "second:2", false).await;
    assert_eq!(second.supervisor.send(confirm(granted)).await.unwrap(), Err(ElectionError::NotLeader));
    // Second must be queued before first resigns, or first would simply lead again.
    await_children(&observer, LATCH, 2, 5 * SECOND).await;

    // Leadership moves: the old ID is void, confirming it writes nothing.
    first.supervisor.send(zk_election::Resign::new(COMPONENT)).await.unwrap().unwrap();
    first.events.until(5 * SECOND, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    let second_granted = expect_grant(&mut second.events, 5 * SECOND).await;
    // The resigner's node went with its latch node if its cache had read it since the write,
    // else it stays for the successor to replace. Either way the void confirm must not write.
    let before = leader_node(&observer).await;
    assert!(before.as_ref().is_none_or(|(info, _)| info.leader_session == granted), "{before:?}");
    assert!(matches!(
        first.supervisor.send(confirm(granted)).await.unwrap(),
        Err(ElectionError::NotLeader | ElectionError::StaleLeaderSession { .. })
    ));
    assert!(!first.supervisor.send(HasLeadership::leader_session("jobmanager", granted)).await.unwrap());
    assert_eq!(leader_node(&observer).await, before, "the void confirm touched the leader node");
    second.supervisor.send(confirm(second_granted)).await.unwrap().unwrap();
    await_leader_node(&observer, "second:2", second_granted, 5 * SECOND).await;

    // After stop, confirms are refused and nothing is written.
    second.supervisor.send(StopElection).await.unwrap().unwrap();
    assert_eq!(second.supervisor.send(confirm(second_granted)).await.unwrap(), Err(ElectionError::Stopped));
}

#[actix_rt::test]
async fn stop_cleans_up_and_silences() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    // Leader and follower share one session: the session outlives the stopped election.
    let (session, _states) = connected_session(&cs, 4 * SECOND).await;
    let config = ElectionConfig::builder(LATCH).build().unwrap();
    let leader = ElectionSupervisor::start(session.clone(), config.clone());
    let mut leader_events = subscribe(&leader, "jm", "leader:1", LEADER, true).await;
    let granted = expect_grant(&mut leader_events, 5 * SECOND).await;
    assert_eq!(expect_published(&mut leader_events, 5 * SECOND).await, granted);
    await_leader_node(&observer, "leader:1", granted, 5 * SECOND).await;

    leader.send(StopElection).await.unwrap().expect("stop");
    leader.send(StopElection).await.unwrap().expect("second stop is a no-op");
    assert!(read(&observer, LEADER).await.is_none(), "published leader node outlived stop");
    let latch_nodes = ops(&observer).send(GetChildren { path: LATCH.into() }).await.unwrap().unwrap_or_default();
    assert!(latch_nodes.is_empty(), "latch node left behind: {latch_nodes:?}");
    // The shared session lives on, yet the stopped election says nothing more.
    let follower = ElectionSupervisor::start(session.clone(), config);
    let mut follower_events = subscribe(&follower, "jm", "follower:2", LEADER, true).await;
    expect_grant(&mut follower_events, 5 * SECOND).await;
    assert!(leader_events.drain_for(Duration::from_millis(300)).await.is_empty());
    let (late, _late_events) = probe::<LeadershipEvent>();
    assert_eq!(
        leader.send(zk_election::Subscribe::new("x", "y:1", "/z", late)).await.unwrap(),
        Err(ElectionError::Stopped)
    );
    follower.send(StopElection).await.unwrap().unwrap();
}

/// Starts an election at `latch` on `session`, stops it `delay` later, and checks that it left
/// neither a leader node nor (soon after) a latch node, though the session lives on.
async fn stop_after(observer: &Addr<ZkSession>, session: &Addr<ZkSession>, latch: &str, leader: &str, delay: Duration) {
    let supervisor = ElectionSupervisor::start(session.clone(), ElectionConfig::builder(latch).build().unwrap());
    let _events = subscribe(&supervisor, "jm", "racer:1", leader, true).await;
    tokio::time::sleep(delay).await;
    supervisor.send(StopElection).await.unwrap().unwrap();
    assert!(read(observer, leader).await.is_none(), "{latch} after {delay:?}: leader node left behind");
    // Also when the stop overtook the latch's create: the node it made is deleted.
    eventually(2 * SECOND, &format!("{latch} after {delay:?}: no latch node left"), || async {
        let children = ops(observer).send(GetChildren { path: latch.into() }).await.unwrap();
        children.unwrap_or_default().is_empty().then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn stop_racing_a_grant_leaves_no_leader_node() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    for round in 0..10 {
        let (session, _states) = connected_session(&cs, 4 * SECOND).await;
        // Stop at a different point of grant → confirm → publish in every round.
        stop_after(&observer, &session, LATCH, LEADER, Duration::from_micros(500 * round)).await;
        session.send(StopSession).await.unwrap();
    }
}

/// The first join of a latch path creates its missing ancestors, several requests in a row. A
/// stop among them must still find the node the join makes: its listing used to run between
/// them (seeing no latch path, or none of our node), and the node stood in line for as long as
/// the shared session lived, ahead of everyone who came later.
#[actix_rt::test]
async fn a_stop_while_the_first_join_creates_the_latch_path_leaves_no_latch_node() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    let (session, _states) = connected_session(&cs, 4 * SECOND).await;
    for round in 0..40u64 {
        // A fresh path five levels deep: every join creates its ancestors first.
        let (latch, leader) = (format!("/fresh-{round}/a/b/c/latch"), format!("/fresh-{round}/leader"));
        stop_after(&observer, &session, &latch, &leader, Duration::from_micros(150 * round)).await;
    }
}

#[actix_rt::test]
async fn leader_node_heals_itself() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (vandal, _s) = connected_session(&cs, 4 * SECOND).await;
    let mut leader = join(&cs, "leader:1", true).await;
    let granted = expect_grant(&mut leader.events, 5 * SECOND).await;
    await_leader_node(&vandal, "leader:1", granted, 5 * SECOND).await;

    let foreign = |address: &str, id| LeaderInfoCodec::Bincode.encode(&LeaderInfo::new(address, id)).unwrap();
    let damages: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("deleted", None),
        ("emptied", Some(Vec::new())),
        ("other address", Some(foreign("intruder:9", granted))),
        ("other session id", Some(foreign("leader:1", uuid::Uuid::new_v4()))),
        ("random bytes", Some((0..64u8).map(|b| b.wrapping_mul(37)).collect())),
    ];
    // A heal takes milliseconds; the bounds are wide because the old 2 s bound was missed once on
    // a 2-core machine shared with two simulation runs, and this test asserts healing, not speed.
    let heal_within = 5 * SECOND;
    for (what, data) in damages {
        let damaged_at = Instant::now();
        match data {
            None => ops(&vandal).send(Delete { path: LEADER.into(), version: None }).await.unwrap().unwrap(),
            Some(data) => {
                ops(&vandal).send(SetData { path: LEADER.into(), data, version: None }).await.unwrap().unwrap();
            }
        }
        await_leader_node(&vandal, "leader:1", granted, heal_within).await;
        println!("healed after {what} in {:?}", damaged_at.elapsed());
    }
    // Re-created by another session as its own ephemeral, with our exact content.
    let exact = foreign("leader:1", granted);
    ops(&vandal).send(Delete { path: LEADER.into(), version: None }).await.unwrap().unwrap();
    let _ = ops(&vandal).send(Create::new(LEADER, exact, NodeMode::Ephemeral)).await.unwrap();
    let vandal_id = vandal.send(zk_election::session::GetStatus).await.unwrap().zk_session;
    let owner = leader.session.send(zk_election::session::GetStatus).await.unwrap().zk_session;
    eventually(heal_within, "node owned by the leader's session again", || async {
        let (_, stat) = leader_node(&vandal).await?;
        (Some(stat.ephemeral_owner) == owner && owner != vandal_id).then_some(())
    })
    .await;
    assert!(leader.is_leader().await);

    // Replaced by a node nobody may read: the leader hears why its cache is blind, and still
    // replaces the node (existence and deletion need no read permission).
    let write_only = vec![Acl::new(zk_election::zk::Permission::WRITE, zk_election::zk::AuthId::anyone())];
    let locked_away = Create::new(LEADER, foreign("intruder:9", granted), NodeMode::Persistent);
    ops(&vandal).send(Delete { path: LEADER.into(), version: None }).await.unwrap().unwrap();
    let _ = ops(&vandal).send(locked_away.acl(NodeAcl::Custom(write_only))).await.unwrap();
    let (_, error) = leader.events.until(heal_within, |e| matches!(e, LeadershipEvent::Error { .. })).await;
    assert!(
        matches!(&error, LeadershipEvent::Error { error: ElectionError::ZooKeeper(zk_election::ZkError::NoAuth), .. }),
        "{error:?}"
    );
    eventually(heal_within, "leader node readable and ours again", || async {
        let read = ops(&vandal).send(zk_election::zk::GetData { path: LEADER.into() }).await.unwrap();
        let info = LeaderInfoCodec::Bincode.decode(&read.ok()?.0).ok()?;
        (info.address == "leader:1" && info.leader_session == granted).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn refused_publish_is_reported_and_election_survives() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (admin, _s) = connected_session(&cs, 4 * SECOND).await;
    // A parent nobody may create children under.
    let read_only = vec![Acl::new(zk_election::zk::Permission::READ, zk_election::zk::AuthId::anyone())];
    ops(&admin)
        .send(Create::new("/locked", vec![], NodeMode::Persistent).acl(NodeAcl::Custom(read_only)))
        .await
        .unwrap()
        .unwrap();
    let (session, _states) = connected_session(&cs, 4 * SECOND).await;
    let supervisor = ElectionSupervisor::start(session.clone(), ElectionConfig::builder(LATCH).build().unwrap());
    let mut locked = subscribe(&supervisor, "locked", "a:1", "/locked/leader", true).await;
    let (_, error) = locked.until(5 * SECOND, |e| matches!(e, LeadershipEvent::Error { .. })).await;
    assert!(
        matches!(&error, LeadershipEvent::Error { error: ElectionError::ZooKeeper(zk_election::ZkError::NoAuth), .. }),
        "{error:?}"
    );
    // The same supervisor keeps serving other components.
    let mut open = subscribe(&supervisor, "open", "a:1", "/open/leader", true).await;
    let granted = expect_grant(&mut open, 5 * SECOND).await;
    assert_eq!(expect_published(&mut open, 5 * SECOND).await, granted);
}

#[actix_rt::test]
async fn latch_protocol_and_single_wakeup() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    let mut participants = Vec::new();
    for i in 0..10 {
        participants.push(join(&cs, &format!("node-{i}:6123"), true).await);
    }
    let children = await_children(&observer, LATCH, 10, 5 * SECOND).await;
    let pattern = regex_lite::Regex::new(
        r"^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-latch-\d{10}$",
    )
    .unwrap();
    for child in &children {
        assert!(pattern.is_match(child), "latch node {child:?} is not Curator-shaped");
    }
    let (ordered, line) = line_order(&observer, &participants).await;
    // Every participant is in the latch with its address as data; the lowest sequence leads.
    let mut sorted = line.clone();
    sorted.sort();
    assert_eq!(sorted, (0..10).collect::<Vec<_>>(), "each participant exactly once");
    let (first, second) = (line[0], line[1]);
    let granted = expect_grant(&mut participants[first].events, 5 * SECOND).await;
    await_leader_node(&observer, &participants[first].address, granted, 5 * SECOND).await;

    let mut watches_before = Vec::new();
    for p in &participants {
        watches_before.push(p.supervisor.send(GetElectionMetrics).await.unwrap().latch_watches_fired);
    }
    ops(&observer).send(Delete { path: format!("{LATCH}/{}", ordered[0]), version: None }).await.unwrap().unwrap();
    let next = expect_grant(&mut participants[second].events, 5 * SECOND).await;
    await_leader_node(&observer, &participants[second].address, next, 5 * SECOND).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // let any stray watch arrive
    let mut woken = Vec::new();
    for (i, p) in participants.iter().enumerate().filter(|(i, _)| *i != first) {
        let after = p.supervisor.send(GetElectionMetrics).await.unwrap().latch_watches_fired;
        if after > watches_before[i] {
            woken.push(i);
        }
    }
    assert_eq!(woken, vec![second], "only the successor may be woken");
    for (i, p) in participants.iter_mut().enumerate().filter(|(i, _)| *i != first && *i != second) {
        let granted = p.events.try_drain().into_iter().filter(|e| matches!(e, LeadershipEvent::Granted { .. }));
        assert_eq!(granted.count(), 0, "participant {i} was granted out of turn");
    }
}

#[actix_rt::test]
async fn partitioned_leader_is_revoked_before_successor_is_granted() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let timeout = 2 * SECOND;
    let config = ElectionConfig::builder(LATCH).build().unwrap();
    let mut old = join_with(&proxy.connect_string(), "old:1", true, config.clone(), timeout).await;
    let (observer, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    let old_granted = expect_grant(&mut old.events, 5 * SECOND).await;
    await_leader_node(&observer, "old:1", old_granted, 5 * SECOND).await;
    let old_session = old.session.send(zk_election::session::GetStatus).await.unwrap().zk_session.unwrap();
    let mut new = join_with(&server.connect_string(), "new:2", true, config, timeout).await;

    proxy.blackhole();
    let (revoked_at, _) = old.events.until(3 * timeout, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    let new_granted = expect_grant(&mut new.events, 3 * timeout).await;
    let granted_at = Instant::now();
    assert!(revoked_at < granted_at, "successor granted before the old leader was revoked");
    // The successor can only have been granted once the server dropped the old session.
    let cons = server.four_letter("cons").unwrap();
    assert!(!cons.contains(&format!("sid={old_session:#x}")), "old session still alive when successor granted");
    await_leader_node(&observer, "new:2", new_granted, 5 * SECOND).await;

    proxy.pass();
    // The old leader rejoins as a follower: a fresh latch node, no grant.
    await_children(&observer, LATCH, 2, 4 * timeout).await;
    assert!(!old.is_leader().await);
    assert!(!old.events.try_drain().iter().any(|e| matches!(e, LeadershipEvent::Granted { .. })));
}

#[actix_rt::test]
async fn subscribe_misuse_is_a_typed_error() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (session, _states) = connected_session(&server.connect_string(), 4 * SECOND).await;
    let supervisor = ElectionSupervisor::start(session, ElectionConfig::builder(LATCH).build().unwrap());
    let (contender, _events) = probe::<LeadershipEvent>();
    let attempt = |component: &str, address: &str, path: &str| {
        supervisor.send(zk_election::Subscribe::new(component, address, path, contender.clone()))
    };
    use zk_election::{ConfigError, PathProblem};
    let path_problem = |result: Result<(), ElectionError>| match result {
        Err(ElectionError::Config(ConfigError::InvalidPath { what: "leader path", problem, .. })) => Some(problem),
        _ => None,
    };
    assert_eq!(attempt("", "a:1", "/l").await.unwrap(), Err(ConfigError::EmptyComponent.into()));
    assert_eq!(attempt("jm", "", "/l").await.unwrap(), Err(ConfigError::EmptyAddress.into()));
    assert_eq!(path_problem(attempt("jm", "a:1", "leader").await.unwrap()), Some(PathProblem::NotAbsolute));
    assert_eq!(path_problem(attempt("jm", "a:1", "/leader/").await.unwrap()), Some(PathProblem::TrailingSlash));
    assert_eq!(path_problem(attempt("jm", "a:1", "/a//b").await.unwrap()), Some(PathProblem::EmptySegment));
    attempt("jm", "a:1", "/leader/jm").await.unwrap().expect("valid subscribe");
    assert_eq!(
        attempt("jm", "b:2", "/leader/other").await.unwrap(),
        Err(ElectionError::DuplicateComponent("jm".into()))
    );
    assert_eq!(
        attempt("rm", "b:2", "/leader/jm").await.unwrap(),
        Err(ElectionError::DuplicateLeaderPath("/leader/jm".into()))
    );
    // An address the Java codec cannot write (over 65535 bytes of modified UTF-8) is refused up front.
    let java = ElectionConfig::builder("/java/latch").codec(LeaderInfoCodec::Java).build().unwrap();
    let (session2, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    let java_supervisor = ElectionSupervisor::start(session2, java);
    let huge = "x".repeat(70_000);
    let refused =
        java_supervisor.send(zk_election::Subscribe::new("jm", huge, "/java/leader", contender.clone())).await;
    assert!(matches!(refused.unwrap(), Err(ElectionError::Unencodable(_))));
    // An invalid latch path never gets as far as a supervisor.
    assert!(matches!(
        ElectionConfig::builder("latch").build(),
        Err(ConfigError::InvalidPath { what: "latch path", problem: PathProblem::NotAbsolute, .. })
    ));
    supervisor.send(StopElection).await.unwrap().unwrap();
    assert_eq!(attempt("late", "c:3", "/leader/late").await.unwrap(), Err(ElectionError::Stopped));
}

/// A clean handover costs 5 requests, one more with preemption on (the default): the new
/// leader lists the line with a watch, to see a candidate of higher priority join.
#[actix_rt::test]
async fn clean_handover_costs_five_requests_and_one_for_preemption() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    let configs = [
        ("no preemption", ElectionConfig::builder(LATCH).no_preemption().build().unwrap(), 4),
        ("preemption (default)", ElectionConfig::builder(LATCH).build().unwrap(), 5),
    ];
    for (what, config, successor_requests) in configs {
        let mut participants = Vec::new();
        for i in 0..3 {
            let address = format!("handover-{i}:6123");
            participants.push(join_with(&cs, &address, true, config.clone(), 4 * SECOND).await);
        }
        await_children(&observer, LATCH, 3, 5 * SECOND).await;
        let (_, line) = line_order(&observer, &participants).await;
        let (leader, successor, last) = (line[0], line[1], line[2]);
        let granted = expect_grant(&mut participants[leader].events, 5 * SECOND).await;
        await_leader_node(&observer, &participants[leader].address, granted, 5 * SECOND).await;
        // First in line from the start: its own node's watch, then its cache's read.
        await_data_reads(&participants[leader], 2).await;
        // The session counts the read when its answer arrives; the version reaches the
        // supervisor one mailbox hop later through the cache. Stopped before that, it takes
        // the careful path (read, then delete), which a noisy CI machine once measured.
        tokio::time::sleep(SECOND / 5).await;

        let before = requests_by_participant(&participants).await;
        participants[leader].supervisor.send(StopElection).await.unwrap().expect("stop");
        let next = expect_grant(&mut participants[successor].events, 5 * SECOND).await;
        await_leader_node(&observer, &participants[successor].address, next, 5 * SECOND).await;
        // Its predecessor's watch and its own node's, then its cache's read.
        await_data_reads(&participants[successor], 3).await;
        // The line watch lists after the grant: wait for what is expected, then count.
        eventually(5 * SECOND, "the successor's requests", || async {
            let now = requests_by_participant(&participants).await;
            (now[successor] - before[successor] >= successor_requests).then_some(())
        })
        .await;
        tokio::time::sleep(SECOND / 5).await;
        let after = requests_by_participant(&participants).await;
        let spent: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        // Outgoing: one multi-op deletes leader node and latch node. Successor: list the latch,
        // prove its node at ZooKeeper's leader (a check-only multi-op: a follower's listing may be
        // stale), create its leader node (guarded), arm its cache's watch; with preemption, list
        // the line with a watch. The rest: nothing.
        assert_eq!(
            (spent[leader], spent[successor], spent[last]),
            (1, successor_requests, 0),
            "{what}: requests of (outgoing, successor, last in line)"
        );
        for participant in &participants {
            let _ = participant.supervisor.send(StopElection).await;
        }
        await_children(&observer, LATCH, 0, 5 * SECOND).await;
    }
}

#[actix_rt::test]
async fn waiting_participant_whose_node_is_deleted_rejoins_at_once() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 4 * SECOND).await;
    let mut participants = Vec::new();
    for i in 0..3 {
        participants.push(join(&cs, &format!("waiting-{i}:6123"), true).await);
    }
    await_children(&observer, LATCH, 3, 5 * SECOND).await;
    let (ordered, line) = line_order(&observer, &participants).await;
    let granted = expect_grant(&mut participants[line[0]].events, 5 * SECOND).await;
    await_leader_node(&observer, &participants[line[0]].address, granted, 5 * SECOND).await;

    // An operator deletes the middle participant's node. Its predecessor (the leader) stays,
    // so only the watch on its own node can tell it: it must go to the back of the line now.
    ops(&observer).send(Delete { path: format!("{LATCH}/{}", ordered[1]), version: None }).await.unwrap().unwrap();
    let rejoined = eventually(2 * SECOND, "middle participant back in line", || async {
        let (_, now) = line_order(&observer, &participants).await;
        (now.len() == 3).then_some(now)
    })
    .await;
    assert_eq!(rejoined, vec![line[0], line[2], line[1]], "rejoined at the back, leader unchanged");
    for &i in &line[1..] {
        let grants = participants[i].events.drain_for(Duration::from_millis(200)).await;
        assert!(!grants.iter().any(|e| matches!(e, LeadershipEvent::Granted { .. })), "participant {i} granted");
    }
}

/// A leader behind a fault proxy, with a session that outlives its requests (they give up
/// after 1 s, the session after 10), a contender queued behind it and an observer.
struct CutOffLeader {
    _server: ZkServer,
    proxy: std::sync::Arc<FaultProxy>,
    session: Addr<ZkSession>,
    states: States,
    supervisor: Addr<ElectionSupervisor>,
    events: Events,
    next: Participant,
    observer: Addr<ZkSession>,
    _observer_states: States,
}

impl CutOffLeader {
    async fn start() -> CutOffLeader {
        let server = ZkServer::start().expect("zookeeper");
        let proxy = std::sync::Arc::new(FaultProxy::for_connect_string(&server.connect_string()).expect("proxy"));
        let config = ElectionConfig::builder(LATCH).build().unwrap();
        let patient = zk_election::SessionConfig::builder(proxy.connect_string())
            .session_timeout(10 * SECOND)
            .request_timeout(SECOND)
            .build()
            .unwrap();
        let (session, states) = session_with(patient).await;
        let supervisor = ElectionSupervisor::start(session.clone(), config.clone());
        let mut events = subscribe(&supervisor, COMPONENT, "old:1", LEADER, true).await;
        let (observer, observer_states) = connected_session(&server.connect_string(), 4 * SECOND).await;
        let granted = expect_grant(&mut events, 5 * SECOND).await;
        await_leader_node(&observer, "old:1", granted, 5 * SECOND).await;
        let next = join_with(&server.connect_string(), "next:2", true, config, 4 * SECOND).await;
        await_children(&observer, LATCH, 2, 5 * SECOND).await;
        // Granted, published: all before what the test does.
        events.try_drain();
        CutOffLeader {
            _server: server,
            proxy,
            session,
            states,
            supervisor,
            events,
            next,
            observer,
            _observer_states: observer_states,
        }
    }

    /// Stops the election into a partition: the stop's requests give up after 1 s, then the
    /// connection breaks and they are lost with it (as when a real partition outlasts TCP).
    async fn stop_while_cut_off(&mut self) {
        let stopped = self.supervisor.send(StopElection).await.unwrap();
        assert!(matches!(stopped, Err(ElectionError::StopDeferred(_))), "{stopped:?}");
        self.cut().await;
        assert!(read(&self.observer, LEADER).await.is_some(), "the old leader's node cannot be gone yet");
    }

    async fn cut(&mut self) {
        let cutter = self.proxy.clone();
        tokio::task::spawn_blocking(move || cutter.cut()).await.expect("cut");
        expect_state(&mut self.states, ConnectionState::Suspended, 5 * SECOND).await;
    }

    /// Heals the partition: the same session comes back, and the stopped supervisor must
    /// finish leaving. Had its latch node stayed, it would stand first in line for as long as
    /// the session lived: nobody else could lead.
    async fn heal_and_expect_the_next_to_lead(&mut self) {
        self.proxy.pass();
        let next_granted = expect_grant(&mut self.next.events, 5 * SECOND).await;
        await_leader_node(&self.observer, "next:2", next_granted, 5 * SECOND).await;
        let metrics = self.session.send(GetSessionMetrics).await.unwrap();
        assert_eq!((metrics.reconnects, metrics.sessions_lost), (1, 0), "the old session must have survived");
        assert!(self.events.try_drain().is_empty(), "a stopped election spoke");
    }
}

#[actix_rt::test]
async fn stop_cut_off_from_zookeeper_leaves_after_the_reconnect() {
    init_tracing();
    let mut old = CutOffLeader::start().await;
    old.proxy.blackhole();
    old.stop_while_cut_off().await;
    old.heal_and_expect_the_next_to_lead().await;

    // Once it has left, the stopped supervisor has nothing more to do after a reconnect.
    let before = old.session.send(GetSessionMetrics).await.unwrap();
    old.cut().await;
    old.proxy.pass();
    expect_state(&mut old.states, ConnectionState::Reconnected { same_session: true }, 5 * SECOND).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = old.session.send(GetSessionMetrics).await.unwrap();
    assert_eq!(again.total_requests(), before.total_requests(), "a stopped supervisor left twice");
}

/// The simulation found this (seed 300): a resign that could not delete the latch node, then a
/// stop before the reconnect. The latch had moved on to rejoining and forgot the node it could
/// not delete; nothing deleted it after the reconnect.
#[actix_rt::test]
async fn resign_then_stop_cut_off_from_zookeeper_leaves_every_node_after_the_reconnect() {
    init_tracing();
    let mut old = CutOffLeader::start().await;
    old.proxy.blackhole();
    // Accepted at once; the latch's delete and rejoin go into the partition.
    old.supervisor.send(Resign::new(COMPONENT)).await.unwrap().expect("resign");
    old.events.until(5 * SECOND, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    old.stop_while_cut_off().await;
    old.heal_and_expect_the_next_to_lead().await;
    // Every node of the old session went: the latch holds the successor's node alone.
    await_children(&old.observer, LATCH, 1, 5 * SECOND).await;
}

#[actix_rt::test]
async fn a_leader_that_cannot_publish_gives_the_latch_up_and_the_election_recovers_once_fixed() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (admin, _s) = connected_session(&cs, 4 * SECOND).await;
    // A leader-node parent that lets everyone do everything but create children.
    let no_create = Permission::READ | Permission::WRITE | Permission::DELETE | Permission::ADMIN;
    let locked = Create::new("/locked", vec![], NodeMode::Persistent)
        .acl(NodeAcl::Custom(vec![Acl::new(no_create, AuthId::anyone())]));
    ops(&admin).send(locked).await.unwrap().unwrap();
    let config = || ElectionConfig::builder(LATCH).build().unwrap();
    let mut a = Participant::start(&cs, config(), "jobmanager", "a:1", "/locked/leader", true, 4 * SECOND).await;
    expect_grant(&mut a.events, 5 * SECOND).await;
    let mut b = Participant::start(&cs, config(), "jobmanager", "b:2", "/locked/leader", true, 4 * SECOND).await;

    // The refused leader steps aside, so the next contender gets its turn.
    let granted_b = tokio::time::timeout(15 * SECOND, expect_grant(&mut b.events, 20 * SECOND)).await;
    let seen_by_a = a.events.try_drain();
    assert!(granted_b.is_ok(), "the election is wedged behind a leader that cannot publish; a saw {seen_by_a:?}");
    assert!(seen_by_a.iter().any(|e| matches!(e, LeadershipEvent::Revoked { .. })), "{seen_by_a:?}");
    let gave_up =
        |e: &LeadershipEvent| matches!(e, LeadershipEvent::Error { error: ElectionError::PublishAbandoned { .. }, .. });
    assert!(seen_by_a.iter().any(gave_up), "{seen_by_a:?}");
    // Each distinct error once per grant, not once per retry.
    let no_auth = seen_by_a
        .iter()
        .filter(|e| {
            matches!(e, LeadershipEvent::Error { error: ElectionError::ZooKeeper(zk_election::ZkError::NoAuth), .. })
        })
        .count();
    assert!(no_auth <= 1, "NoAuth reported {no_auth} times: {seen_by_a:?}");

    // An operator fixes the parent: whoever leads then publishes, without a restart.
    ops(&admin).send(Delete { path: "/locked".into(), version: None }).await.unwrap().unwrap();
    // The leader's next attempt may create the parent itself (open ACL) before we do.
    let recreated = ops(&admin).send(Create::new("/locked", vec![], NodeMode::Persistent)).await.unwrap();
    assert!(matches!(recreated, Ok(_) | Err(zk_election::ZkError::NodeExists)), "{recreated:?}");
    eventually(5 * SECOND, "a leader node after the fix", || async { read(&admin, "/locked/leader").await }).await;
}
