//! The `contender` example leading an election: its CPU over an idle window and its peak RSS.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

use crate::machine::bench_dir;
use crate::observer::{await_node, Node, Observer, Seen, StopObserver};
use crate::procfs::{clock_ticks_per_second, cpu_ticks, status_kib, threads_on_cpu_seconds};
use crate::setup::{Bench, EVENT_DEADLINE, SECOND};
use crate::stats::{round3, row, Outcome};

const IDLE_WINDOW: Duration = Duration::from_secs(10);

/// The `contender` example leading an election: CPU over an idle window, peak RSS.
pub(crate) async fn footprint(bench: &Bench) -> Result<Outcome, String> {
    const LATCH: &str = "/bench/idle/latch";
    const LEADER: &str = "/bench/idle/leader";
    const ADDRESS: &str = "idle:6123";
    let exe = bench.example.as_ref().map_err(|e| format!("contender example unavailable: {e}"))?;
    let (observer, mut seen) = Observer::start(&bench.observer, LEADER);
    await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
    let log_path = bench_dir().join("contender.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["--connect", &bench.connect, "--latch-path", LATCH, "--leader-path", LEADER, "--address", ADDRESS])
        .args(["--session-timeout-ms", "6000"])
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let pid = child.id();
    let result = measure_idle(&mut child, pid, &mut seen, ADDRESS).await;
    // End of stdin stops it cleanly; kill it if it does not.
    drop(child.stdin.take());
    let exited = wait_exit(&mut child, 10 * SECOND).await;
    observer.do_send(StopObserver);
    let idle = result.map_err(|e| format!("{e} (log: {})", log_path.display()))?;
    let (cpu_pct, rss_mib) = (idle.stat_pct, idle.rss_mib);
    Ok(Outcome {
        rows: vec![
            row(
                "idle_cpu_pct (10 s, leading)",
                format!("{cpu_pct:.2} (ns-exact: {:.3})", idle.schedstat_pct),
                "≤ 0.5",
                Some(cpu_pct <= 0.5),
            ),
            row("rss_mib (peak, leading)", format!("{rss_mib:.1}"), "≤ 10", Some(rss_mib <= 10.0)),
        ],
        json: json!({
            "binary": exe.display().to_string(),
            "idle_window_s": IDLE_WINDOW.as_secs_f64(),
            "idle_cpu_seconds_stat": idle.stat_cpu_s,
            "idle_cpu_pct": round3(cpu_pct),
            "idle_cpu_seconds_schedstat": round3(idle.schedstat_cpu_s),
            "idle_cpu_pct_schedstat": round3(idle.schedstat_pct),
            "threads": idle.threads,
            "rss_peak_mib": round3(rss_mib),
            "clean_exit_on_stdin_eof": exited,
            "target": "idle cpu <= 0.5 % of one core, peak rss <= 10 MiB",
            "met": cpu_pct <= 0.5 && rss_mib <= 10.0,
        }),
    })
}

/// What [`measure_idle`] found.
struct Idle {
    /// From utime + stime (clock ticks, 10 ms resolution).
    stat_pct: f64,
    stat_cpu_s: f64,
    /// From the nanosecond run times in /proc/<pid>/task/*/schedstat.
    schedstat_pct: f64,
    schedstat_cpu_s: f64,
    rss_mib: f64,
    threads: u64,
}

async fn measure_idle(
    child: &mut Child,
    pid: u32,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    address: &str,
) -> Result<Idle, String> {
    // Leading and published, as the observer sees it; an early exit is reported as such.
    let deadline = Instant::now() + 20 * SECOND;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the contender example exited before leading ({status})"));
        }
        match tokio::time::timeout(Duration::from_millis(100), seen.recv()).await {
            Ok(Some(s)) if s.node == Node::Leader(address.to_owned()) || s.node == Node::Undecodable => break,
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => return Err("observer gone".to_owned()),
        }
        if Instant::now() > deadline {
            return Err("the contender example did not publish within 20 s".to_owned());
        }
    }
    // Let start-up work (first publish, cache reads) finish before the window opens.
    tokio::time::sleep(SECOND).await;
    let ticks = clock_ticks_per_second();
    let before = cpu_ticks(pid)?;
    let precise_before = threads_on_cpu_seconds(pid);
    let start = Instant::now();
    tokio::time::sleep(IDLE_WINDOW).await;
    let after = cpu_ticks(pid)?;
    let precise_after = threads_on_cpu_seconds(pid);
    let window = start.elapsed().as_secs_f64();
    let cpu_seconds = (after - before) as f64 / ticks;
    let precise = precise_after - precise_before;
    let rss_kib = status_kib(pid, "VmHWM:")?;
    let threads = status_kib(pid, "Threads:").unwrap_or(0);
    Ok(Idle {
        stat_pct: 100.0 * cpu_seconds / window,
        stat_cpu_s: cpu_seconds,
        schedstat_pct: 100.0 * precise / window,
        schedstat_cpu_s: precise,
        rss_mib: rss_kib as f64 / 1024.0,
        threads,
    })
}

async fn wait_exit(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}
