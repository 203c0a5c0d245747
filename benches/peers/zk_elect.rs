//! The zk-elect command line as a peer: `zk-elect campaign … --json` processes, built in
//! release before anything is measured.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::peer::{LeaveBy, Line, ProcessPeer};

/// How long building the binary may take.
const BUILD_LIMIT: Duration = Duration::from_secs(600);

/// The binary to run: `ZK_ELECT_BIN` if set (to compare two builds), else
/// `cargo build --release --bin zk-elect` (as a user would build it), answering its path.
pub(crate) fn binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("ZK_ELECT_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(format!("ZK_ELECT_BIN={} is no file", path.display())) };
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let mut child = Command::new(&cargo)
        .args(["build", "--release", "--bin", "zk-elect", "--message-format=json-render-diagnostics"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("running {cargo}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no cargo stdout")?;
    // Cargo's messages are read on a thread so that the deadline below holds.
    let reader = std::thread::spawn(move || {
        std::io::BufReader::new(stdout).lines().map_while(Result::ok).fold(None, |found, line| {
            let Ok(message) = serde_json::from_str::<Value>(&line) else { return found };
            let is_ours = message["reason"] == "compiler-artifact" && message["target"]["name"] == "zk-elect";
            match message["executable"].as_str() {
                Some(path) if is_ours => Some(PathBuf::from(path)),
                _ => found,
            }
        })
    });
    let deadline = Instant::now() + BUILD_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("building zk-elect took over {BUILD_LIMIT:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    match (status.success(), reader.join().ok().flatten()) {
        (true, Some(path)) => Ok(path),
        (true, None) => Err("cargo built no zk-elect executable".to_owned()),
        (false, _) => Err(format!("`cargo build --release --bin zk-elect` failed ({status})")),
    }
}

/// Contenders `zk-elect campaign --json` on `connect`, leaving on `quit`.
pub(crate) fn peer(binary: &Path, connect: &str, latch: &str, leader: &str, log: PathBuf) -> ProcessPeer {
    let (binary, connect, latch, leader) = (binary.to_owned(), connect.to_owned(), latch.to_owned(), leader.to_owned());
    ProcessPeer {
        command: Box::new(move |address| {
            let mut command = Command::new(&binary);
            command.args(["campaign", "--connect", &connect, "--latch-path", &latch, "--leader-path", &leader]);
            command.args(["--address", address, "--json"]);
            command
        }),
        classify,
        leave_by: LeaveBy::Quit,
        log,
    }
}

/// `granted`, then `published`: Flink's contender leads once its leader node is written.
fn classify(line: &str, _address: &str) -> Line {
    let event = serde_json::from_str::<Value>(line).ok();
    match event.as_ref().and_then(|e| e["event"].as_str()) {
        Some("granted") => Line::Granted,
        Some("published") => Line::Leads,
        _ => Line::Other,
    }
}
