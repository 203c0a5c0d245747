//! The schedule of one setup: warm-up, then measured rounds, the peers interleaved round-robin
//! (A, B, C, A, B, C, …) so that every peer sees the same machine and servers over the same
//! stretch of time.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::etcd::Etcd;
use crate::peer::Peer;
use crate::round::{round, Measured, SETTLE};
use crate::stats::{round3, Samples};

/// Warm-up, first part: back-to-back rounds of an in-process contender (no settle), at least
/// this many and for at least this long (but no longer than the limit). A JVM server starts
/// interpreted and compiles a path only after it has run it a few hundred times; a handover runs
/// most of its paths once or twice, so a few rounds of each peer would leave the server
/// compiling during the measured rounds (seen: C1 compiler threads taking 0.6 ms on the critical
/// path of a handover after 6 rounds).
const BURST_ROUNDS: usize = 200;
pub(crate) const BURST_TIME: Duration = Duration::from_secs(4);
const BURST_LIMIT: Duration = Duration::from_secs(15);
/// Warm-up, second part: at least this many rounds of every peer, and at least this long (each
/// peer's own operations, first connections and allocations).
const WARMUP_ROUNDS: usize = 3;
const WARMUP_TIME: Duration = Duration::from_secs(5);
/// A peer that fails this many rounds in a row is dropped from the setup.
const FAILURES_IN_A_ROW: usize = 3;

/// What a peer measured in one setup.
#[derive(Default)]
pub(crate) struct Figures {
    pub(crate) handover: Samples,
    pub(crate) handover_granted: Samples,
    pub(crate) first_leader: Samples,
    pub(crate) first_granted: Samples,
    pub(crate) failures: Vec<String>,
    /// Why it stopped taking part, if it did.
    pub(crate) dropped: Option<String>,
}

impl Figures {
    fn add(&mut self, m: Measured) {
        self.handover.push(m.handover);
        self.first_leader.push(m.first_leader);
        if let Some(g) = m.handover_granted {
            self.handover_granted.push(g);
        }
        if let Some(g) = m.first_granted {
            self.first_granted.push(g);
        }
    }

    pub(crate) fn json(&self) -> Value {
        let summary = |s: &Samples| if s.len() == 0 { Value::Null } else { s.summary() };
        json!({
            "clean_handover_ms": summary(&self.handover),
            "clean_handover_granted_ms": summary(&self.handover_granted),
            "first_leader_ms": summary(&self.first_leader),
            "first_leader_granted_ms": summary(&self.first_granted),
            "failed_rounds": self.failures,
            "dropped": self.dropped,
        })
    }
}

/// What the warm-up did.
pub(crate) struct Warmup {
    pub(crate) burst_rounds: usize,
    pub(crate) rounds: usize,
    pub(crate) seconds: f64,
}

impl Warmup {
    pub(crate) fn json(&self) -> Value {
        json!({
            "burst_rounds_in_process": self.burst_rounds,
            "rounds_per_peer": self.rounds,
            "s": round3(self.seconds),
            "measured": false,
        })
    }
}

/// Runs the warm-up (a burst of `burst` rounds, then rounds of every peer) and `rounds`
/// measured rounds of every peer, interleaved; answers each peer's figures, in the order of
/// `peers`.
pub(crate) async fn run(
    peers: &[Peer],
    burst: &Peer,
    etcd: Option<&Etcd>,
    rounds: usize,
    label: &str,
) -> (Vec<Figures>, Warmup) {
    let mut figures: Vec<Figures> = peers.iter().map(|_| Figures::default()).collect();
    let mut in_a_row = vec![0; peers.len()];
    let warmup_start = Instant::now();
    let mut burst_rounds = 0;
    while (burst_rounds < BURST_ROUNDS || warmup_start.elapsed() < BURST_TIME) && warmup_start.elapsed() < BURST_LIMIT {
        if let Err(err) = round(burst, etcd, &format!("{label}-b{burst_rounds}"), Duration::ZERO).await {
            eprintln!("  warm-up burst: round failed: {err}");
        }
        burst_rounds += 1;
    }
    let rounds_start = Instant::now();
    let mut warmup_rounds = 0;
    while warmup_rounds < WARMUP_ROUNDS || rounds_start.elapsed() < WARMUP_TIME {
        for (k, peer) in peers.iter().enumerate() {
            if figures[k].dropped.is_none() {
                let tag = format!("{label}-w{warmup_rounds}");
                if let Err(err) = round(peer, etcd, &tag, SETTLE).await {
                    note_failure(&mut figures[k], &mut in_a_row[k], peer.name, err);
                }
            }
        }
        warmup_rounds += 1;
    }
    let warmup = Warmup { burst_rounds, rounds: warmup_rounds, seconds: warmup_start.elapsed().as_secs_f64() };
    eprintln!(
        "  warm-up: {} back-to-back in-process rounds, then {} rounds per peer, {:.1} s in all (not measured)",
        warmup.burst_rounds, warmup.rounds, warmup.seconds
    );
    in_a_row.iter_mut().for_each(|n| *n = 0);

    for r in 0..rounds {
        for (k, peer) in peers.iter().enumerate() {
            if figures[k].dropped.is_some() {
                continue;
            }
            match round(peer, etcd, &format!("{label}-r{r}"), SETTLE).await {
                Ok(measured) => {
                    figures[k].add(measured);
                    in_a_row[k] = 0;
                }
                Err(err) => note_failure(&mut figures[k], &mut in_a_row[k], peer.name, err),
            }
        }
        if (r + 1) % 10 == 0 {
            eprintln!("  {} of {rounds} rounds", r + 1);
        }
    }
    (figures, warmup)
}

fn note_failure(figures: &mut Figures, in_a_row: &mut usize, name: &str, err: String) {
    eprintln!("  {name}: round failed: {err}");
    figures.failures.push(err.clone());
    *in_a_row += 1;
    if *in_a_row >= FAILURES_IN_A_ROW {
        eprintln!("  {name}: dropped after {FAILURES_IN_A_ROW} failed rounds in a row");
        figures.dropped = Some(format!("{FAILURES_IN_A_ROW} failed rounds in a row, the last: {err}"));
    }
}
