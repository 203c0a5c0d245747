//! A leader process frozen (SIGSTOP: a GC or VM pause) while its connection is blackholed, then
//! resumed with the partition still on. The server expires the frozen leader's session and a
//! successor takes over; the resumed leader must step down at once, before it handles anything
//! else, because its lease (the time the server is known to keep its session) ran out while it
//! was frozen. A frozen process cannot step down, so the bound is on the time it leads *while
//! running* after its successor was granted.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use zk_election::testkit::{FaultProxy, ZkServer};

const SECOND: Duration = Duration::from_secs(1);
const SESSION_TIMEOUT_MS: &str = "2000";
/// How long a resumed leader may go on leading next to its successor.
const RUNNING_OVERLAP_BOUND_MS: i64 = 20;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn campaign(connect: &str, address: &str, policy: &str, latch: &str, leader: &str) -> ZkElect {
    let args = [
        "campaign",
        "--connect",
        connect,
        "--latch-path",
        latch,
        "--leader-path",
        leader,
        "--address",
        address,
        "--policy",
        policy,
        "--session-timeout-ms",
        SESSION_TIMEOUT_MS,
        "--json",
    ];
    ZkElect::spawn(address, &args)
}

/// What one pause did: when the successor was granted, when the frozen leader ran again and when
/// it said `revoked` (all wall-clock ms, the clock of the events' `ts_ms`).
#[derive(Debug)]
struct Outcome {
    pause_ms: u64,
    successor_granted: i64,
    resumed: i64,
    revoked: i64,
}

impl Outcome {
    /// Time both claimed leadership, the frozen time included.
    fn overlap_ms(&self) -> i64 {
        (self.revoked - self.successor_granted).max(0)
    }

    /// Time both claimed leadership while the old leader could run.
    fn running_overlap_ms(&self) -> i64 {
        (self.revoked - self.successor_granted.max(self.resumed)).max(0)
    }
}

/// Leader through a proxy, successor direct; freeze + blackhole the leader for `pause`, resume it
/// with the partition still on, and report what happened.
async fn pause_partitioned_leader(server: &ZkServer, policy: &str, pause: Duration, round: usize) -> Outcome {
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let latch = format!("/pause/{policy}/{round}/latch");
    let leader_path = format!("/pause/{policy}/{round}/leader");
    let mut leader = campaign(&proxy.connect_string(), "leader:1", policy, &latch, &leader_path);
    leader.expect("published", 10 * SECOND).await;
    let mut successor = campaign(&server.connect_string(), "successor:1", policy, &latch, &leader_path);
    successor.expect("connection", 10 * SECOND).await;
    let (observer, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    await_children(&observer, &latch, 2, 10 * SECOND).await;
    // Part of the scenario, not a wait for anything: the leader's connection idles (pings
    // only) for a moment before it freezes, as a real leader's would.
    tokio::time::sleep(SECOND / 4).await;

    proxy.blackhole();
    leader.signal(libc::SIGSTOP);
    tokio::time::sleep(pause).await;
    let resumed = now_ms();
    leader.signal(libc::SIGCONT);

    let revoked = leader.expect("revoked", 10 * SECOND).await["ts_ms"].as_i64().expect("ts_ms");
    let granted = successor.expect("granted", 10 * SECOND).await["ts_ms"].as_i64().expect("ts_ms");
    Outcome { pause_ms: pause.as_millis() as u64, successor_granted: granted, resumed, revoked }
}

async fn pauses_shorter_than_the_session_timeout(policy: &str) {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let mut outcomes = Vec::new();
    for (round, pause_ms) in [1000, 1300, 1600, 1900].into_iter().enumerate() {
        let outcome = pause_partitioned_leader(&server, policy, Duration::from_millis(pause_ms), round).await;
        eprintln!(
            "{policy}: pause {} ms → overlap {} ms (while running {} ms); revoked {} ms after resume, successor \
             granted {} ms after resume",
            outcome.pause_ms,
            outcome.overlap_ms(),
            outcome.running_overlap_ms(),
            outcome.revoked - outcome.resumed,
            outcome.successor_granted - outcome.resumed,
        );
        outcomes.push(outcome);
    }
    for outcome in &outcomes {
        assert!(outcome.running_overlap_ms() <= RUNNING_OVERLAP_BOUND_MS, "{policy}: {outcome:?}");
    }
}

#[actix_rt::test]
async fn session_tolerant_leader_resumed_after_its_lease_ran_out_steps_down_at_once() {
    pauses_shorter_than_the_session_timeout("session-tolerant").await;
}

#[actix_rt::test]
async fn standard_leader_resumed_after_a_pause_steps_down_at_once() {
    pauses_shorter_than_the_session_timeout("standard").await;
}
