//! What operators steer, against a real ZooKeeper: stopping while ZooKeeper cannot be reached,
//! connect strings as operators write them.

mod common;

use std::time::{Duration, Instant};

use common::*;
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::{ElectionConfig, ElectionError, LeadershipEvent, SessionConfig, StopElection};

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
