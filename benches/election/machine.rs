//! The machine and its tools: where results go, the `contender` example the footprint figure
//! runs, and what the table's header says about CPU, kernel and server.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use zk_election::testkit::ZkServer;

pub(crate) fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench")
}

/// Logs to stderr when `RUST_LOG` is set (`RUST_LOG=zk_election=debug` shows the library's own
/// timeline).
pub(crate) fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// Builds the `contender` example in release (as a user would run it) and answers its path.
pub(crate) fn build_contender_example() -> Result<PathBuf, String> {
    cargo_build_release("--example", "contender", Duration::from_secs(300))
}

/// `cargo build --release {kind} {name}` (`--example` or `--bin`), within `limit`; answers the
/// executable cargo reports having built.
pub(crate) fn cargo_build_release(kind: &str, name: &str, limit: Duration) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let mut child = Command::new(&cargo)
        .args(["build", "--release", kind, name, "--message-format=json-render-diagnostics"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("running {cargo}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no cargo stdout")?;
    // Cargo's messages are read on a thread so that the deadline below holds.
    let target = name.to_owned();
    let reader = std::thread::spawn(move || {
        std::io::BufReader::new(stdout).lines().map_while(Result::ok).fold(None, |found, line| {
            let Ok(message) = serde_json::from_str::<Value>(&line) else { return found };
            let is_ours = message["reason"] == "compiler-artifact" && message["target"]["name"] == target.as_str();
            match message["executable"].as_str() {
                Some(path) if is_ours => Some(PathBuf::from(path)),
                _ => found,
            }
        })
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("building {name} took over {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    match (status.success(), reader.join().ok().flatten()) {
        (true, Some(path)) => Ok(path),
        (true, None) => Err(format!("cargo built no {name} executable")),
        (false, _) => Err(format!("`cargo build --release {kind} {name}` failed ({status})")),
    }
}

pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

pub(crate) fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// `tickTime` from the server's `conf` four-letter word.
pub(crate) fn server_tick(server: &ZkServer) -> Option<Duration> {
    let conf = server.four_letter("conf").ok()?;
    conf.lines()
        .find_map(|l| l.trim().strip_prefix("tickTime="))
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_millis)
}
