//! The herd across processes: one election, 1,000 contenders in 50 processes of 20 (this
//! binary in `--herd-member` mode, `herd_member`), each contender with a session of its own.
//! Per failover: requests in all processes, processes whose latches woke, and the failover time.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

use crate::herd_member::{process_of, LATCH, LEADER};
use crate::observer::{await_leader, await_node, Node, Observer, StopObserver};
use crate::setup::{await_children, Bench, EVENT_DEADLINE, SECOND};
use crate::stats::{row, Outcome, Samples};

const PROCESSES: usize = 50;
const PER_PROCESS: usize = 20;
const FAILOVERS: usize = 40;

/// A member process: its stdin, and its stdout lines as they come.
struct Member {
    child: Child,
    /// Dropped to close the member's stdin, which makes it leave and exit.
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Member {
    fn spawn(bench: &Bench, process: usize) -> Result<Member, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["--herd-member", &bench.connect, &process.to_string(), &PER_PROCESS.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting herd member {process}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (sender, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Member { child, stdin: Some(stdin), lines })
    }

    fn tell(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("a herd member's stdin is closed")?;
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).map_err(|e| e.to_string())
    }

    async fn answer(&mut self, within: Duration) -> Result<String, String> {
        match tokio::time::timeout(within, self.lines.recv()).await {
            Ok(Some(line)) => Ok(line),
            Ok(None) => Err("a herd member ended".to_owned()),
            Err(_) => Err(format!("a herd member did not answer within {within:?}")),
        }
    }
}

async fn expect(member: &mut Member, wanted: &str, within: Duration) -> Result<(), String> {
    let line = member.answer(within).await?;
    if line == wanted {
        Ok(())
    } else {
        Err(format!("a herd member said {line:?} instead of {wanted:?}"))
    }
}

/// Every member's `(requests, watches)` so far.
async fn metrics(members: &mut [Member]) -> Result<Vec<(u64, u64)>, String> {
    for member in members.iter_mut() {
        member.tell("metrics")?;
    }
    let mut all = Vec::with_capacity(members.len());
    for member in members.iter_mut() {
        let line = member.answer(EVENT_DEADLINE).await?;
        let mut fields = line.split_whitespace().skip(1).map(|v| v.parse::<u64>().unwrap_or(0));
        all.push((fields.next().unwrap_or(0), fields.next().unwrap_or(0)));
    }
    Ok(all)
}

pub(crate) async fn herd_processes(bench: &Bench) -> Result<Outcome, String> {
    let (observer, mut seen) = Observer::start(&bench.observer, LEADER);
    await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
    let mut members = Vec::with_capacity(PROCESSES);
    for process in 0..PROCESSES {
        members.push(Member::spawn(bench, process)?);
    }
    let result = measure(bench, &mut members, &mut seen).await;
    for member in &mut members {
        drop(member.stdin.take());
    }
    for member in &mut members {
        let _ = tokio::time::timeout(20 * SECOND, async {
            while member.child.try_wait().ok().flatten().is_none() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let _ = member.child.kill();
        let _ = member.child.wait();
    }
    observer.do_send(StopObserver);
    result
}

async fn measure(
    bench: &Bench,
    members: &mut [Member],
    seen: &mut mpsc::UnboundedReceiver<crate::observer::Seen>,
) -> Result<Outcome, String> {
    for member in members.iter_mut() {
        expect(member, "ready", 120 * SECOND).await?;
    }
    // Round-robin over the processes, so that neighbours in line live in different processes.
    for k in 0..PER_PROCESS {
        for member in members.iter_mut() {
            member.tell(&format!("join {k}"))?;
            expect(member, "joined", EVENT_DEADLINE).await?;
        }
    }
    await_children(&bench.observer, LATCH, PROCESSES * PER_PROCESS, 60 * SECOND).await?;
    let mut leader = await_leader(seen, "first leader", |_| true).await?.0;
    // What the idle herd costs the server (1,000 sessions' pings), for the latency's context.
    let idle_start = crate::procfs::CpuClock::now(bench.zk_pid);
    tokio::time::sleep(2 * SECOND).await;
    let idle = crate::procfs::CpuClock::now(bench.zk_pid).ms_per(&idle_start, 2).1.map(|ms| ms / 10.0);
    let (mut requests, mut woken, mut latency) = (Vec::new(), Vec::new(), Samples::default());
    for _ in 0..FAILOVERS {
        let before = metrics(members).await?;
        // The sweep just woke every process and session; measure a failover in an idle herd.
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Only the leader's process is told: telling all 50 would wake 49 bystanders on the
        // two cores in the very milliseconds measured.
        let holder = process_of(&leader)
            .and_then(|p| members.get_mut(p))
            .ok_or_else(|| format!("leader {leader:?} is not a herd member's"))?;
        let start = Instant::now();
        holder.tell(&format!("stop {leader}"))?;
        let (successor, seen_at) = await_leader(seen, "successor's node", |a| a != leader).await?;
        latency.push(seen_at.saturating_duration_since(start));
        expect(holder, "stopped", EVENT_DEADLINE).await?;
        tokio::time::sleep(Duration::from_millis(500)).await; // quiet
        let after = metrics(members).await?;
        let deltas: Vec<(u64, u64)> = before.iter().zip(&after).map(|(b, a)| (a.0 - b.0, a.1 - b.1)).collect();
        requests.push(deltas.iter().map(|d| d.0).sum::<u64>());
        woken.push(deltas.iter().filter(|d| d.1 > 0).count() as u64);
        leader = successor;
    }
    let median = |v: &[u64]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    let (r, w, p50) = (median(&requests), median(&woken), latency.percentile(50.0));
    // 6 requests with preemption on (the default): the new leader watches the line.
    let met = r <= 6 && w <= 1 && p50 <= 5.0;
    Ok(Outcome {
        rows: vec![row(
            "herd_processes (1,000 contenders in 50 processes): requests / woken processes / failover p50 ms",
            format!(
                "{r} / {w} / {p50:.1} (server {} % busy idle)",
                idle.map_or("?".to_owned(), |pct| format!("{pct:.0}"))
            ),
            "≤ 6 / 1 / 5",
            Some(met),
        )],
        json: json!({
            "processes": PROCESSES,
            "contenders_per_process": PER_PROCESS,
            "failovers": FAILOVERS,
            "requests_per_failover": requests,
            "processes_woken_per_failover": woken,
            "failover_ms": latency.summary(),
            "server_cpu_pct_while_idle": idle,
            "target": "<= 6 requests, 1 woken process, p50 <= 5 ms",
            "met": met,
        }),
    })
}
