//! The zk-elect command line as a peer: `zk-elect campaign … --json` processes, built in
//! release before anything is measured.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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
    crate::machine::cargo_build_release("--bin", "zk-elect", BUILD_LIMIT)
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
