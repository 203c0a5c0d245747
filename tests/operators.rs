//! What operators steer, against a real ZooKeeper: the line of candidates with priorities and
//! labels, hand-over to a named successor, preemption by priority, cooldown, stopping while
//! ZooKeeper cannot be reached, connect strings as operators write them.

mod common;

use std::time::{Duration, Instant};

use actix::prelude::*;
use common::*;
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::zk::{Create, NodeMode, Parents};
use zk_election::{
    candidates, ElectionConfig, ElectionError, LeadershipEvent, Resign, SessionConfig, StopElection, Transfer,
    ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/operators/latch";
const LEADER: &str = "/operators/leader";
const COMPONENT: &str = "jobmanager";

async fn leader_behind(proxy: &FaultProxy, timeout: Duration) -> Participant {
    let config = ElectionConfig::builder(LATCH).build().unwrap();
    let mut leader = Participant::start(&proxy.connect_string(), config, COMPONENT, "a:1", LEADER, true, timeout).await;
    expect_grant(&mut leader.events, 5 * SECOND).await;
    expect_published(&mut leader.events, 5 * SECOND).await;
    leader
}

/// A stop while ZooKeeper cannot be reached answers within a second, whether the outage was
/// noticed yet (the connection suspended) or not (the delete waits on a silent link); it says
/// the nodes could not be deleted yet, and they go once the link is back (or with the session).
#[actix_rt::test]
async fn stopping_during_an_outage_answers_within_a_second() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (observer, _states) = connected_session(&server.connect_string(), 10 * SECOND).await;
    for noticed in [true, false] {
        let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
        let mut leader = leader_behind(&proxy, 8 * SECOND).await;
        proxy.blackhole();
        if noticed {
            leader.events.until(10 * SECOND, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
        }
        let asked = Instant::now();
        let stopped = leader.supervisor.send(StopElection).await.unwrap();
        let took = asked.elapsed();
        eprintln!("stop during an outage, noticed={noticed}: {took:?}");
        assert!(took <= SECOND, "noticed={noticed}: the stop took {took:?}");
        assert!(matches!(stopped, Err(ElectionError::StopDeferred(_))), "noticed={noticed}: {stopped:?}");
        assert_eq!(await_children(&observer, LATCH, 1, SECOND).await.len(), 1, "deleted without a link");
        // Back within the session: the deferred leave deletes both nodes.
        proxy.pass();
        await_children(&observer, LATCH, 0, 10 * SECOND).await;
        eventually(5 * SECOND, "leader node gone", || async { (!exists(&observer, LEADER).await).then_some(()) }).await;
    }
}

/// `tcp://` before a server, as other ZooKeeper clients write connect strings, is accepted in
/// every entry, chroot or not; another scheme is refused by name.
#[actix_rt::test]
async fn tcp_prefixes_in_connect_strings_connect() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let plain = server.connect_string();
    for connect in [format!("tcp://{plain}"), format!("tcp://{plain},tcp://127.0.0.1:1/operators")] {
        let config = SessionConfig::builder(&connect).build();
        assert!(config.is_ok(), "{connect}: {config:?}");
        connected_session(&connect, 4 * SECOND).await;
    }
    let refused = SessionConfig::builder(format!("zk://{plain}")).build();
    assert!(refused.as_ref().is_err_and(|err| err.to_string().contains("zk://")), "{refused:?}");
}

fn campaign<'a>(connect: &'a str, address: &'a str) -> Vec<&'a str> {
    let mut args = vec!["campaign", "--connect", connect, "--latch-path", LATCH, "--leader-path", LEADER];
    args.extend(["--address", address, "--session-timeout-ms", "8000", "--json"]);
    args
}

/// `zk-elect campaign` told to quit during an outage exits within a second of the `quit`
/// (it used to wait 7.5 s for the session to end), before and after it noticed the outage.
#[actix_rt::test]
async fn campaign_quit_during_an_outage_exits_within_a_second() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    for noticed in [true, false] {
        let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
        let connect = proxy.connect_string();
        let mut leader = ZkElect::spawn("campaign", &campaign(&connect, "a:1"));
        leader.expect("published", 15 * SECOND).await;
        proxy.blackhole();
        if noticed {
            leader.expect_where("connection", 10 * SECOND, |e| e["state"] == "suspended").await;
        }
        let asked = Instant::now();
        leader.say("quit").await;
        let code = leader.exit_code(10 * SECOND).await;
        let took = asked.elapsed();
        assert_eq!(code, Some(0), "noticed={noticed}");
        eprintln!("campaign quit during an outage, noticed={noticed}: {took:?}");
        assert!(took <= SECOND, "noticed={noticed}: quit took {took:?}");
    }
}

/// Every command takes `tcp://` connect strings.
#[actix_rt::test]
async fn commands_take_tcp_prefixes() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let connect = format!("tcp://{}", server.connect_string());
    let mut campaigner = ZkElect::spawn("campaign", &campaign(&connect, "a:1"));
    campaigner.expect("published", 15 * SECOND).await;
    let mut observer =
        ZkElect::spawn("observe", &["observe", "--connect", &connect, "--leader-path", LEADER, "--json"]);
    observer.expect_where("leader", 10 * SECOND, |e| e["address"] == "a:1").await;
    let run = ["run", "--connect", &connect, "--latch-path", LATCH, "--leader-path", LEADER, "--address", "b:1"];
    let mut runner = ZkElect::spawn("run", &[&run[..], &["--json", "--", "sleep", "30"]].concat());
    runner.expect_where("connection", 10 * SECOND, |e| e["state"] == "connected").await;
    for process in [&mut campaigner, &mut observer, &mut runner] {
        process.say("quit").await;
        process.expect_clean_exit(0).await;
    }
}

/// A participant on `connect` whose election is `config`, publishing `address`.
async fn contender(connect: &str, config: ElectionConfig, address: &str) -> Participant {
    Participant::start(connect, config, COMPONENT, address, LEADER, true, 6 * SECOND).await
}

fn plain() -> ElectionConfig {
    ElectionConfig::builder(LATCH).build().unwrap()
}

/// Joins a Curator-shaped participant by hand: an ephemeral sequential `_c_{uuid}-latch-` node
/// whose data is its ID, as Curator's `LeaderLatch` creates it.
async fn curator_participant(session: &Addr<ZkSession>, id: &str) -> String {
    let prefix = format!("{LATCH}/_c_{}-latch-", uuid::Uuid::new_v4());
    let create = Create::new(prefix, id.as_bytes(), NodeMode::EphemeralSequential).parents(Parents::Container);
    ops(session).send(create).await.unwrap().expect("curator-shaped node").path
}

/// Addresses in line, first first.
async fn line(session: &Addr<ZkSession>) -> Vec<String> {
    candidates(session.clone(), LATCH).await.unwrap().into_iter().map(|c| c.info.id).collect()
}

async fn await_line(session: &Addr<ZkSession>, expected: &[&str]) {
    eventually(10 * SECOND, &format!("line {expected:?}"), || async {
        (line(session).await == expected).then_some(())
    })
    .await;
}

/// The line as operators read it: positions, IDs, priorities from the node names, labels, the
/// leader's fencing token; a Curator participant with its ID and priority 0.
#[actix_rt::test]
async fn candidates_lists_the_line_with_priorities_labels_and_curator_peers() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;
    assert_eq!(candidates(observer.clone(), LATCH).await, Ok(Vec::new()), "no latch path: an empty line");
    // No preemption: c's priority would take leadership from a.
    let mut a = contender(&cs, ElectionConfig::builder(LATCH).no_preemption().build().unwrap(), "a:1").await;
    let (_, token) = {
        expect_grant(&mut a.events, 5 * SECOND).await;
        expect_publication(&mut a.events, 5 * SECOND).await
    };
    let labelled = ElectionConfig::builder(LATCH).priority(-2).label("version", "2.1").label("zone", "b");
    let _b = contender(&cs, labelled.build().unwrap(), "b:1").await;
    await_line(&observer, &["a:1", "b:1"]).await;
    let curator = curator_participant(&observer, "curator-1").await;
    let _c = contender(&cs, ElectionConfig::builder(LATCH).priority(7).build().unwrap(), "c:1").await;
    await_line(&observer, &["a:1", "b:1", "curator-1", "c:1"]).await;
    let line = candidates(observer.clone(), LATCH).await.unwrap();
    let summary: Vec<(usize, &str, i32, usize)> =
        line.iter().map(|c| (c.position, c.info.id.as_str(), c.info.priority, c.info.labels.len())).collect();
    assert_eq!(summary, [(0, "a:1", 0, 0), (1, "b:1", -2, 2), (2, "curator-1", 0, 0), (3, "c:1", 7, 0)]);
    assert_eq!(line[0].czxid, token, "the leader's fencing token");
    assert_eq!(line[1].info.labels.get("version").map(String::as_str), Some("2.1"));
    assert_eq!(line[2].node, curator);
    assert!(line[3].node.contains("-p7-latch-"), "{}", line[3].node);
}

/// A transfer to a candidate third in line: it leads next, the one between is never granted and
/// queues again behind it, and so does the old leader; the token grows.
#[actix_rt::test]
async fn transfer_hands_over_past_the_candidates_ahead() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;
    let mut a = contender(&cs, plain(), "a:1").await;
    expect_grant(&mut a.events, 5 * SECOND).await;
    let (_, first_token) = expect_publication(&mut a.events, 5 * SECOND).await;
    let mut b = contender(&cs, plain(), "b:1").await;
    await_line(&observer, &["a:1", "b:1"]).await;
    let mut c = contender(&cs, plain(), "c:1").await;
    await_line(&observer, &["a:1", "b:1", "c:1"]).await;
    let _d = contender(&cs, plain(), "d:1").await;
    await_line(&observer, &["a:1", "b:1", "c:1", "d:1"]).await;

    let refused = b.supervisor.send(Transfer::to_address("c:1")).await.unwrap();
    assert_eq!(refused, Err(ElectionError::NotLeader));
    let to_self = a.supervisor.send(Transfer::to_address("a:1")).await.unwrap();
    assert_eq!(to_self, Err(ElectionError::TransferToSelf));
    let unknown = a.supervisor.send(Transfer::to_address("x:1")).await.unwrap();
    assert!(matches!(unknown, Err(ElectionError::UnknownCandidate(_))), "{unknown:?}");

    let target = a.supervisor.send(Transfer::to_address("c:1")).await.unwrap().expect("transfer");
    assert!(target.starts_with(LATCH), "{target}");
    expect_grant(&mut c.events, 5 * SECOND).await;
    let (_, token) = expect_publication(&mut c.events, 5 * SECOND).await;
    assert!(token > first_token, "{token} after {first_token}");
    a.events.until(SECOND, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    // a requeued at once, b on seeing its node gone: both behind c and d, in either order.
    eventually(10 * SECOND, "c, d, then a and b", || async {
        let mut now = line(&observer).await;
        if let Some(rest) = now.get_mut(2..) {
            rest.sort();
        }
        (now == ["c:1", "d:1", "a:1", "b:1"]).then_some(())
    })
    .await;
    let b_events = b.events.drain_for(SECOND).await;
    assert!(b_events.iter().all(|e| !matches!(e, LeadershipEvent::Granted { .. })), "b led between: {b_events:?}");
    let a_events = a.events.drain_for(SECOND).await;
    assert!(a_events.iter().all(|e| !matches!(e, LeadershipEvent::Granted { .. })), "a led again: {a_events:?}");
}

/// A candidate of strictly higher priority takes over once it stood in line for the grace
/// period; equal priorities never do. A rolling upgrade of 3 contenders to a version with a
/// higher priority, followers first, moves leadership exactly once.
#[actix_rt::test]
async fn a_rolling_upgrade_to_a_higher_priority_moves_leadership_once() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;
    let grace = Duration::from_millis(500);
    let version =
        |priority: i32| ElectionConfig::builder(LATCH).priority(priority).preempt_after(grace).build().unwrap();
    let mut old_a = contender(&cs, version(0), "a:1").await;
    expect_published(&mut old_a.events, 5 * SECOND).await;
    let old_b = contender(&cs, version(0), "b:1").await;
    await_line(&observer, &["a:1", "b:1"]).await;
    let old_c = contender(&cs, version(0), "c:1").await;
    await_line(&observer, &["a:1", "b:1", "c:1"]).await;

    // Upgrade c, then b: the first upgraded one takes over (after the grace), once.
    old_c.supervisor.send(StopElection).await.unwrap().unwrap();
    let asked = Instant::now();
    let mut new_c = contender(&cs, version(1), "c:2").await;
    expect_published(&mut new_c.events, 5 * SECOND).await;
    assert!(asked.elapsed() >= grace, "took over before the grace: {:?}", asked.elapsed());
    old_b.supervisor.send(StopElection).await.unwrap().unwrap();
    let mut new_b = contender(&cs, version(1), "b:2").await;
    eventually(5 * SECOND, "b:2 in line", || async {
        line(&observer).await.iter().any(|id| id == "b:2").then_some(())
    })
    .await;
    // Then the old leader a.
    old_a.supervisor.send(StopElection).await.unwrap().unwrap();
    let mut new_a = contender(&cs, version(1), "a:2").await;
    await_line(&observer, &["c:2", "b:2", "a:2"]).await;
    let quiet = 3 * grace;
    for (name, events) in [("b", &mut new_b.events), ("a", &mut new_a.events)] {
        let seen = events.drain_for(quiet).await;
        assert!(seen.iter().all(|e| !matches!(e, LeadershipEvent::Granted { .. })), "{name} took over: {seen:?}");
    }
    let still = new_c.events.try_drain();
    assert!(still.iter().all(|e| !matches!(e, LeadershipEvent::Revoked { .. })), "c lost it: {still:?}");
}

/// A resigner stays out of line for its cooldown, then queues again (and, alone, leads again).
#[actix_rt::test]
async fn a_resigner_waits_out_its_cooldown_before_queueing_again() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;
    let cooldown = Duration::from_millis(1500);
    let config = ElectionConfig::builder(LATCH).cooldown(cooldown).build().unwrap();
    let mut a = contender(&cs, config, "a:1").await;
    expect_published(&mut a.events, 5 * SECOND).await;
    let resigned = Instant::now();
    a.supervisor.send(Resign::new(COMPONENT)).await.unwrap().unwrap();
    await_line(&observer, &[]).await;
    tokio::time::sleep(cooldown / 2).await;
    assert!(line(&observer).await.is_empty(), "queued again during the cooldown");
    expect_grant(&mut a.events, 5 * SECOND).await;
    assert!(resigned.elapsed() >= cooldown, "led again after {:?}", resigned.elapsed());
}

/// `zk-elect campaign --cooldown-ms`: after a `resign` on stdin it stays out of line for the
/// cooldown, then queues again and, alone, leads again.
#[actix_rt::test]
async fn zk_elect_campaign_waits_out_its_cooldown_after_a_resign() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;
    let cooldown = Duration::from_millis(1500);
    let mut a = ZkElect::spawn("campaign", &[&campaign(&cs, "a:1")[..], &["--cooldown-ms", "1500"]].concat());
    a.expect("published", 15 * SECOND).await;
    let resigned = Instant::now();
    a.say("resign").await;
    a.expect("revoked", 5 * SECOND).await;
    await_line(&observer, &[]).await;
    tokio::time::sleep(cooldown / 2).await;
    assert!(line(&observer).await.is_empty(), "queued again during the cooldown");
    a.expect("published", 10 * SECOND).await;
    assert!(resigned.elapsed() >= cooldown, "led again after {:?}", resigned.elapsed());
    a.say("quit").await;
    a.expect_clean_exit(0).await;
}

/// `zk-elect candidates` prints the line, the leader first with its fencing token; campaigns
/// take `--priority`, `--label` and `--no-preemption`.
#[actix_rt::test]
async fn zk_elect_candidates_prints_the_line() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let mut a_args = campaign(&cs, "a:1");
    a_args.extend(["--label", "version=1", "--no-preemption"]);
    let mut a = ZkElect::spawn("campaign a", &a_args);
    let published = a.expect("published", 15 * SECOND).await;
    let mut b_args = campaign(&cs, "b:1");
    b_args.extend(["--priority", "5", "--label", "version=2", "--label", "zone=x"]);
    let mut b = ZkElect::spawn("campaign b", &b_args);
    b.expect_where("connection", 10 * SECOND, |e| e["state"] == "connected").await;
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;
    await_line(&observer, &["a:1", "b:1"]).await;

    let mut list = ZkElect::spawn("candidates", &["candidates", "--connect", &cs, "--latch-path", LATCH, "--json"]);
    let (printed, status) = list.until_stopped().await;
    assert!(status.success(), "{status:?}");
    let line: Vec<&serde_json::Value> = printed.iter().filter(|e| e["event"] == "candidate").collect();
    assert_eq!(line.len(), 2, "{printed:?}");
    assert_eq!((line[0]["position"].as_u64(), line[0]["address"].as_str()), (Some(0), Some("a:1")));
    assert_eq!(line[0]["fencing_token"], published["fencing_token"]);
    assert_eq!(line[0]["labels"], serde_json::json!({"version": "1"}));
    assert_eq!((line[1]["address"].as_str(), line[1]["priority"].as_i64()), (Some("b:1"), Some(5)));
    assert_eq!(line[1]["labels"], serde_json::json!({"version": "2", "zone": "x"}));
    assert!(line[1].get("fencing_token").is_none(), "a follower's token: {:?}", line[1]);
    for process in [&mut a, &mut b] {
        process.say("quit").await;
        process.expect_clean_exit(0).await;
    }
}

/// Lines on a campaign's stdin: `transfer ADDRESS` hands over past the candidate ahead,
/// `resign` leaves and queues again; a transfer by a follower is refused with a message.
#[actix_rt::test]
async fn zk_elect_transfer_and_resign_from_stdin() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;
    let mut a = ZkElect::spawn("campaign a", &campaign(&cs, "a:1"));
    a.expect("published", 15 * SECOND).await;
    let mut b = ZkElect::spawn("campaign b", &campaign(&cs, "b:1"));
    await_line(&observer, &["a:1", "b:1"]).await;
    let mut c = ZkElect::spawn("campaign c", &campaign(&cs, "c:1"));
    await_line(&observer, &["a:1", "b:1", "c:1"]).await;

    b.say("transfer c:1").await;
    let refused = b.expect("error", 5 * SECOND).await;
    assert!(refused["message"].as_str().is_some_and(|m| m.contains("not")), "{refused}");
    a.say("transfer c:1").await;
    a.expect("transferring", 5 * SECOND).await;
    a.expect("revoked", 5 * SECOND).await;
    c.expect("published", 5 * SECOND).await;
    c.say("resign").await;
    c.expect("revoked", 5 * SECOND).await;
    // b or a (whichever queued again first) leads next; c queues behind.
    eventually(10 * SECOND, "c at the back", || async {
        (line(&observer).await.last().map(String::as_str) == Some("c:1")).then_some(())
    })
    .await;
    let b_events = b.drain_for(SECOND).await;
    let a_events = a.drain_for(Duration::ZERO).await;
    let granted = |events: &[serde_json::Value]| events.iter().any(|e| e["event"] == "published");
    assert!(granted(&b_events) ^ granted(&a_events), "one leader after the resign: {b_events:?} {a_events:?}");
    for process in [&mut a, &mut b, &mut c] {
        process.say("quit").await;
        process.expect_clean_exit(0).await;
    }
}

/// Health-tied leadership in the library: after `health_failures` unhealthy reports in a row a
/// leader steps down and leaves the line; the follower takes over; a healthy report queues it
/// again, behind.
#[actix_rt::test]
async fn an_unhealthy_leader_steps_down_and_queues_again_once_healthy() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;
    let config = ElectionConfig::builder(LATCH).health_failures(2).build().unwrap();
    let mut a = contender(&cs, config, "a:1").await;
    expect_published(&mut a.events, 5 * SECOND).await;
    let mut b = contender(&cs, plain(), "b:1").await;
    await_line(&observer, &["a:1", "b:1"]).await;
    let report = |healthy| zk_election::ReportHealth { component: COMPONENT.into(), healthy };
    a.supervisor.send(report(false)).await.unwrap().unwrap();
    assert!(a.events.drain_for(SECOND / 2).await.is_empty(), "one failure stepped down");
    a.supervisor.send(report(true)).await.unwrap().unwrap();
    a.supervisor.send(report(false)).await.unwrap().unwrap();
    assert!(a.events.drain_for(SECOND / 2).await.is_empty(), "failures not in a row stepped down");
    a.supervisor.send(report(false)).await.unwrap().unwrap();
    a.events.until(5 * SECOND, |e| matches!(e, LeadershipEvent::Revoked { .. })).await;
    expect_published(&mut b.events, 5 * SECOND).await;
    await_line(&observer, &["b:1"]).await;
    a.supervisor.send(report(false)).await.unwrap().unwrap();
    a.supervisor.send(report(true)).await.unwrap().unwrap();
    await_line(&observer, &["b:1", "a:1"]).await;
    let unknown = zk_election::ReportHealth { component: "nobody".into(), healthy: true };
    assert!(matches!(a.supervisor.send(unknown).await.unwrap(), Err(ElectionError::UnknownContender(_))));
}

/// `--health-cmd`: a failing check makes the leader step down after `--health-failures`
/// runs, the other campaign takes over; a passing check queues it again.
#[actix_rt::test]
async fn zk_elect_health_cmd_steps_down_and_back() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;
    let dir = tempfile::tempdir().unwrap();
    let sick = dir.path().join("sick");
    let check = format!("test ! -e {}", sick.display());
    let mut a_args = campaign(&cs, "a:1");
    a_args.extend(["--health-cmd", &check, "--health-interval-ms", "200", "--health-failures", "2"]);
    let mut a = ZkElect::spawn("campaign a", &a_args);
    a.expect("published", 15 * SECOND).await;
    let mut b = ZkElect::spawn("campaign b", &campaign(&cs, "b:1"));
    await_line(&observer, &["a:1", "b:1"]).await;
    std::fs::write(&sick, b"").unwrap();
    a.expect_where("health", 5 * SECOND, |e| e["healthy"] == false).await;
    a.expect("revoked", 5 * SECOND).await;
    b.expect("published", 5 * SECOND).await;
    await_line(&observer, &["b:1"]).await;
    std::fs::remove_file(&sick).unwrap();
    a.expect_where("health", 5 * SECOND, |e| e["healthy"] == true).await;
    await_line(&observer, &["b:1", "a:1"]).await;
    for process in [&mut a, &mut b] {
        process.say("quit").await;
        process.expect_clean_exit(0).await;
    }
}

/// A transfer to a candidate that cannot take over (cut off from ZooKeeper): it stands first
/// until its session expires, then succession is normal and the next in line leads.
#[actix_rt::test]
async fn a_transfer_target_that_cannot_take_over_is_passed_over_when_its_session_ends() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;
    let mut a = contender(&cs, plain(), "a:1").await;
    expect_published(&mut a.events, 5 * SECOND).await;
    let proxy = FaultProxy::for_connect_string(&cs).expect("proxy");
    let mut b = Participant::start(&proxy.connect_string(), plain(), COMPONENT, "b:1", LEADER, true, 2 * SECOND).await;
    await_line(&observer, &["a:1", "b:1"]).await;
    let mut c = contender(&cs, plain(), "c:1").await;
    await_line(&observer, &["a:1", "b:1", "c:1"]).await;

    proxy.blackhole();
    a.supervisor.send(Transfer::to_address("b:1")).await.unwrap().expect("transfer");
    let (_, token) = expect_publication(&mut c.events, 15 * SECOND).await;
    assert!(token > 0);
    let b_events = b.events.try_drain();
    assert!(b_events.iter().all(|e| !matches!(e, LeadershipEvent::Published { .. })), "{b_events:?}");
    assert!(a.events.try_drain().iter().all(|e| !matches!(e, LeadershipEvent::Granted { .. })), "a led again");
}
