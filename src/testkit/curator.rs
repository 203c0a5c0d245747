//! A real Apache Curator `LeaderLatch` participant, for tests and benchmarks of mixed lines:
//! `java/CuratorContender.java` (Curator's latch with the publish step of Flink's classic
//! ZooKeeper election service), compiled with `javac` against Debian's Curator 5 jars
//! (`scripts/install-curator.sh` installs them and a JDK).
//!
//! The contender prints one line per event on stdout: `granted` when the latch makes it leader,
//! `leader ADDRESS UUID` once its leader node holds its address, `revoked`, and `stopped` before
//! it exits; a line `quit` on stdin (or its end) closes latch and client.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::TestkitError;

/// Where Debian installs its jars.
const JARS: &str = "/usr/share/java";
/// What the contender compiles against; their manifests name the rest (guava, slf4j-api,
/// zookeeper-jute, …), which the JVM and javac then find by themselves.
const COMPILE_JARS: [&str; 4] = ["curator-recipes.jar", "curator-framework.jar", "curator-client.jar", "zookeeper.jar"];
/// A binding that silences slf4j's "no binding" warning (logging is off either way).
const QUIET_LOGGING: &str = "slf4j-nop.jar";
/// The contender's source, carried in the crate.
const SOURCE: &str = include_str!("java/CuratorContender.java");

/// A compiled Curator contender: the classpath to run it with.
#[derive(Clone, Debug)]
pub struct CuratorContender {
    classpath: String,
    curator_version: String,
}

impl CuratorContender {
    /// Compiles the contender into the directory `out` (created if missing).
    ///
    /// # Errors
    /// [`TestkitError::CuratorUnavailable`] when a Curator jar or `javac` is missing or the
    /// compile fails; [`TestkitError::Io`] when `out` cannot be written.
    pub fn compile(out: &Path) -> Result<CuratorContender, TestkitError> {
        let unavailable = |reason: String| TestkitError::CuratorUnavailable { reason };
        let jars: Vec<PathBuf> = COMPILE_JARS.iter().map(|jar| Path::new(JARS).join(jar)).collect();
        if let Some(missing) = jars.iter().find(|jar| !jar.is_file()) {
            return Err(unavailable(format!("{} not found", missing.display())));
        }
        let io = |action: &str| {
            let action = format!("{action} {}", out.display());
            move |source| TestkitError::Io { action, source }
        };
        std::fs::create_dir_all(out).map_err(io("creating"))?;
        let source = out.join("CuratorContender.java");
        std::fs::write(&source, SOURCE).map_err(io("writing the contender's source into"))?;
        let output = Command::new("javac")
            .arg("-d")
            .arg(out)
            .args(["-cp", &join(&jars)])
            .arg(&source)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| unavailable(format!("cannot run javac: {err}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(unavailable(format!("javac failed ({}): {}", output.status, stderr.trim())));
        }
        let mut run_path = vec![out.to_owned()];
        run_path.extend(jars);
        let quiet = Path::new(JARS).join(QUIET_LOGGING);
        if quiet.is_file() {
            run_path.push(quiet);
        }
        Ok(CuratorContender { classpath: join(&run_path), curator_version: jar_version("curator-recipes") })
    }

    /// The classpath the contender runs with.
    pub fn classpath(&self) -> &str {
        &self.classpath
    }

    /// The Curator version of the jars (from Debian's versioned file name).
    pub fn curator_version(&self) -> &str {
        &self.curator_version
    }

    /// The command that runs one contender publishing `address` at `leader_path`.
    pub fn command(&self, connect: &str, latch_path: &str, leader_path: &str, address: &str) -> Command {
        let mut command = Command::new("java");
        command.args(["-cp", &self.classpath, "CuratorContender", connect, latch_path, leader_path, address]);
        command
    }
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
