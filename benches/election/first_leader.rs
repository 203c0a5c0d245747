//! Time to first leader: connected session → supervisor started and contender subscribed →
//! leader node seen by the observer in another session.

use std::time::Instant;

use serde_json::json;
use tokio::sync::mpsc;
use zk_election::LeadershipEvent;

use crate::observer::{await_node, Node, Observer, StopObserver};
use crate::setup::{close_sessions, connect, drain_into, join_now, stop, Bench, Event, EVENT_DEADLINE, SECOND, WARMUP};
use crate::stats::{row, Outcome, Samples};

const FIRST_LEADER_RUNS: usize = 100;
const LATCH: &str = "/bench/first/latch";
const LEADER: &str = "/bench/first/leader";

/// Connected session → supervisor started + contender subscribed → leader node seen by the
/// observer in another session.
pub(crate) async fn first_leader(bench: &Bench) -> Result<Outcome, String> {
    let session = connect(&bench.connect, 6 * SECOND).await?;
    let (observer, mut seen) = Observer::start(&bench.observer, LEADER);
    await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
    let (events, mut event_rx) = mpsc::unbounded_channel();
    let mut samples = Samples::default();
    let mut granted = Samples::default();
    let mut first_run = None;
    for run in 0..(WARMUP + FIRST_LEADER_RUNS) {
        let address = format!("first-{run}:6123");
        let start = Instant::now();
        let supervisor = join_now(&session, LATCH, LEADER, &address, run, &events).await?;
        let at =
            await_node(&mut seen, EVENT_DEADLINE, "leader node", |n| *n == Node::Leader(address.clone())).await?.at;
        let took = at.saturating_duration_since(start);
        let is_measured_grant =
            |e: &Event| matches!(e.event, LeadershipEvent::Granted { .. }) && e.tag == run && run >= WARMUP;
        drain_into(&mut event_rx, start, is_measured_grant, &mut granted);
        if run == 0 {
            first_run = Some(took); // includes creating the parents of both paths
        }
        if run >= WARMUP {
            samples.push(took);
        }
        stop(&supervisor).await?;
        await_node(&mut seen, EVENT_DEADLINE, "leader node deleted", |n| *n == Node::Absent).await?;
    }
    observer.do_send(StopObserver);
    close_sessions([session]).await;
    let (p50, p99) = (samples.percentile(50.0), samples.percentile(99.0));
    Ok(Outcome {
        rows: vec![row("first_leader_ms p50/p99", format!("{p50:.2} / {p99:.2}"), "p50 ≤ 3", Some(p50 <= 3.0))],
        json: json!({
            "runs": samples.len(),
            "warmup_runs": WARMUP,
            "ms": samples.summary(),
            "granted_ms": granted.summary(),
            "first_run_with_parent_creation_ms": first_run.map(|d| d.as_secs_f64() * 1000.0),
            "target": "p50 <= 3 ms",
            "met": p50 <= 3.0,
        }),
    })
}
