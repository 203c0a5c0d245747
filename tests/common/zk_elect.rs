//! Driving the `zk-elect` binary from tests: one process per [`ZkElect`], judged by its JSON
//! lines, exit codes and what it leaves in /proc.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

const SECOND: Duration = Duration::from_secs(1);

/// One running `zk-elect`. Killed (with the command it runs, if any) when dropped, so a failing
/// test leaves no process behind; its output is printed then, to tell why it failed.
pub struct ZkElect {
    pub name: String,
    pub process: Child,
    pub stdin: Option<ChildStdin>,
    /// Parsed stdout lines, in order.
    pub events: mpsc::UnboundedReceiver<Value>,
    /// Every stdout and stderr line, for failure reports.
    pub transcript: Arc<Mutex<Vec<String>>>,
    /// Pids of commands it reported starting (`run`).
    pub children: Vec<u32>,
}

impl ZkElect {
    pub fn spawn(name: &str, args: &[&str]) -> ZkElect {
        let mut process = Command::new(env!("CARGO_BIN_EXE_zk-elect"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("zk-elect starts");
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let (sender, events) = mpsc::unbounded_channel();
        let mut stdout = BufReader::new(process.stdout.take().unwrap()).lines();
        let log = transcript.clone();
        let who = name.to_owned();
        actix_rt::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                log.lock().unwrap().push(format!("{who} stdout: {line}"));
                let event: Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{who}: not JSON ({e}): {line}"));
                let _ = sender.send(event);
            }
        });
        let mut stderr = BufReader::new(process.stderr.take().unwrap()).lines();
        let log = transcript.clone();
        let who = name.to_owned();
        actix_rt::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                log.lock().unwrap().push(format!("{who} stderr: {line}"));
            }
        });
        let stdin = process.stdin.take();
        ZkElect { name: name.to_owned(), process, stdin, events, transcript, children: Vec::new() }
    }

    pub fn pid(&self) -> u32 {
        self.process.id().expect("not reaped yet")
    }

    /// The next event line; panics after `within`.
    pub async fn next(&mut self, within: Duration) -> Value {
        match tokio::time::timeout(within, self.events.recv()).await {
            Ok(Some(event)) => {
                assert!(event["ts_ms"].as_u64().is_some_and(|ts| ts > 1_600_000_000_000), "no ts_ms: {event}");
                if event["event"] == "child_started" {
                    self.children.push(event["pid"].as_u64().unwrap() as u32);
                }
                event
            }
            Ok(None) => panic!("{}: stdout closed", self.name),
            Err(_) => panic!("{}: no event within {within:?}", self.name),
        }
    }

    /// Skips events until one named `name` satisfies `wanted`.
    pub async fn expect_where(&mut self, name: &str, within: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self.next(left).await;
            if event["event"] == name && wanted(&event) {
                return event;
            }
        }
    }

    pub async fn expect(&mut self, name: &str, within: Duration) -> Value {
        self.expect_where(name, within, |_| true).await
    }

    /// Every event that arrives within `window`.
    pub async fn drain_for(&mut self, window: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + window;
        let mut seen = Vec::new();
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            seen.push(event);
        }
        seen
    }

    pub async fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, signal) }, 0);
    }

    pub async fn exit_status(&mut self, within: Duration) -> ExitStatus {
        match tokio::time::timeout(within, self.process.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!("{}: still running after {within:?}", self.name),
        }
    }

    /// Waits for `stopped` as the last line, then exit code `code`.
    pub async fn expect_clean_exit(&mut self, code: i32) {
        self.expect("stopped", 10 * SECOND).await;
        assert_eq!(self.exit_status(10 * SECOND).await.code(), Some(code), "{} exit code", self.name);
        assert!(self.events.recv().await.is_none(), "{}: printed something after stopped", self.name);
    }
}

impl Drop for ZkElect {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- transcript of {} ---", self.name);
            for line in self.transcript.lock().unwrap().iter() {
                eprintln!("{line}");
            }
        }
        if let Ok(None) = self.process.try_wait() {
            let _ = self.process.start_kill();
        }
        // Its commands die with it (PR_SET_PDEATHSIG), but do not rely on the code under test.
        for &pid in &self.children {
            if parent_of(pid).is_some() {
                // SAFETY: as above; a pid we saw started, still alive.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
        }
    }
}

/// The parent pid of `pid`, if it is alive (`/proc/<pid>/stat`, field 4).
pub fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let mut fields = after_name.split(' ');
    let state = fields.next()?;
    (state != "Z").then_some(())?;
    fields.next()?.parse().ok()
}

/// Whether `pid` ignores SIGTERM (bit 15 of `SigIgn` in `/proc/<pid>/status`).
pub fn ignores_sigterm(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:")).map(str::trim).unwrap_or("0");
    u64::from_str_radix(mask, 16).is_ok_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

/// The command line of `pid`, arguments joined by spaces.
pub fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    raw.split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Live processes whose parent is `parent`.
pub fn children_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| parent_of(pid) == Some(parent))
        .collect()
}
