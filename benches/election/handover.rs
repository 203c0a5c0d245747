//! Steered handovers next to the clean one, in one run: three contenders in separate sessions;
//! the gap is the time without a leader, from the old leader's `Revoked` to the observer seeing
//! the successor's leader node.
//!
//! * resign: the leader resigns; the next in line takes over;
//! * transfer: the leader transfers to the last in line (passing over the one between);
//! * preemption: the last in line rejoins with a priority above the leader's and the leader
//!   hands over to it (once it has stood in line for the grace period, which the gap does not
//!   count).
//!
//! Resigns and transfers alternate; the preemptions follow (their priorities only grow, so no
//! later round hands back).

use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::json;
use tokio::sync::mpsc;
use zk_election::{ElectionConfig, ElectionSupervisor, LeadershipEvent, Resign, Transfer, ZkSession};

use crate::observer::{await_leader, await_node, Node, Observer, StopObserver};
use crate::setup::{
    await_children, close_sessions, connect_to, join_with, stop, within, Bench, Event, EVENT_DEADLINE, SECOND, WARMUP,
};
use crate::stats::{row, Outcome, Samples};

const ROUNDS: usize = 40;
const LATCH: &str = "/bench/handover/latch";
const LEADER: &str = "/bench/handover/leader";
const CONTENDERS: usize = 3;
const GRACE: Duration = Duration::from_millis(100);
const COMPONENT: &str = "bench";

/// The three gaps, medians side by side.
pub(crate) async fn handover_gaps(bench: &Bench) -> Result<Outcome, String> {
    let (observer, mut seen) = Observer::start(&bench.observer, LEADER);
    await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
    let (events, mut event_rx) = mpsc::unbounded_channel();
    let mut line = Line { sessions: Vec::new(), members: Vec::new(), events, generation: 0 };
    for k in 0..CONTENDERS {
        line.sessions.push(connect_to(bench, 6 * SECOND).await?);
        line.join(k, 0).await?;
    }
    await_children(&bench.observer, LATCH, CONTENDERS, EVENT_DEADLINE).await?;
    let mut leader = await_leader(&mut seen, "first leader", |_| true).await?.0;
    let (mut resign, mut transfer, mut preempt) = (Samples::default(), Samples::default(), Samples::default());
    for round in 0..2 * (WARMUP + ROUNDS) {
        let k = line.index_of(&leader)?;
        let order = line.in_line(bench).await?;
        while event_rx.try_recv().is_ok() {}
        let steered = round % 2 == 1;
        if steered {
            let target = order.last().cloned().ok_or("empty line")?;
            within(EVENT_DEADLINE, "transfer", line.members[k].0.send(Transfer::to_address(target)))
                .await?
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("transfer: {e}"))?;
        } else {
            let resigning = line.members[k].0.send(Resign::new(COMPONENT));
            within(EVENT_DEADLINE, "resign", resigning)
                .await?
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        }
        let (next, seen_at) = await_leader(&mut seen, "successor", |a| a != leader).await?;
        let gap = revoked_at(&mut event_rx, k).await?.map(|at| seen_at.saturating_duration_since(at));
        if let (Some(gap), true) = (gap, round >= 2 * WARMUP) {
            if steered {
                transfer.push(gap)
            } else {
                resign.push(gap)
            }
        }
        await_children(&bench.observer, LATCH, CONTENDERS, EVENT_DEADLINE).await?;
        leader = next;
    }
    // Preemptions: the last in line comes back with a priority above everyone's.
    for round in 0..(WARMUP + ROUNDS) {
        let k = line.index_of(&leader)?;
        let order = line.in_line(bench).await?;
        let last = line.index_of(order.last().ok_or("empty line")?)?;
        stop(&line.members[last].0).await?;
        while event_rx.try_recv().is_ok() {}
        line.join(last, round as i32 + 1).await?;
        let (next, seen_at) = await_leader(&mut seen, "preferred successor", |a| a != leader).await?;
        let gap = revoked_at(&mut event_rx, k).await?.map(|at| seen_at.saturating_duration_since(at));
        if let (Some(gap), true) = (gap, round >= WARMUP) {
            preempt.push(gap);
        }
        await_children(&bench.observer, LATCH, CONTENDERS, EVENT_DEADLINE).await?;
        leader = next;
    }
    for (supervisor, _) in &line.members {
        let _ = stop(supervisor).await;
    }
    observer.do_send(StopObserver);
    close_sessions(line.sessions).await;
    Ok(outcome(&resign, &transfer, &preempt))
}

/// When the contender tagged `k` was revoked (already queued or within the deadline).
async fn revoked_at(events: &mut mpsc::UnboundedReceiver<Event>, k: usize) -> Result<Option<Instant>, String> {
    let deadline = Instant::now() + EVENT_DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(e)) if e.tag == k && matches!(e.event, LeadershipEvent::Revoked { .. }) => return Ok(Some(e.at)),
            Ok(Some(_)) => {}
            Ok(None) => return Ok(None),
            Err(_) => return Err("the old leader was never revoked".into()),
        }
    }
}

/// The contenders: sessions, and the supervisor and address each runs now.
struct Line {
    sessions: Vec<Addr<ZkSession>>,
    members: Vec<(Addr<ElectionSupervisor>, String)>,
    events: mpsc::UnboundedSender<Event>,
    generation: usize,
}

impl Line {
    /// (Re)joins contender `k` under a new address with `priority`.
    async fn join(&mut self, k: usize, priority: i32) -> Result<(), String> {
        self.generation += 1;
        let address = format!("handover-{k}-{}:6123", self.generation);
        let config = ElectionConfig::builder(LATCH).priority(priority).preempt_after(GRACE).build();
        let config = config.map_err(|e| e.to_string())?;
        let (supervisor, subscribe) = join_with(&self.sessions[k], config, LEADER, &address, k, &self.events);
        within(EVENT_DEADLINE, "subscribe", subscribe).await?.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        let member = (supervisor, address);
        match self.members.get_mut(k) {
            Some(slot) => *slot = member,
            None => self.members.push(member),
        }
        Ok(())
    }

    fn index_of(&self, address: &str) -> Result<usize, String> {
        self.members.iter().position(|(_, a)| a == address).ok_or_else(|| format!("unknown contender {address}"))
    }

    /// The addresses in line, first first.
    async fn in_line(&self, bench: &Bench) -> Result<Vec<String>, String> {
        let line = zk_election::candidates(bench.observer.clone(), LATCH).await.map_err(|e| e.to_string())?;
        Ok(line.into_iter().map(|c| c.info.id).collect())
    }
}

fn outcome(resign: &Samples, transfer: &Samples, preempt: &Samples) -> Outcome {
    let (r, t, p) = (resign.median(), transfer.median(), preempt.median());
    let met = t <= 2.0 * r && p <= 2.0 * r;
    Outcome {
        rows: vec![row(
            "handover_gap_ms p50: resign / transfer / preemption",
            format!("{r:.2} / {t:.2} / {p:.2}"),
            "transfer, preemption ≤ 2 × resign",
            Some(met),
        )],
        json: json!({
            "rounds": ROUNDS,
            "warmup_rounds": WARMUP,
            "resign_gap_ms": resign.summary(),
            "transfer_gap_ms": transfer.summary(),
            "preemption_gap_ms": preempt.summary(),
            "preempt_after_ms": GRACE.as_millis() as u64,
            "target": "transfer and preemption gaps <= 2 x the resign gap (medians, same run)",
            "met": met,
        }),
    }
}
