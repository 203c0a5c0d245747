//! The pause mix: `zk-elect campaign` processes, each behind its own proxy, frozen with SIGSTOP
//! (a GC or VM pause) for random lengths, alone or together with a partition of their
//! connection, under a seeded schedule; then a checker over what the processes printed.
//!
//! A frozen process cannot step down, so the verdict is on the time an old leader claims
//! leadership next to its successor *while it can run*: at most [`RUNNING_OVERLAP_BOUND`], for
//! both policies. `CHAOS_SEED` replays a schedule, `CHAOS_SECS` sets each mix's length.

mod chaos_support;
mod common;

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chaos_support::{duration, report, rng};
use common::*;
use rand::Rng;
use serde_json::Value;
use zk_election::testkit::{FaultProxy, ZkServer};

const SECOND: Duration = Duration::from_secs(1);
const SESSION_TIMEOUT_MS: u64 = 2000;
const PROCESSES: usize = 3;
/// How long a resumed old leader may go on claiming leadership next to its successor.
const RUNNING_OVERLAP_BOUND: i64 = 20;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// One `zk-elect` process behind its own proxy, and the windows (wall-clock ms) it was frozen.
struct Contender {
    process: ZkElect,
    proxy: FaultProxy,
    frozen: Vec<(i64, i64)>,
    /// Everything it printed, in order.
    events: Vec<Value>,
}

impl Contender {
    fn start(server: &ZkServer, index: usize, policy: &str) -> Contender {
        let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
        let connect = proxy.connect_string();
        let address = format!("p{index}:1");
        let timeout = SESSION_TIMEOUT_MS.to_string();
        let args = [
            "campaign",
            "--connect",
            connect.as_str(),
            "--latch-path",
            "/pause-mix/latch",
            "--leader-path",
            "/pause-mix/leader",
            "--address",
            address.as_str(),
            "--policy",
            policy,
            "--session-timeout-ms",
            timeout.as_str(),
            "--json",
        ];
        Contender { process: ZkElect::spawn(&address, &args), proxy, frozen: Vec::new(), events: Vec::new() }
    }

    /// Collects what the process printed so far.
    async fn collect(&mut self) {
        self.events.extend(self.process.drain_for(Duration::from_millis(1)).await);
    }

    /// Whether its last leadership event is a grant.
    fn leads(&self) -> bool {
        let last = self.events.iter().rev().find(|e| e["event"] == "granted" || e["event"] == "revoked");
        last.is_some_and(|e| e["event"] == "granted")
    }

    /// Its terms as leader: (granted, revoked or `end`) in wall-clock ms.
    fn terms(&self, end: i64) -> Vec<(i64, i64)> {
        let mut terms = Vec::new();
        let mut since = None;
        for event in &self.events {
            let ts = event["ts_ms"].as_i64().unwrap_or_default();
            match event["event"].as_str() {
                Some("granted") => since = since.or(Some(ts)),
                Some("revoked") => terms.extend(since.take().map(|from| (from, ts))),
                _ => {}
            }
        }
        terms.extend(since.map(|from| (from, end)));
        terms
    }

    /// Milliseconds of `[from, to)` during which it was not frozen.
    fn running_ms(&self, from: i64, to: i64) -> i64 {
        let frozen: i64 = self.frozen.iter().map(|&(a, b)| (b.min(to) - a.max(from)).max(0)).sum();
        (to - from - frozen).max(0)
    }
}

/// Overlaps of terms of different processes: (older leader, newer leader, overlap ms, of which
/// the older leader could run).
fn overlaps(contenders: &[Contender], end: i64) -> Vec<(usize, usize, i64, i64)> {
    let mut found = Vec::new();
    for (i, a) in contenders.iter().enumerate() {
        for (j, b) in contenders.iter().enumerate() {
            for &(a_from, a_to) in &a.terms(end) {
                for &(b_from, b_to) in &b.terms(end) {
                    // Counted once, from the side of the older term.
                    if i == j || a_from > b_from || (a_from == b_from && i > j) {
                        continue;
                    }
                    let (from, to) = (b_from, a_to.min(b_to));
                    if to > from {
                        found.push((i, j, to - from, a.running_ms(from, to)));
                    }
                }
            }
        }
    }
    found
}

async fn collect_all(contenders: &mut [Contender]) {
    for contender in contenders.iter_mut() {
        contender.collect().await;
    }
}

async fn pause_mix(policy: &str) {
    init_tracing();
    let (seed, mut rng) = rng(&format!("pause-{policy}"));
    let server = ZkServer::start().expect("zookeeper");
    let mut contenders: Vec<Contender> = (0..PROCESSES).map(|i| Contender::start(&server, i, policy)).collect();
    let until = tokio::time::Instant::now() + duration(Duration::from_secs(20));
    let (mut pauses, mut partitions) = (0, 0);
    tokio::time::sleep(2 * SECOND).await;
    while tokio::time::Instant::now() < until {
        collect_all(&mut contenders).await;
        // Mostly the leader: that is where a pause can do harm.
        let leader = contenders.iter().position(Contender::leads);
        let target = match leader {
            Some(leader) if rng.gen_bool(0.75) => leader,
            _ => rng.gen_range(0..PROCESSES),
        };
        // Mostly shorter than the session timeout, sometimes longer.
        let pause = Duration::from_millis(if rng.gen_bool(0.85) {
            rng.gen_range(200..1950)
        } else {
            rng.gen_range(2100..3000)
        });
        let partition = rng.gen_bool(0.5);
        let contender = &mut contenders[target];
        if partition {
            contender.proxy.blackhole();
            partitions += 1;
        }
        let frozen_at = now_ms();
        contender.process.signal(libc::SIGSTOP);
        tokio::time::sleep(pause).await;
        contender.process.signal(libc::SIGCONT);
        contender.frozen.push((frozen_at, now_ms()));
        pauses += 1;
        if partition {
            tokio::time::sleep(Duration::from_millis(rng.gen_range(0..1500))).await;
            contender.proxy.pass();
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(500..1500))).await;
    }

    // Healed: exactly one leader soon.
    let deadline = tokio::time::Instant::now() + 8 * SECOND;
    loop {
        collect_all(&mut contenders).await;
        let leaders = contenders.iter().filter(|c| c.leads()).count();
        if leaders == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{leaders} leaders 8 s after the last fault healed");
        tokio::time::sleep(SECOND / 10).await;
    }
    let end = now_ms();
    let found = overlaps(&contenders, end);
    let terms: usize = contenders.iter().map(|c| c.terms(end).len()).sum();
    let worst = found.iter().map(|o| o.3).max().unwrap_or(0);
    report(&format!(
        "chaos[pause-{policy}] seed={seed}: {pauses} pauses ({partitions} with a partition), {terms} terms, {} \
         overlaps (frozen time included: {:?} ms), longest while the old leader could run: {worst} ms",
        found.len(),
        found.iter().map(|o| o.2).collect::<Vec<_>>(),
    ));
    for (old, new, _, running) in &found {
        assert!(
            *running <= RUNNING_OVERLAP_BOUND,
            "p{old} led {running} ms while running next to its successor p{new} (seed {seed})"
        );
    }
    for contender in &mut contenders {
        contender.process.say("quit").await;
        contender.process.expect_clean_exit(0).await;
    }
}

/// The mixes share two CPU cores with everything else; one at a time keeps their timing honest.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run_alone(policy: &str) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    actix::System::new().block_on(pause_mix(policy));
}

#[test]
fn chaos_paused_processes_standard() {
    run_alone("standard");
}

#[test]
fn chaos_paused_processes_session_tolerant() {
    run_alone("session-tolerant");
}
