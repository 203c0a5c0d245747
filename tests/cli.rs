//! The `zk-elect` binary against a real ZooKeeper: the built executable is started as separate
//! processes, driven through stdin and signals, and judged by its JSON lines, its exit codes and
//! what it leaves in ZooKeeper and in /proc.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use actix::prelude::*;
use common::*;
use tokio::process::Command;
use zk_election::testkit::ZkServer;
use zk_election::zk::{Delete, GetChildren};
use zk_election::ZkSession;

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/cli/latch";
const LEADER: &str = "/cli/leader";

fn campaign_args<'a>(connect: &'a str, address: &'a str) -> Vec<&'a str> {
    vec![
        "campaign",
        "--connect",
        connect,
        "--latch-path",
        LATCH,
        "--leader-path",
        LEADER,
        "--address",
        address,
        "--json",
    ]
}

fn run_args<'a>(connect: &'a str, address: &'a str, grace_ms: &'a str, command: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--connect", connect, "--latch-path", LATCH, "--leader-path", LEADER];
    args.extend(["--address", address, "--grace-ms", grace_ms, "--json", "--"]);
    args.extend(command);
    args
}

/// The latch nodes, leader first: (node path, participant address).
async fn latch_line(observer: &Addr<ZkSession>) -> Vec<(String, String)> {
    let children = ops(observer).send(GetChildren { path: LATCH.into() }).await.unwrap().unwrap_or_default();
    let mut line = Vec::new();
    for name in zk_election::latch::participants_in_order(&children) {
        let path = format!("{LATCH}/{name}");
        if let Some((data, _)) = read(observer, &path).await {
            line.push((path, String::from_utf8(data).unwrap()));
        }
    }
    line
}

/// Waits for `granted` then `published` with the same session ID; returns it.
async fn expect_leading(process: &mut ZkElect) -> String {
    let granted = process.expect("granted", 10 * SECOND).await;
    let published = process.expect("published", 5 * SECOND).await;
    assert_eq!(granted["session_id"], published["session_id"]);
    published["session_id"].as_str().unwrap().to_owned()
}

#[actix_rt::test]
async fn two_campaigns_one_leader_and_a_handover_the_observer_sees() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (zk, _s) = connected_session(&cs, 4 * SECOND).await;
    let mut observer = ZkElect::spawn("observe", &["observe", "--connect", &cs, "--leader-path", LEADER, "--json"]);
    observer.expect_where("connection", 10 * SECOND, |e| e["state"] == "connected").await;
    observer.expect_where("leader", 5 * SECOND, |e| e["address"].is_null()).await;

    let mut a = ZkElect::spawn("campaign a", &campaign_args(&cs, "a.example:1"));
    let mut b = ZkElect::spawn("campaign b", &campaign_args(&cs, "b.example:2"));
    for process in [&mut a, &mut b] {
        process.expect_where("connection", 10 * SECOND, |e| e["state"] == "connected").await;
    }
    eventually(10 * SECOND, "both in the latch", || async { (latch_line(&zk).await.len() == 2).then_some(()) }).await;
    let leader_address = latch_line(&zk).await[0].1.clone();
    let (leader, follower) = if leader_address == "a.example:1" { (&mut a, &mut b) } else { (&mut b, &mut a) };
    let leader_session = expect_leading(leader).await;
    let seen = observer.expect("leader", 5 * SECOND).await;
    assert_eq!(
        (seen["address"].as_str(), seen["session_id"].as_str()),
        (Some(leader_address.as_str()), Some(leader_session.as_str()))
    );
    let follower_events = follower.drain_for(SECOND).await;
    assert!(follower_events.iter().all(|e| e["event"] != "granted"), "two leaders: {follower_events:?}");

    // `quit` on the leader's stdin: it leaves cleanly, the follower takes over.
    leader.say("quit").await;
    leader.expect_clean_exit(0).await;
    let follower_address = latch_line(&zk).await.first().map(|(_, a)| a.clone()).expect("follower queued");
    assert_ne!(follower_address, leader_address, "the leader's latch node outlived it");
    let next_id = expect_leading(follower).await;
    let seen = observer
        .expect_where("leader", 10 * SECOND, |e| e["address"].as_str() == Some(follower_address.as_str()))
        .await;
    assert_eq!(seen["session_id"].as_str(), Some(next_id.as_str()));

    // SIGTERM stops a campaign, SIGINT an observer, both cleanly.
    follower.signal(libc::SIGTERM);
    follower.expect_clean_exit(0).await;
    observer.expect_where("leader", 5 * SECOND, |e| e["address"].is_null()).await;
    observer.signal(libc::SIGINT);
    observer.expect_clean_exit(0).await;
    assert!(latch_line(&zk).await.is_empty(), "latch nodes left behind");
    assert!(read(&zk, LEADER).await.is_none(), "leader node left behind");
}

#[actix_rt::test]
async fn run_starts_the_command_on_the_leader_only_and_stops_it_on_revoke() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (zk, _s) = connected_session(&cs, 4 * SECOND).await;
    let grace = 3 * SECOND;
    let mut first = ZkElect::spawn("run first", &run_args(&cs, "first:1", "3000", &["sleep", "1000"]));
    eventually(10 * SECOND, "first in the latch", || async { (latch_line(&zk).await.len() == 1).then_some(()) }).await;
    let mut second = ZkElect::spawn("run second", &run_args(&cs, "second:2", "3000", &["sleep", "1000"]));
    eventually(10 * SECOND, "second in the latch", || async { (latch_line(&zk).await.len() == 2).then_some(()) }).await;

    let leader_session = expect_leading(&mut first).await;
    let started = first.expect("child_started", 5 * SECOND).await;
    let pid = started["pid"].as_u64().unwrap() as u32;
    // zk-elect -> its guardian -> the command.
    assert_eq!(parent_of(pid).and_then(parent_of), Some(first.pid()), "the command is not first's grandchild");
    assert_eq!(cmdline(pid), "sleep 1000");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let expected = format!("ZK_ELECT_LEADER_SESSION_ID={leader_session}");
    assert!(
        environ.split(|&b| b == 0).any(|var| var == expected.as_bytes()),
        "leader session ID not in the environment"
    );
    // The follower runs nothing.
    assert!(second.drain_for(SECOND).await.iter().all(|e| e["event"] != "child_started"));
    assert!(
        children_of(second.pid()).iter().all(|&p| !cmdline(p).starts_with("sleep")),
        "the follower runs the command"
    );

    // Revoke: delete first's latch node. Its command gets SIGTERM, well within the grace period.
    let (node, address) = latch_line(&zk).await.remove(0);
    assert_eq!(address, "first:1");
    let revoked_at = Instant::now();
    ops(&zk).send(Delete { path: node, version: None }).await.unwrap().unwrap();
    first.expect("revoked", 5 * SECOND).await;
    let exited = first.expect("child_exited", grace).await;
    let took = revoked_at.elapsed();
    assert_eq!((exited["code"].as_i64(), exited["signal"].as_i64()), (Some(128 + 15), Some(15)), "{exited}");
    assert!(took < grace, "command stopped after {took:?}");
    eventually(2 * SECOND, "command reaped", || async { parent_of(pid).is_none().then_some(()) }).await;
    println!("command stopped {took:?} after the revoke");

    // Leadership moved: second runs the command now, first (queued again) runs nothing.
    expect_leading(&mut second).await;
    let pid2 = second.expect("child_started", 5 * SECOND).await["pid"].as_u64().unwrap() as u32;
    assert_eq!(parent_of(pid2).and_then(parent_of), Some(second.pid()));
    assert!(first.drain_for(Duration::from_millis(500)).await.iter().all(|e| e["event"] != "child_started"));
    assert!(children_of(first.pid()).is_empty(), "the deposed leader still runs something");

    // Stopping the leader stops its command first, then leaves.
    second.say("quit").await;
    let exited = second.expect("child_exited", grace).await;
    assert_eq!(exited["signal"].as_i64(), Some(15));
    second.expect_clean_exit(0).await;
    expect_leading(&mut first).await;
    first.expect("child_started", 5 * SECOND).await;
    first.close_stdin(); // end of input stops it too
    first.expect("child_exited", grace).await;
    first.expect_clean_exit(0).await;
}

#[actix_rt::test]
async fn a_command_ignoring_sigterm_is_killed_after_the_grace_period() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let stubborn = ["sh", "-c", "trap '' TERM; sleep 1000"];
    let mut leader = ZkElect::spawn("run stubborn", &run_args(&cs, "stubborn:1", "1000", &stubborn));
    expect_leading(&mut leader).await;
    let pid = leader.expect("child_started", 5 * SECOND).await["pid"].as_u64().unwrap() as u32;
    eventually(5 * SECOND, "the command ignores SIGTERM", || async { ignores_sigterm(pid).then_some(()) }).await;
    let asked = Instant::now();
    leader.signal(libc::SIGTERM);
    let exited = leader.expect("child_exited", 5 * SECOND).await;
    let took = asked.elapsed();
    assert_eq!((exited["code"].as_i64(), exited["signal"].as_i64()), (Some(128 + 9), Some(9)), "{exited}");
    assert!(took >= SECOND && took < 3 * SECOND, "SIGKILL came after {took:?}, grace is 1 s");
    leader.expect_clean_exit(0).await;
}

#[actix_rt::test]
async fn a_command_exiting_by_itself_ends_the_campaign_with_its_code() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (zk, _s) = connected_session(&cs, 4 * SECOND).await;
    let mut runner =
        ZkElect::spawn("run exit 7", &run_args(&cs, "runner:1", "5000", &["sh", "-c", "sleep 0.5; exit 7"]));
    expect_leading(&mut runner).await;
    let mut next = ZkElect::spawn("campaign next", &campaign_args(&cs, "next:2"));
    eventually(10 * SECOND, "next queued", || async { (latch_line(&zk).await.len() == 2).then_some(()) }).await;

    let exited = runner.expect("child_exited", 5 * SECOND).await;
    assert_eq!((exited["code"].as_i64(), exited.get("signal")), (Some(7), None));
    runner.expect_clean_exit(7).await;
    // It resigned: the next contender leads at once, not after a session timeout.
    expect_leading(&mut next).await;
    assert_eq!(latch_line(&zk).await.len(), 1);

    // A command that cannot start counts as exiting with the shell's code for it.
    let mut missing = ZkElect::spawn("run missing", &run_args(&cs, "missing:3", "5000", &["/nonexistent/command"]));
    next.say("quit").await;
    next.expect_clean_exit(0).await;
    missing.expect("error", 10 * SECOND).await;
    missing.expect_clean_exit(127).await;
}

#[actix_rt::test]
async fn digest_auth_java_codec_and_readable_output() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let secured = ["--digest", "alice:s3cret", "--codec", "java"];
    let mut args = campaign_args(&cs, "flink-jm:6123");
    args.extend(secured);
    let mut leader = ZkElect::spawn("campaign secured", &args);
    let leader_session = expect_leading(&mut leader).await;

    // An observer with the same credentials and codec sees the leader...
    let observe = ["observe", "--connect", &cs, "--leader-path", LEADER, "--json"];
    let mut alice = ZkElect::spawn("observe alice", &[&observe[..], &secured[..]].concat());
    let seen = alice.expect("leader", 10 * SECOND).await;
    assert_eq!(
        (seen["address"].as_str(), seen["session_id"].as_str()),
        (Some("flink-jm:6123"), Some(leader_session.as_str()))
    );
    // ...one with the other codec sees undecodable bytes (84 + address length in Java's format)...
    let mut bincode = ZkElect::spawn("observe bincode", &[&observe[..], &["--digest", "alice:s3cret"]].concat());
    assert_eq!(bincode.expect("undecodable", 10 * SECOND).await["bytes"].as_u64(), Some(84 + 13));
    // ...and one without credentials may not read it at all.
    let anonymous = zookeeper_client::Client::connector().connect(&cs).await.unwrap();
    assert_eq!(anonymous.get_data(LEADER).await.map(|_| ()), Err(zookeeper_client::Error::NoAuth));
    assert_eq!(anonymous.delete(LEADER, None).await, Err(zookeeper_client::Error::NoAuth));
    for process in [&mut alice, &mut bincode, &mut leader] {
        process.close_stdin();
        process.expect_clean_exit(0).await;
    }

    // Without --json: readable lines, each starting with an ISO 8601 UTC timestamp. (Other
    // paths: alice's latch path is a container only alice may use until the server removes it.)
    let args = ["campaign", "--connect", &cs, "--latch-path", "/open/latch", "--leader-path", "/open/leader"];
    let mut human = ZkElect::spawn_text("campaign text", &[&args[..], &["--address", "h:1"]].concat());
    let mut seen = Vec::new();
    while !seen.last().is_some_and(|line: &String| line.contains("published")) {
        seen.push(human.line(10 * SECOND).await);
    }
    human.say("quit").await;
    seen.extend(human.rest(10 * SECOND).await);
    let timestamp = regex_lite::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ").unwrap();
    let mut texts: Vec<&str> = seen
        .iter()
        .map(|l| {
            assert!(timestamp.is_match(l), "{l}");
            &l[25..]
        })
        .collect();
    // `connecting` comes first unless the session was up before the command asked.
    if texts[0] == "connecting to ZooKeeper" {
        texts.remove(0);
    }
    assert_eq!(texts[0], "connected to ZooKeeper");
    assert!(texts[1].starts_with("leadership granted, leader session "), "{texts:?}");
    assert!(texts[2].starts_with("leader information published, leader session "), "{texts:?}");
    assert_eq!(texts[3..], ["leadership revoked", "stopped"]);
    assert_eq!(human.exit_code(10 * SECOND).await, Some(0));
}

#[actix_rt::test]
async fn bad_arguments_exit_with_code_2() {
    let base = ["--connect", "127.0.0.1:2181"];
    let election = ["--latch-path", "/l", "--leader-path", "/x", "--address", "h:1"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "Usage"),
        (vec!["elect"], "unrecognized subcommand"),
        ([&["campaign"][..], &election].concat(), "--connect"),
        ([&["campaign"][..], &base].concat(), "--latch-path"),
        ([&["campaign"][..], &base, &election, &["--codec", "json"]].concat(), "[possible values: bincode, java]"),
        ([&["campaign"][..], &base, &election, &["--policy", "lenient"]].concat(), "standard, session-tolerant"),
        ([&["campaign"][..], &base, &election, &["--session-timeout-ms", "0"]].concat(), "--session-timeout-ms"),
        ([&["campaign"][..], &base, &election, &["--digest", "alice"]].concat(), "USER:PASSWORD"),
        ([&["campaign"][..], &["--connect", "host:port"], &election].concat(), "invalid port"),
        (vec!["observe", "--connect", "a:1", "--leader-path", "leader"], "not absolute"),
        (vec!["observe", "--connect", "a:1", "--leader-path", "/"], "root"),
        ([&["run"][..], &base, &election].concat(), "<CMD>"),
        ([&["run"][..], &base, &election, &["--grace-ms", "soon", "--", "true"]].concat(), "--grace-ms"),
        ([&["campaign"][..], &base, &election, &["--address", ""]].concat(), "--address"),
    ];
    for (args, hint) in cases {
        let output =
            Command::new(env!("CARGO_BIN_EXE_zk-elect")).args(&args).stdin(Stdio::null()).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(hint), "{args:?}: expected {hint:?} in {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_zk-elect")).args(["run", "--help"]).output().await.unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--grace-ms"));
}
