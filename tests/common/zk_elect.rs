//! Driving the `zk-elect` binary from tests: one process per [`ZkElect`], judged by what it
//! prints (JSON events with `--json`, raw lines in text mode), its stderr, its exit code and what
//! it leaves in /proc.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const SECOND: Duration = Duration::from_secs(1);

/// How a [`ZkElect`] reads its stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    /// Every line is a JSON event; one that is not fails the test.
    Json,
    /// Lines as printed, judged by the test.
    Text,
}

/// One running `zk-elect`, stdin kept open (its end would stop it). Killed (with the command it
/// runs, if any) when dropped, so a failing test leaves no process behind; its output is printed
/// then, to tell why it failed.
pub struct ZkElect {
    pub name: String,
    process: Child,
    stdin: Option<ChildStdin>,
    output: Output,
    /// Stdout lines with the moment each arrived, in order.
    stdout: mpsc::UnboundedReceiver<(Instant, String)>,
    /// Stderr lines so far, and the task that reads them until stderr closes.
    stderr: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<JoinHandle<()>>,
    /// Every stdout and stderr line, for failure reports.
    transcript: Arc<Mutex<Vec<String>>>,
    /// Pids of commands it reported starting (`run`).
    children: Vec<u32>,
}

impl ZkElect {
    /// Starts `zk-elect` with `args` (which include `--json`); read it with [`ZkElect::next`],
    /// [`ZkElect::expect`] and the like.
    pub fn spawn(name: &str, args: &[&str]) -> ZkElect {
        ZkElect::start(name, args, &[], Output::Json)
    }

    /// [`ZkElect::spawn`] with extra environment variables (passwords).
    pub fn spawn_with_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> ZkElect {
        ZkElect::start(name, args, env, Output::Json)
    }

    /// Starts `zk-elect` with `args`, its stdout read as raw lines ([`ZkElect::line`],
    /// [`ZkElect::rest`]).
    pub fn spawn_text(name: &str, args: &[&str]) -> ZkElect {
        ZkElect::start(name, args, &[], Output::Text)
    }

    fn start(name: &str, args: &[&str], env: &[(&str, &str)], output: Output) -> ZkElect {
        let mut process = Command::new(env!("CARGO_BIN_EXE_zk-elect"))
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("zk-elect starts");
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let (sender, stdout) = mpsc::unbounded_channel();
        let source = process.stdout.take().expect("piped");
        read_lines(source, format!("{name} stdout"), transcript.clone(), move |line| {
            let _ = sender.send((Instant::now(), line));
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let collected = stderr.clone();
        let source = process.stderr.take().expect("piped");
        let stderr_reader = read_lines(source, format!("{name} stderr"), transcript.clone(), move |line| {
            collected.lock().unwrap().push(line);
        });
        let stdin = process.stdin.take();
        ZkElect {
            name: name.to_owned(),
            process,
            stdin,
            output,
            stdout,
            stderr,
            stderr_reader: Some(stderr_reader),
            transcript,
            children: Vec::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.process.id().expect("not reaped yet")
    }

    /// A stdout line as an event: JSON with a `ts_ms`, or the test fails. Notes the commands it
    /// reports starting, to kill them should the test fail.
    fn event(&mut self, line: &str) -> Value {
        assert_eq!(self.output, Output::Json, "{}: spawned for text, read with line()", self.name);
        let event: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.name));
        assert!(event["ts_ms"].as_u64().is_some_and(|ts| ts > 1_600_000_000_000), "no ts_ms: {event}");
        if event["event"] == "child_started" {
            self.children.push(event["pid"].as_u64().unwrap() as u32);
        }
        event
    }

    /// The next event line; panics after `within`.
    pub async fn next(&mut self, within: Duration) -> Value {
        match tokio::time::timeout(within, self.stdout.recv()).await {
            Ok(Some((_, line))) => self.event(&line),
            Ok(None) => panic!("{}: stdout closed", self.name),
            Err(_) => panic!("{}: no event within {within:?}", self.name),
        }
    }

    /// Skips events until one named `name` satisfies `wanted`; returns it and when it arrived.
    async fn until(&mut self, name: &str, within: Duration, wanted: impl Fn(&Value) -> bool) -> (Instant, Value) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.recv()).await {
                Ok(Some((at, line))) => {
                    let event = self.event(&line);
                    if event["event"] == name && wanted(&event) {
                        return (at, event);
                    }
                }
                Ok(None) => panic!("{}: stdout closed before {name}", self.name),
                Err(_) => panic!("{}: no {name} within {within:?}", self.name),
            }
        }
    }

    /// Skips events until one named `name` satisfies `wanted`.
    pub async fn expect_where(&mut self, name: &str, within: Duration, wanted: impl Fn(&Value) -> bool) -> Value {
        self.until(name, within, wanted).await.1
    }

    /// Skips events until one named `name`.
    pub async fn expect(&mut self, name: &str, within: Duration) -> Value {
        self.until(name, within, |_| true).await.1
    }

    /// Skips events until one named `name`; returns it and when it arrived.
    pub async fn expect_at(&mut self, name: &str, within: Duration) -> (Instant, Value) {
        self.until(name, within, |_| true).await
    }

    /// Every event that arrives within `window`.
    pub async fn drain_for(&mut self, window: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + window;
        let mut seen = Vec::new();
        while let Ok(Some((_, line))) = tokio::time::timeout_at(deadline, self.stdout.recv()).await {
            seen.push(self.event(&line));
        }
        seen
    }

    /// Events already printed, without waiting.
    pub fn printed_so_far(&mut self) -> Vec<Value> {
        let mut seen = Vec::new();
        while let Ok((_, line)) = self.stdout.try_recv() {
            seen.push(self.event(&line));
        }
        seen
    }

    /// Every event up to and including `stopped`, then the exit status.
    pub async fn until_stopped(&mut self) -> (Vec<Value>, ExitStatus) {
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout(10 * SECOND, self.stdout.recv()).await {
                Ok(Some((_, line))) => {
                    let event = self.event(&line);
                    let stopped = event["event"] == "stopped";
                    seen.push(event);
                    if stopped {
                        break;
                    }
                }
                Ok(None) => panic!("{}: stdout closed before stopped: {seen:?}", self.name),
                Err(_) => panic!("{}: no stopped within 10 s: {seen:?}", self.name),
            }
        }
        (seen, self.exit_status(10 * SECOND).await)
    }

    /// Waits for `stopped` as the last line, then exit code `code`.
    pub async fn expect_clean_exit(&mut self, code: i32) {
        self.expect("stopped", 10 * SECOND).await;
        assert_eq!(self.exit_status(10 * SECOND).await.code(), Some(code), "{} exit code", self.name);
        assert!(self.stdout.recv().await.is_none(), "{}: printed something after stopped", self.name);
    }

    /// The next raw stdout line (text mode); panics after `within` or when stdout closes.
    pub async fn line(&mut self, within: Duration) -> String {
        assert_eq!(self.output, Output::Text, "{}: spawned for JSON, read with next()", self.name);
        match tokio::time::timeout(within, self.stdout.recv()).await {
            Ok(Some((_, line))) => line,
            Ok(None) => panic!("{}: stdout closed", self.name),
            Err(_) => panic!("{}: no line within {within:?}", self.name),
        }
    }

    /// Every raw stdout line (text mode) until stdout closes (the process ended), within `within`.
    pub async fn rest(&mut self, within: Duration) -> Vec<String> {
        assert_eq!(self.output, Output::Text, "{}: spawned for JSON, read with next()", self.name);
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.stdout.recv()).await {
                Ok(Some((_, line))) => seen.push(line),
                Ok(None) => return seen,
                Err(_) => panic!("{}: stdout still open after {within:?}; saw {seen:?}", self.name),
            }
        }
    }

    /// Its stderr lines, joined: all of them once the process has ended (stderr closed), or
    /// those that came within a second.
    pub async fn stderr(&mut self) -> String {
        if let Some(reader) = self.stderr_reader.take() {
            let _ = tokio::time::timeout(SECOND, reader).await;
        }
        self.stderr.lock().unwrap().join("\n")
    }

    pub async fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(format!("{line}\n").as_bytes()).await.expect("zk-elect reads stdin");
        stdin.flush().await.expect("zk-elect reads stdin");
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, signal) }, 0);
    }

    pub fn sigkill(&mut self) {
        self.process.start_kill().expect("zk-elect is ours to kill");
    }

    pub async fn exit_status(&mut self, within: Duration) -> ExitStatus {
        match tokio::time::timeout(within, self.process.wait()).await {
            Ok(status) => status.unwrap_or_else(|err| panic!("{}: cannot wait: {err}", self.name)),
            Err(_) => panic!("{}: still running after {within:?}", self.name),
        }
    }

    /// The exit code; panics if it still runs after `within`.
    pub async fn exit_code(&mut self, within: Duration) -> Option<i32> {
        self.exit_status(within).await.code()
    }

    /// Whether it still runs after `window`.
    pub async fn still_running_after(&mut self, window: Duration) -> bool {
        tokio::time::timeout(window, self.process.wait()).await.is_err()
    }
}

impl Drop for ZkElect {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- transcript of {} ---", self.name);
            for line in self.transcript.lock().map(|t| t.clone()).unwrap_or_default() {
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

/// Reads `source` line by line into `transcript`, each line labelled, and hands each to `each`.
/// The task ends when `source` closes.
fn read_lines(
    source: impl AsyncRead + Unpin + 'static,
    label: String,
    transcript: Arc<Mutex<Vec<String>>>,
    mut each: impl FnMut(String) + 'static,
) -> JoinHandle<()> {
    actix_rt::spawn(async move {
        let mut lines = BufReader::new(source).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            transcript.lock().unwrap().push(format!("{label}: {line}"));
            each(line);
        }
    })
}

/// Field 3 (state), 4 (ppid) and 6 (session) of `/proc/<pid>/stat`, if the process exists.
pub fn stat(pid: u32) -> Option<(String, u32, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    Some((fields.first()?.to_string(), fields.get(1)?.parse().ok()?, fields.get(3)?.parse().ok()?))
}

/// Whether `pid` runs (a zombie has ended: only its parent's `wait` is missing).
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _, _)| state != "Z")
}

/// The parent pid of `pid`, if it is alive.
pub fn parent_of(pid: u32) -> Option<u32> {
    stat(pid).filter(|(state, _, _)| state != "Z").map(|(_, ppid, _)| ppid)
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
