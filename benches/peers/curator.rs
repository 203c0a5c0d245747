//! Apache Curator's `LeaderLatch` with Flink's classic publish step as a peer: the testkit's
//! `CuratorContender` (`src/testkit/java/CuratorContender.java`), compiled with `javac` against
//! Debian's Curator 5 jars before anything is measured, and run with the JVM's default flags.

use std::path::{Path, PathBuf};
use std::process::Command;

use zk_election::testkit::CuratorContender;

use crate::peer::{LeaveBy, Line, ProcessPeer};

/// A compiled contender: the classpath to run it with.
pub(crate) struct Compiled {
    pub(crate) classpath: String,
    /// The Curator jar's version (from its versioned file name), for the report.
    pub(crate) curator_version: String,
}

/// Compiles the contender (the testkit's `CuratorContender`) into `out`.
pub(crate) fn compile(out: &Path) -> Result<Compiled, String> {
    let compiled = CuratorContender::compile(out).map_err(|e| format!("{e} (scripts/install-peers.sh installs it)"))?;
    Ok(Compiled { classpath: compiled.classpath().to_owned(), curator_version: compiled.curator_version().to_owned() })
}

/// `java -version`'s first line (it prints to stderr).
pub(crate) fn java_version() -> String {
    Command::new("java")
        .arg("-version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stderr).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "not found".to_owned())
}

/// Contenders on `connect`, leaving on `quit`.
pub(crate) fn peer(compiled: &Compiled, connect: &str, latch: &str, leader: &str, log: PathBuf) -> ProcessPeer {
    let (classpath, connect, latch, leader) =
        (compiled.classpath.clone(), connect.to_owned(), latch.to_owned(), leader.to_owned());
    ProcessPeer {
        command: Box::new(move |address| {
            let mut command = Command::new("java");
            command.args(["-cp", &classpath, "CuratorContender", &connect, &latch, &leader, address]);
            command
        }),
        classify,
        leave_by: LeaveBy::Quit,
        log,
    }
}

/// `granted` when the latch calls `isLeader`, `leader ADDRESS UUID` once the node is written.
fn classify(line: &str, address: &str) -> Line {
    if line == "granted" {
        Line::Granted
    } else if line.strip_prefix("leader ").is_some_and(|rest| rest.starts_with(address)) {
        Line::Leads
    } else {
        Line::Other
    }
}
