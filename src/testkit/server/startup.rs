//! Starting a server: what one start shares (Java, the classpath, the certificates), the
//! ports, the server's directory and files, the JVM, and the probe that tells when it is ready.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::{ZkServer, LOG_TAIL_LINES, PROBE_TIMEOUT, START_MARKER};
use crate::testkit::four_letter::parse_srvr;
use crate::testkit::options::{Membership, Options};
use crate::testkit::process::ChildProcess;
use crate::testkit::sasl::JAAS_FILE;
use crate::testkit::{locate, ports, TestkitError, TlsMaterial};

/// What every server of one start shares: Java, ZooKeeper's classpath and the TLS material.
#[derive(Debug)]
pub(crate) struct Launch {
    pub(crate) java: PathBuf,
    pub(crate) classpath: String,
    pub(crate) tls: Option<Arc<TlsMaterial>>,
}

impl Launch {
    /// Finds Java and ZooKeeper, checks the options and issues the certificates.
    ///
    /// # Notable errors
    /// * [`TestkitError::ZooKeeperNotFound`], [`TestkitError::JavaNotFound`]: see [`super::locate`].
    /// * [`TestkitError::InvalidOption`], [`TestkitError::Certificate`].
    pub(crate) fn prepare(options: &Options) -> Result<Launch, TestkitError> {
        options.sasl.validate()?;
        let java = locate::java_executable()?;
        let classpath = match &options.zookeeper_home {
            Some(home) => locate::classpath_of_home(home)?,
            None => locate::zookeeper_classpath()?,
        };
        let tls = options.tls.as_ref().map(TlsMaterial::create).transpose()?.map(Arc::new);
        Ok(Launch { java, classpath, tls })
    }
}

/// The client ports of one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerPorts {
    pub(crate) client: u16,
    /// The TLS port, when the server serves TLS.
    pub(crate) secure: Option<u16>,
}

impl ServerPorts {
    /// Free ports for `n` servers, with a TLS port each when `tls`.
    pub(crate) fn take(n: usize, tls: bool) -> Result<Vec<ServerPorts>, TestkitError> {
        let per_server = if tls { 2 } else { 1 };
        let free = ports::free_ports(n * per_server)?;
        Ok(free.chunks(per_server).map(|pair| ServerPorts { client: pair[0], secure: pair.get(1).copied() }).collect())
    }
}

/// What a readiness probe looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// The server serves clients: `ruok` → `imok` (standalone only) and `srvr` reports a
    /// serving mode (standalone, leader, follower, observer).
    Serving,
    /// The JVM answers four-letter words at all, serving or not (an ensemble member without a
    /// quorum).
    Answering,
}

/// The outcome of one readiness probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    Ready,
    /// Not yet, and what the probe saw instead.
    NotYet(String),
}

impl ZkServer {
    /// Creates the server's directory, `zoo.cfg` (and `myid` for a member, `jaas.conf` with
    /// SASL); starts nothing.
    pub(crate) fn create(
        options: &Options,
        launch: &Launch,
        ports: ServerPorts,
        member: Option<Membership>,
    ) -> Result<ZkServer, TestkitError> {
        let dir = tempfile::Builder::new()
            .prefix("zk-election-testkit-")
            .tempdir()
            .map_err(|e| TestkitError::io("creating the server's temp dir", e))?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir(&data_dir).map_err(|e| TestkitError::io(format!("creating {}", data_dir.display()), e))?;
        if let Some(member) = &member {
            let myid = data_dir.join("myid");
            std::fs::write(&myid, format!("{}\n", member.id))
                .map_err(|e| TestkitError::io(format!("writing {}", myid.display()), e))?;
        }
        let jaas_path = dir.path().join(JAAS_FILE);
        if options.sasl.is_enabled() {
            std::fs::write(&jaas_path, options.sasl.jaas())
                .map_err(|e| TestkitError::io(format!("writing {}", jaas_path.display()), e))?;
        }
        let tls = launch.tls.clone().zip(ports.secure);
        let cfg_path = dir.path().join("zoo.cfg");
        let cfg = options.zoo_cfg(&data_dir, ports.client, member.as_ref(), tls.as_ref().map(|(m, p)| (&**m, *p)));
        std::fs::write(&cfg_path, cfg).map_err(|e| TestkitError::io(format!("writing {}", cfg_path.display()), e))?;
        Ok(ZkServer {
            process: ChildProcess::default(),
            port: ports.client,
            secure_port: tls.as_ref().map(|(_, port)| *port),
            tls: tls.map(|(material, _)| material),
            member,
            java: launch.java.clone(),
            jvm_args: options.jvm_args(&launch.classpath, &jaas_path),
            log_path: dir.path().join("server.log"),
            cfg_path,
            data_dir,
            start_timeout: options.start_timeout,
            dir,
        })
    }

    /// Starts the JVM without waiting for it; does nothing if it already runs.
    pub(crate) fn spawn(&self) -> Result<(), TestkitError> {
        let log_err = |e| TestkitError::io(format!("opening {}", self.log_path.display()), e);
        let mut log = OpenOptions::new().create(true).append(true).open(&self.log_path).map_err(log_err)?;
        writeln!(log, "\n{START_MARKER} on 127.0.0.1:{} ===", self.port).map_err(log_err)?;
        let stderr = log.try_clone().map_err(log_err)?;
        let mut command = Command::new(&self.java);
        command
            .args(&self.jvm_args)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&self.cfg_path)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr);
        self.process.spawn(command)
    }

    /// Probes once whether the server is ready in the given sense.
    ///
    /// # Notable errors
    /// * [`TestkitError::Exited`] when the JVM has exited since it was started.
    /// * [`TestkitError::NotRunning`] when it was stopped.
    pub(crate) fn probe(&self, readiness: Readiness) -> Result<Probe, TestkitError> {
        if let Some(status) = self.process.exit_status() {
            let log = self.current_run_log();
            return Err(TestkitError::Exited {
                port: self.port,
                status: status.to_string(),
                port_in_use: log.contains("Address already in use") || log.contains("BindException"),
                log_path: self.log_path.clone(),
                log_tail: self.log_tail(),
            });
        }
        if !self.process.is_running() {
            return Err(TestkitError::NotRunning { port: self.port });
        }
        // `ruok` says `imok` as soon as the client port is open, before a standalone server has
        // loaded its data and while a member has no quorum; only `srvr` tells serving apart.
        if self.member.is_none() && readiness == Readiness::Serving {
            match self.four_letter_with_timeout("ruok", PROBE_TIMEOUT) {
                Ok(answer) if answer == "imok" => {}
                Ok(answer) => return Ok(Probe::NotYet(format!("`ruok` answered {answer:?}"))),
                Err(e) => return Ok(Probe::NotYet(e.to_string())),
            }
        }
        let answer = match self.four_letter_with_timeout("srvr", PROBE_TIMEOUT) {
            Ok(answer) => answer,
            Err(e) => return Ok(Probe::NotYet(e.to_string())),
        };
        let ready = match readiness {
            Readiness::Answering => !answer.is_empty(),
            Readiness::Serving => parse_srvr(&answer).is_some_and(|s| s.mode.is_serving()),
        };
        if !ready {
            return Ok(Probe::NotYet(format!("`srvr` answered {:?}", answer.trim())));
        }
        // ZooKeeper opens the TLS port after the plain one serves: a client told "ready" must
        // not find it closed.
        if let Some(secure_port) = self.secure_port.filter(|_| readiness == Readiness::Serving) {
            if !ports::is_listening(secure_port) {
                return Ok(Probe::NotYet(format!("TLS port {secure_port} not listening yet")));
            }
        }
        Ok(Probe::Ready)
    }

    /// The error for a server that did not get ready in time.
    pub(crate) fn not_ready(&self, seen: String) -> TestkitError {
        TestkitError::NotReady {
            port: self.port,
            waited: self.start_timeout,
            reason: seen,
            log_path: self.log_path.clone(),
            log_tail: self.log_tail(),
        }
    }

    /// The last lines of the log, for error messages; best effort.
    fn log_tail(&self) -> String {
        let text = read_end(&self.log_path, 64 * 1024);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// The log written since the latest start, for telling why it failed; best effort.
    fn current_run_log(&self) -> String {
        let text = read_end(&self.log_path, 1024 * 1024);
        match text.rfind(START_MARKER) {
            Some(at) => text[at..].to_owned(),
            None => text,
        }
    }
}

/// The last `max` bytes of a file as text; empty when it cannot be read.
fn read_end(path: &Path, max: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if file.seek(SeekFrom::Start(len.saturating_sub(max))).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
