//! One process of the multi-process herd (`herd_processes`): this benchmark's own binary started
//! with `--herd-member CONNECT FIRST COUNT`. It runs COUNT contenders, each with a session of its
//! own, in the herd's election, and answers lines on stdin:
//!
//! - `join K` → `joined` once contender K is subscribed (the parent interleaves the processes'
//!   contenders in the line this way);
//! - `metrics` → `metrics REQUESTS WATCHES`: requests of all its sessions so far, and latch
//!   watches fired in its supervisors, stopped ones included;
//! - `stop ADDRESS` → `stopped` once that contender (if it is ours) has left, else `not-mine`;
//! - end of stdin: every contender leaves and the process exits.
//!
//! It prints `ready` once every session is connected.

use std::io::{BufRead, Write};

use actix::prelude::*;
use tokio::sync::mpsc;
use zk_election::{ElectionSupervisor, GetElectionMetrics, StopElection};

use crate::setup::{close_sessions, connected, join_now, session, session_metrics, total_requests, SECOND};

pub(crate) const LATCH: &str = "/bench/herd-processes/latch";
pub(crate) const LEADER: &str = "/bench/herd-processes/leader";

/// The address of contender `k` of process `process`.
pub(crate) fn address(process: usize, k: usize) -> String {
    format!("proc-{process}-{k}:6123")
}

/// The process of a contender [`address`], if it is one.
pub(crate) fn process_of(address: &str) -> Option<usize> {
    address.strip_prefix("proc-")?.split_once('-')?.0.parse().ok()
}

/// Runs the member until its stdin ends; the exit code.
pub(crate) fn run(args: &[String]) -> i32 {
    let (Some(connect), Some(process), Some(count)) = (
        args.first(),
        args.get(1).and_then(|a| a.parse::<usize>().ok()),
        args.get(2).and_then(|a| a.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: --herd-member CONNECT PROCESS COUNT");
        return 2;
    };
    let system = System::new();
    match system.block_on(serve(connect.clone(), process, count)) {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("herd member {process}: {err}");
            1
        }
    }
}

async fn serve(connect: String, process: usize, count: usize) -> Result<(), String> {
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        sessions.push(session(&connect, 6 * SECOND)?);
    }
    for s in &sessions {
        connected(s, 60 * SECOND).await?;
    }
    let (events, _event_rx) = mpsc::unbounded_channel();
    let mut supervisors: Vec<Option<Addr<ElectionSupervisor>>> = vec![None; count];
    // Watches fired in supervisors that have stopped since.
    let mut retired_watches = 0;
    say("ready");
    let mut lines = stdin_lines();
    while let Some(line) = lines.recv().await {
        match line.split_once(' ') {
            None if line == "metrics" => {
                let requests = total_requests(&session_metrics(&sessions).await?);
                let mut watches = retired_watches;
                for supervisor in supervisors.iter().flatten() {
                    watches +=
                        supervisor.send(GetElectionMetrics).await.map_err(|e| e.to_string())?.latch_watches_fired;
                }
                say(&format!("metrics {requests} {watches}"));
            }
            Some(("join", k)) => {
                let k: usize = k.parse().map_err(|_| format!("join {k}"))?;
                let session = sessions.get(k).ok_or_else(|| format!("no contender {k}"))?;
                supervisors[k] = Some(join_now(session, LATCH, LEADER, &address(process, k), k, &events).await?);
                say("joined");
            }
            Some(("stop", wanted)) => {
                let ours = (0..count).find(|k| address(process, *k) == wanted);
                match ours.and_then(|k| supervisors[k].take()) {
                    Some(supervisor) => {
                        let watched = supervisor.send(GetElectionMetrics).await.map_or(0, |m| m.latch_watches_fired);
                        retired_watches += watched;
                        let _ = supervisor.send(StopElection).await;
                        say("stopped");
                    }
                    None => say("not-mine"),
                }
            }
            _ => say(&format!("unknown {line}")),
        }
    }
    for supervisor in supervisors.iter().flatten() {
        let _ = supervisor.send(StopElection).await;
    }
    close_sessions(sessions).await;
    Ok(())
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Stdin's lines, read on a thread of their own; the channel closes at the end of stdin.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (lines, receiver) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines.send(line.trim().to_owned()).is_err() {
                break;
            }
        }
    });
    receiver
}
