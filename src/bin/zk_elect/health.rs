//! `--health-cmd`: runs a command through `sh -c` every interval and reports its verdict to the
//! election (healthy = exit code 0 within the interval); the library steps down after
//! `--health-failures` unhealthy reports in a row and queues again on the first healthy one.

use std::process::Stdio;
use std::time::Duration;

use actix::prelude::*;
use tokio::process::Command;
use zk_election::{ElectionSupervisor, ReportHealth};

use crate::output::{Event, Output};

/// Checks health until aborted, reporting every verdict under `component`; prints a `health`
/// event whenever the verdict changes.
pub fn spawn(
    supervisor: Addr<ElectionSupervisor>,
    component: &'static str,
    command: String,
    interval: Duration,
    out: Output,
) -> tokio::task::JoinHandle<()> {
    actix::spawn(async move {
        let mut last = None;
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let healthy = check(&command, interval).await;
            if last != Some(healthy) {
                out.emit(Event::Health { healthy });
                last = Some(healthy);
            }
            let report = ReportHealth { component: component.to_owned(), healthy };
            if supervisor.send(report).await.is_err() {
                return;
            }
        }
    })
}

/// Runs `command` once: healthy when it exits with 0 within `limit` (it is killed after).
async fn check(command: &str, limit: Duration) -> bool {
    let child = Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut child) = child else { return false };
    matches!(tokio::time::timeout(limit, child.wait()).await, Ok(Ok(status)) if status.success())
}
