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

/// Builds the `contender` example in release (as a user would run it) and answers its path.
pub(crate) fn build_contender_example() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let mut child = Command::new(&cargo)
        .args(["build", "--release", "--example", "contender", "--message-format=json-render-diagnostics"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("running {cargo}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no cargo stdout")?;
    let reader = std::thread::spawn(move || {
        let mut executable = None;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(message) = serde_json::from_str::<Value>(&line) else { continue };
            if message["reason"] == "compiler-artifact" && message["target"]["name"] == "contender" {
                if let Some(path) = message["executable"].as_str() {
                    executable = Some(PathBuf::from(path));
                }
            }
        }
        executable
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("building the contender example took over 300 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let executable = reader.join().ok().flatten();
    match (status.success(), executable) {
        (true, Some(path)) => Ok(path),
        (true, None) => Err("cargo built no `contender` example executable".to_owned()),
        (false, _) => Err(format!("`cargo build --release --example contender` failed ({status})")),
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
