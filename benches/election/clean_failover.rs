//! Clean failover: three contenders in separate sessions; the leader stops → the successor's
//! node is seen by the observer.

use std::time::Instant;

use actix::prelude::*;
use serde_json::json;
use tokio::sync::mpsc;
use zk_election::{ElectionSupervisor, LeadershipEvent, StopElection, ZkSession};

use crate::observer::{await_leader, await_node, Node, Observer, StopObserver};
use crate::procfs::CpuClock;
use crate::setup::{
    await_children, close_sessions, connect_to, drain_into, join_now, stop, within, Bench, Event, EVENT_DEADLINE,
    SECOND, WARMUP,
};
use crate::stats::{round3, row, Outcome, Samples};

const CLEAN_FAILOVERS: usize = 200;
const LATCH: &str = "/bench/clean/latch";
const LEADER: &str = "/bench/clean/leader";
const CONTENDERS: usize = 3;

/// Three contenders in separate sessions; the leader stops → the successor's node is seen.
pub(crate) async fn clean_failover(bench: &Bench) -> Result<Outcome, String> {
    let (samples, granted, cpu) = handovers(bench, CLEAN_FAILOVERS).await?;
    Ok(outcome(&samples, &granted, cpu))
}

/// CPU milliseconds per handover cycle (handover and the rejoin after it): this process (every
/// contender, the observer) and the server.
pub(crate) type CpuPerHandover = (f64, Option<f64>);

/// `count` measured clean handovers (after the warm-up): the observer's times, and the
/// successors' grant times.
pub(crate) async fn handovers(bench: &Bench, count: usize) -> Result<(Samples, Samples, CpuPerHandover), String> {
    let (observer, mut seen) = Observer::start(&bench.observer, LEADER);
    await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
    let (events, mut event_rx) = mpsc::unbounded_channel();
    let mut contenders = Contenders::start(bench, events).await?;
    let mut leader = await_leader(&mut seen, "first leader", |_| true).await?.0;
    let mut samples = Samples::default();
    let mut granted = Samples::default();
    let mut cpu_start = CpuClock::now(bench.zk_pid);
    for handover in 0..(WARMUP + count) {
        if handover == WARMUP {
            cpu_start = CpuClock::now(bench.zk_pid);
        }
        let k = contenders.index_of(&leader)?;
        while event_rx.try_recv().is_ok() {}
        let start = Instant::now();
        let stopping = contenders.supervisors[k].send(StopElection);
        let (new_leader, seen_at) = await_leader(&mut seen, "successor's leader node", |a| a != leader).await?;
        if handover >= WARMUP {
            samples.push(seen_at.saturating_duration_since(start));
            let successor_grant = |e: &Event| matches!(e.event, LeadershipEvent::Granted { .. }) && e.tag != k;
            drain_into(&mut event_rx, start, successor_grant, &mut granted);
        }
        within(EVENT_DEADLINE, "stop", stopping).await?.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        contenders.rejoin(bench, k, handover + 1).await?;
        leader = new_leader;
    }
    let cpu = CpuClock::now(bench.zk_pid).ms_per(&cpu_start, count);
    for supervisor in &contenders.supervisors {
        let _ = stop(supervisor).await;
    }
    observer.do_send(StopObserver);
    close_sessions(contenders.sessions).await;
    Ok((samples, granted, cpu))
}

/// The contenders, each in a session of its own; contender `k` reports events tagged `k`.
struct Contenders {
    sessions: Vec<Addr<ZkSession>>,
    supervisors: Vec<Addr<ElectionSupervisor>>,
    addresses: Vec<String>,
    events: mpsc::UnboundedSender<Event>,
}

impl Contenders {
    /// Starts them in order and waits until all are in the latch.
    async fn start(bench: &Bench, events: mpsc::UnboundedSender<Event>) -> Result<Contenders, String> {
        let mut all = Contenders { sessions: Vec::new(), supervisors: Vec::new(), addresses: Vec::new(), events };
        for k in 0..CONTENDERS {
            let s = connect_to(bench, 6 * SECOND).await?;
            let address = format!("clean-{k}-0:6123");
            all.supervisors.push(join_now(&s, LATCH, LEADER, &address, k, &all.events).await?);
            all.sessions.push(s);
            all.addresses.push(address);
        }
        await_children(&bench.observer, LATCH, CONTENDERS, EVENT_DEADLINE).await?;
        Ok(all)
    }

    fn index_of(&self, leader: &str) -> Result<usize, String> {
        self.addresses.iter().position(|a| *a == leader).ok_or_else(|| format!("unknown leader {leader}"))
    }

    /// The stopped contender `k` rejoins at the back of the line under a new address (its
    /// `generation`), so there are always three; answers once all are in the latch again.
    async fn rejoin(&mut self, bench: &Bench, k: usize, generation: usize) -> Result<(), String> {
        let address = format!("clean-{k}-{generation}:6123");
        self.supervisors[k] = join_now(&self.sessions[k], LATCH, LEADER, &address, k, &self.events).await?;
        self.addresses[k] = address;
        await_children(&bench.observer, LATCH, CONTENDERS, EVENT_DEADLINE).await
    }
}

fn outcome(samples: &Samples, granted: &Samples, (ours, server): CpuPerHandover) -> Outcome {
    let (p50, p99) = (samples.percentile(50.0), samples.percentile(99.0));
    let met = p50 <= 3.0 && p99 <= 10.0;
    let server_text = server.map_or("?".to_owned(), |ms| format!("{ms:.2}"));
    Outcome {
        rows: vec![
            row("clean_failover_ms p50/p99", format!("{p50:.2} / {p99:.2}"), "p50 ≤ 3, p99 ≤ 10", Some(met)),
            row(
                "↳ cpu_ms_per_failover: contenders+observer / server",
                format!("{ours:.2} / {server_text}"),
                "(context)",
                None,
            ),
        ],
        json: json!({
            "handovers": samples.len(),
            "warmup_handovers": WARMUP,
            "ms": samples.summary(),
            "successor_granted_ms": granted.summary(),
            "cpu_ms_per_handover_cycle": { "bench_process": round3(ours), "zookeeper_server": server.map(round3) },
            "target": "p50 <= 3 ms, p99 <= 10 ms",
            "met": met,
        }),
    }
}
