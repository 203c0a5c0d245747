//! Scale: one session, 1,000 (and 10,000) supervisors on distinct latch paths, one contender
//! each → all published; with the requests, server packets and CPU it took, and for 10,000 the
//! memory each idle election holds.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use zk_election::{ElectionSupervisor, LeadershipEvent, StopElection, ZkSession};

use crate::procfs::{status_kib, CpuClock};
use crate::setup::{
    close_sessions, connect, join, session_metrics, total_requests, within, Bench, Event, EVENT_DEADLINE, SECOND,
};
use crate::stats::{round3, row, Outcome, Samples};

const ELECTIONS: usize = 1000;
/// Measured repeats of the 1,000 elections, after one unmeasured warm-up repeat.
const ELECTION_REPEATS: usize = 5;

/// One session, 1,000 supervisors on distinct latch paths, one contender each → all published.
pub(crate) async fn elections_1000(bench: &Bench) -> Result<Outcome, String> {
    let session = connect(&bench.connect, 6 * SECOND).await?;
    let mut figures = Figures::default();
    for repeat in 0..=ELECTION_REPEATS {
        let measured = repeat > 0; // repeat 0 warms up the server's JIT for this workload
        let repeat = one_repeat(bench, &session, repeat, ELECTIONS).await?;
        if measured {
            figures.add(repeat);
        } else {
            figures.warmup_ms = Some(repeat.took.as_secs_f64() * 1000.0);
        }
    }
    close_sessions([session]).await;
    Ok(figures.outcome())
}

/// What one repeat took and cost.
struct Repeat {
    took: Duration,
    cpu: Value,
    /// Packets the server had received before and after.
    received: (Option<u64>, Option<u64>),
    /// Requests the session had issued before and after.
    requests: (u64, u64),
}

/// Starts `count` elections at once, waits until all published, then stops them.
async fn one_repeat(bench: &Bench, session: &Addr<ZkSession>, repeat: usize, count: usize) -> Result<Repeat, String> {
    let (events, mut event_rx) = mpsc::unbounded_channel();
    let before = session_metrics(std::slice::from_ref(session)).await?;
    let received_before = server_received(bench.zk_addr);
    let cpu_before = CpuClock::now(bench.zk_pid);
    let start = Instant::now();
    let supervisors = start_elections(session, &format!("{count}-{repeat}"), count, &events).await?;
    let last = await_all_published(&mut event_rx, start, count).await?;
    let took = last.saturating_duration_since(start);
    let cpu = CpuClock::now(bench.zk_pid).since(&cpu_before);
    let received_after = server_received(bench.zk_addr);
    let after = session_metrics(std::slice::from_ref(session)).await?;
    stop_all(&supervisors).await;
    Ok(Repeat {
        took,
        cpu,
        received: (received_before, received_after),
        requests: (total_requests(&before), total_requests(&after)),
    })
}

/// Starts a supervisor and contender per election under `/bench/many/{run}` and waits until
/// every subscribe is accepted.
async fn start_elections(
    session: &Addr<ZkSession>,
    run: &str,
    count: usize,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<Vec<Addr<ElectionSupervisor>>, String> {
    let mut supervisors = Vec::with_capacity(count);
    let mut subscribes = Vec::with_capacity(count);
    for i in 0..count {
        let base = format!("/bench/many/{run}/{i}");
        let (supervisor, subscribe) =
            join(session, &format!("{base}/latch"), &format!("{base}/leader"), &format!("e{i}:1"), i, events)?;
        supervisors.push(supervisor);
        subscribes.push(subscribe);
    }
    for subscribe in subscribes {
        within(EVENT_DEADLINE, "subscribe", subscribe).await?.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    Ok(supervisors)
}

/// Stops every election at once and waits (at most 10 s each) until each has left.
async fn stop_all(supervisors: &[Addr<ElectionSupervisor>]) {
    let stopping: Vec<_> = supervisors.iter().map(|s| s.send(StopElection)).collect();
    for stop in stopping {
        let _ = tokio::time::timeout(10 * SECOND, stop).await;
    }
}

/// Waits (at most 60 s) until `count` elections published; answers when the last one did.
async fn await_all_published(
    events: &mut mpsc::UnboundedReceiver<Event>,
    start: Instant,
    count: usize,
) -> Result<Instant, String> {
    let mut published = HashSet::new();
    let mut last = start;
    let deadline = tokio::time::Instant::now() + 60 * SECOND;
    while published.len() < count {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event { at, tag, event: LeadershipEvent::Published { .. } })) => {
                if published.insert(tag) {
                    last = at;
                }
            }
            Ok(Some(Event { event: LeadershipEvent::Error { error, .. }, tag, .. })) => {
                eprintln!("elections: election {tag} reported {error}");
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                return Err(format!("only {} of {count} elections published within 60 s", published.len()))
            }
        }
    }
    Ok(last)
}

/// The measured repeats.
#[derive(Default)]
struct Figures {
    samples: Samples,
    requests_per_election: Vec<f64>,
    cpu: Vec<Value>,
    packets_per_election: Vec<Option<f64>>,
    warmup_ms: Option<f64>,
}

impl Figures {
    fn add(&mut self, repeat: Repeat) {
        self.samples.push(repeat.took);
        self.cpu.push(repeat.cpu);
        // The four-letter-word connection itself counts as one packet.
        let (received_before, received_after) = repeat.received;
        self.packets_per_election.push(
            received_before.zip(received_after).map(|(b, a)| (a - b).saturating_sub(1) as f64 / ELECTIONS as f64),
        );
        let (before, after) = repeat.requests;
        self.requests_per_election.push((after - before) as f64 / ELECTIONS as f64);
    }

    fn outcome(&self) -> Outcome {
        let median = self.samples.median();
        Outcome {
            rows: vec![row(
                &format!("elections_1000_ms (median of {ELECTION_REPEATS})"),
                format!("{median:.0}"),
                "≤ 1000",
                Some(median <= 1000.0),
            )],
            json: json!({
                "elections": ELECTIONS,
                "repeats": self.samples.len(),
                "warmup_repeat_ms": self.warmup_ms,
                "ms": self.samples.summary(),
                "values_ms": self.samples.0.iter().map(|v| round3(*v)).collect::<Vec<_>>(),
                "requests_per_election_until_published": self.requests_per_election,
                "cpu_during_run": self.cpu,
                "server_packets_per_election_until_published": self.packets_per_election,
                "target": "<= 1000 ms",
                "met": median <= 1000.0,
            }),
        }
    }
}

/// Packets the server has received so far (`Received:` of `srvr`): every ZooKeeper operation
/// our sessions issued, including the parent creations a single `Create` request may make.
fn server_received(addr: std::net::SocketAddr) -> Option<u64> {
    let answer = zk_election::testkit::four_letter_word(addr, "srvr", 2 * SECOND).ok()?;
    answer.lines().find_map(|l| l.strip_prefix("Received:")).and_then(|v| v.trim().parse().ok())
}

const MANY: usize = 10_000;

/// 10,000 elections over one session (after the 1,000-election figure warmed the server):
/// time until all published, and this process's resident memory per idle election.
pub(crate) async fn elections_10000(bench: &Bench) -> Result<Outcome, String> {
    let session = connect(&bench.connect, 6 * SECOND).await?;
    let (events, mut event_rx) = mpsc::unbounded_channel();
    let pid = std::process::id();
    // The floor first, on a heap that has not held the elections; its freed memory is reused
    // by them, so both count from the same starting point.
    let rss_before = trimmed_rss_kib(pid)?;
    let floor = actor_floor_per_election(pid).await?;
    let start = Instant::now();
    let supervisors = start_elections(&session, "10000", MANY, &events).await?;
    let last = await_all_published(&mut event_rx, start, MANY).await?;
    let took = last.saturating_duration_since(start).as_secs_f64() * 1000.0;
    // Idle: every election leads and waits; events already drained.
    tokio::time::sleep(2 * SECOND).await;
    while event_rx.try_recv().is_ok() {}
    let rss_idle = trimmed_rss_kib(pid)?;
    let per_election = rss_idle.saturating_sub(rss_before) as f64 * 1024.0 / MANY as f64;
    stop_all(&supervisors).await;
    close_sessions([session]).await;
    let (time_met, memory_met) = (took <= 5000.0, per_election <= 8192.0);
    Ok(Outcome {
        rows: vec![
            row("elections_10000_ms (one session)", format!("{took:.0}"), "≤ 5000", Some(time_met)),
            row(
                "rss_bytes_per_idle_election",
                format!("{per_election:.0} ({} → {} KiB)", rss_before, rss_idle),
                "≤ 8192",
                Some(memory_met),
            ),
            row("↳ floor: 4 empty actix actors per election", format!("{floor:.0}"), "(bound)", None),
        ],
        json: json!({
            "elections": MANY,
            "ms_until_all_published": round3(took),
            "rss_kib_before": rss_before,
            "rss_kib_idle_leading": rss_idle,
            "rss_bytes_per_idle_election": round3(per_election),
            "rss_bytes_per_4_empty_actors": round3(floor),
            "note": "RSS of the bench process after malloc_trim: supervisor, latch, leader-node cache and contender per election, sharing one session",
            "target": "<= 5000 ms, <= 8 KiB per election",
            "met": time_met && memory_met,
        }),
    })
}

/// This process's resident set after handing freed heap back to the kernel: what the elections
/// hold, not what the burst of starting them left free in the allocator's arenas.
pub(crate) fn trimmed_rss_kib(pid: u32) -> Result<u64, String> {
    // SAFETY: malloc_trim only releases free memory at the top of glibc's heaps.
    unsafe {
        libc::malloc_trim(0);
    }
    status_kib(pid, "VmRSS:")
}

/// An actor with no state, to price actix's own share of an election.
struct Empty;

impl Actor for Empty {
    type Context = Context<Self>;
}

/// Resident bytes of four idle, empty actors (one election has four: supervisor, latch,
/// leader-node cache, contender), measured over `MANY` of each group.
async fn actor_floor_per_election(pid: u32) -> Result<f64, String> {
    let before = trimmed_rss_kib(pid)?;
    let actors: Vec<Addr<Empty>> = (0..4 * MANY).map(|_| Empty.start()).collect();
    tokio::time::sleep(SECOND).await; // every actor has run once and parked
    let after = trimmed_rss_kib(pid)?;
    drop(actors);
    Ok(after.saturating_sub(before) as f64 * 1024.0 / MANY as f64)
}
