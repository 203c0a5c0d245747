//! CPU time and memory of processes and threads, read from /proc.

use std::time::Instant;

use serde_json::{json, Value};

use crate::stats::round3;

/// Nanosecond-resolution CPU time of every live thread of `pid`, in seconds.
pub(crate) fn threads_on_cpu_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0.0 };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>()
        / 1e9
}

pub(crate) fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// utime + stime of `pid`, in clock ticks (fields 14 and 15 of /proc/<pid>/stat).
pub(crate) fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name may contain spaces; fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')').ok_or("malformed stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok()).ok_or("malformed stat");
    Ok(field(14)? + field(15)?)
}

/// A `kB` value from /proc/<pid>/status.
pub(crate) fn status_kib(pid: u32, key: &str) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no {key} in /proc/{pid}/status"))
}

/// CPU time used so far by this process's threads, split into the main thread (the bench's
/// arbiter: supervisors, latches, caches, contenders, observers) and the others (one arbiter
/// per session, each running its ZooKeeper client), and by the ZooKeeper server.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuClock {
    at: Instant,
    main_s: f64,
    others_s: f64,
    zookeeper_s: Option<f64>,
}

impl CpuClock {
    pub(crate) fn now(zk_pid: Option<u32>) -> CpuClock {
        let me = std::process::id().to_string();
        let (mut main_s, mut others_s) = (0.0, 0.0);
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                // schedstat: nanoseconds on CPU, first field.
                let ns = std::fs::read_to_string(task.path().join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
                    .unwrap_or(0.0);
                if task.file_name().to_str() == Some(me.as_str()) {
                    main_s += ns / 1e9;
                } else {
                    others_s += ns / 1e9;
                }
            }
        }
        let zookeeper_s = zk_pid.and_then(|pid| cpu_ticks(pid).ok()).map(|t| t as f64 / clock_ticks_per_second());
        CpuClock { at: Instant::now(), main_s, others_s, zookeeper_s }
    }

    /// CPU seconds used since `earlier`, by part, with the wall time between.
    /// CPU milliseconds per event over `events` events since `earlier`: this process (every
    /// thread) and the ZooKeeper server, if known.
    pub(crate) fn ms_per(&self, earlier: &CpuClock, events: usize) -> (f64, Option<f64>) {
        let n = events.max(1) as f64;
        let ours = (self.main_s - earlier.main_s + self.others_s - earlier.others_s) * 1000.0 / n;
        let server = self.zookeeper_s.zip(earlier.zookeeper_s).map(|(a, b)| (a - b) * 1000.0 / n);
        (ours, server)
    }

    pub(crate) fn since(&self, earlier: &CpuClock) -> Value {
        json!({
            "wall_s": round3(self.at.duration_since(earlier.at).as_secs_f64()),
            "bench_main_thread_s": round3(self.main_s - earlier.main_s),
            "bench_session_threads_s": round3(self.others_s - earlier.others_s),
            "zookeeper_server_s": self.zookeeper_s.zip(earlier.zookeeper_s).map(|(a, b)| round3(a - b)),
        })
    }
}
