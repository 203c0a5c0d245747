//! Apache Curator's `LeaderLatch` with Flink's classic publish step as a peer: the contender in
//! `java/CuratorContender.java`, compiled with `javac` against Debian's Curator 5 jars before
//! anything is measured, and run with the JVM's default flags.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::peer::{LeaveBy, Line, ProcessPeer};

/// Where Debian installs its jars.
const JARS: &str = "/usr/share/java";
/// What the contender compiles against; their manifests name the rest (guava, slf4j-api,
/// zookeeper-jute, jackson, …), which the JVM and javac then find by themselves.
const COMPILE_JARS: [&str; 4] = ["curator-recipes.jar", "curator-framework.jar", "curator-client.jar", "zookeeper.jar"];
/// A binding that silences slf4j's "no binding" warning (logging is off either way).
const QUIET_LOGGING: &str = "slf4j-nop.jar";

/// A compiled contender: the class directory and the classpath to run it with.
pub(crate) struct Compiled {
    pub(crate) classpath: String,
    /// The Curator jar's version (from its versioned file name), for the report.
    pub(crate) curator_version: String,
}

/// Compiles the contender into `out`.
pub(crate) fn compile(out: &Path) -> Result<Compiled, String> {
    let jars: Vec<PathBuf> = COMPILE_JARS.iter().map(|jar| Path::new(JARS).join(jar)).collect();
    if let Some(missing) = jars.iter().find(|jar| !jar.is_file()) {
        return Err(format!(
            "{} not found (scripts/install-peers.sh installs libcurator-recipes-java)",
            missing.display()
        ));
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/java/CuratorContender.java");
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let compile_path = join(&jars);
    let output = Command::new("javac")
        .arg("-d")
        .arg(out)
        .args(["-cp", &compile_path])
        .arg(&source)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run javac ({e}); scripts/install-peers.sh installs a JDK"))?;
    if !output.status.success() {
        return Err(format!("javac failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim()));
    }
    let mut run_path = vec![out.to_owned()];
    run_path.extend(jars);
    let quiet = Path::new(JARS).join(QUIET_LOGGING);
    if quiet.is_file() {
        run_path.push(quiet);
    }
    Ok(Compiled { classpath: join(&run_path), curator_version: jar_version("curator-recipes") })
}

fn join(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
}

/// The version in a Debian jar's versioned name (`curator-recipes-5.4.0.jar`, installed beside
/// `curator-recipes.jar`).
fn jar_version(name: &str) -> String {
    let prefix = format!("{name}-");
    std::fs::read_dir(JARS)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .find_map(|file| file.strip_prefix(&prefix)?.strip_suffix(".jar").map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
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
