//! One ZooKeeper server as a child JVM: standalone, or one member of a [`ZkEnsemble`].
//!
//! [`ZkEnsemble`]: super::ZkEnsemble

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::four_letter::{four_letter_word, parse_srvr};
use super::options::{option_setters, Membership, Options};
use super::process::ChildProcess;
use super::sasl::JAAS_FILE;
use super::{locate, ports, ServerMode, TestkitError, TlsMaterial};

/// How often readiness is probed.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// How long one readiness probe may wait for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Default timeout of [`ZkServer::four_letter`].
const FOUR_LETTER_TIMEOUT: Duration = Duration::from_secs(2);
/// How long [`ZkServer::stop`] waits after `SIGTERM` before it kills.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How many fresh ports a start tries when the JVM finds its port taken.
pub(crate) const PORT_ATTEMPTS: usize = 5;
/// Log lines quoted in errors.
const LOG_TAIL_LINES: usize = 40;
/// Written to the log before every start; the text after the last one is the current run.
const START_MARKER: &str = "=== zk_election testkit: starting ZooKeeper";

/// A standalone ZooKeeper server for tests, running as a child JVM on a free 127.0.0.1 port with
/// a temporary data directory: the Rust counterpart of Curator's `TestingServer`.
///
/// ```no_run
/// # fn main() -> Result<(), zk_election::testkit::TestkitError> {
/// use zk_election::testkit::ZkServer;
/// let server = ZkServer::start()?;
/// let connect_string = server.connect_string(); // "127.0.0.1:PORT"
/// server.restart()?; // same port, same data
/// # Ok(()) }
/// ```
///
/// Every control method takes `&self` and is thread-safe, so an `Arc<ZkServer>` can be moved
/// into `tokio::task::spawn_blocking` while a test keeps using the server. The server is killed
/// (`SIGKILL`) and reaped when dropped, also when the test panics, and it dies with the test
/// process even if that is killed (see the module docs). Its output goes to [`Self::log_path`].
#[derive(Debug)]
pub struct ZkServer {
    /// The JVM; declared before `dir` so it is killed before its data dir is removed.
    process: ChildProcess,
    port: u16,
    /// The TLS client port, when the server serves TLS.
    secure_port: Option<u16>,
    /// The certificates it serves; shared by the members of an ensemble.
    tls: Option<Arc<TlsMaterial>>,
    /// `Some` for ensemble members, whose readiness is "leader or follower" instead of `imok`.
    member: Option<Membership>,
    java: PathBuf,
    jvm_args: Vec<String>,
    cfg_path: PathBuf,
    log_path: PathBuf,
    data_dir: PathBuf,
    start_timeout: Duration,
    /// Holds `zoo.cfg`, the data dir and the log; removed on drop.
    dir: tempfile::TempDir,
}

/// Configures a [`ZkServer`] before starting it; from [`ZkServer::builder`].
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct ZkServerBuilder {
    options: Options,
}

impl ZkServerBuilder {
    option_setters!();

    /// Starts the server and waits until it serves: `ruok` answers `imok` and `srvr` reports
    /// mode `standalone`.
    ///
    /// # Notable errors
    /// * [`TestkitError::ZooKeeperNotFound`], [`TestkitError::JavaNotFound`]: see [`super::locate`].
    /// * [`TestkitError::Exited`]: the JVM died during start (its log tail is included).
    /// * [`TestkitError::NotReady`]: no `imok` within the start timeout.
    pub fn start(self) -> Result<ZkServer, TestkitError> {
        let launch = Launch::prepare(&self.options)?;
        let mut attempt = 1;
        loop {
            let ports = ServerPorts::take(1, launch.tls.is_some())?.remove(0);
            let server = ZkServer::create(&self.options, &launch, ports, None)?;
            match server.spawn().and_then(|()| server.wait_ready()) {
                Err(e) if e.is_port_in_use() && attempt < PORT_ATTEMPTS => attempt += 1,
                result => return result.map(|()| server),
            }
        }
    }
}

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
        let classpath = locate::zookeeper_classpath()?;
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
    /// Starts a standalone server with default settings (see [`ZkServerBuilder`]) and waits
    /// until it answers `ruok`.
    ///
    /// # Notable errors
    /// As [`ZkServerBuilder::start`].
    pub fn start() -> Result<ZkServer, TestkitError> {
        Self::builder().start()
    }

    /// Returns a builder to change tick time, session timeouts, `forceSync`, or add raw
    /// `zoo.cfg` lines before starting.
    pub fn builder() -> ZkServerBuilder {
        ZkServerBuilder::default()
    }

    /// The client port on 127.0.0.1; stays the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The client address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The connect string for ZooKeeper clients, `127.0.0.1:PORT`.
    pub fn connect_string(&self) -> String {
        self.addr().to_string()
    }

    /// The TLS client port on 127.0.0.1, when the server serves TLS (see
    /// [`ZkServerBuilder::tls`]); stays the same across restarts.
    pub fn secure_port(&self) -> Option<u16> {
        self.secure_port
    }

    /// The TLS client address, `127.0.0.1:SECURE_PORT`, when the server serves TLS.
    pub fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure_port.map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
    }

    /// The connect string for TLS clients, `127.0.0.1:SECURE_PORT`, when the server serves TLS.
    /// The server certificate names `127.0.0.1`, so clients can verify the host name.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), zk_election::testkit::TestkitError> {
    /// use zk_election::testkit::ZkServer;
    /// let server = ZkServer::builder().tls().start()?;
    /// let tls_connect_string = server.secure_connect_string().expect("started with TLS");
    /// let plain_connect_string = server.connect_string(); // still open
    /// # let _ = (tls_connect_string, plain_connect_string); Ok(()) }
    /// ```
    pub fn secure_connect_string(&self) -> Option<String> {
        self.secure_addr().map(|addr| addr.to_string())
    }

    /// The CA, certificates and key files the server uses, when it serves TLS: hand
    /// [`TlsMaterial::ca_pem`] and [`TlsMaterial::client_identity`] to a client.
    pub fn tls(&self) -> Option<&TlsMaterial> {
        self.tls.as_deref()
    }

    /// The file receiving the JVM's stdout and stderr, across restarts.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The server's data directory (`dataDir`), kept across restarts and removed on drop.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The JVM's process ID while it runs (also while paused).
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Whether the JVM is alive (a paused JVM is alive). Says nothing about readiness.
    pub fn is_running(&self) -> bool {
        self.process.is_running()
    }

    /// Whether the JVM is stopped by [`Self::pause`].
    pub fn is_paused(&self) -> bool {
        self.process.is_paused()
    }

    /// Stops the server gracefully: `SIGTERM` (plus `SIGCONT` if paused), waits for the exit
    /// (killing it after 10 s) and reaps it. Does nothing if it is not running.
    pub fn stop(&self) -> Result<(), TestkitError> {
        self.process.terminate(STOP_GRACE)
    }

    /// Kills the server with `SIGKILL` and reaps it: a crash, with no goodbye to clients or
    /// peers. Does nothing if it is not running.
    pub fn kill(&self) -> Result<(), TestkitError> {
        self.process.kill()
    }

    /// Stops the server if it runs ([`Self::stop`]), starts it again on the same port with the
    /// same data directory, and waits until it serves.
    ///
    /// For an ensemble member "serves" means leader or follower, which needs a quorum; use
    /// [`ZkEnsemble::restart`](super::ZkEnsemble::restart) when the other members may be down.
    ///
    /// # Notable errors
    /// * [`TestkitError::Exited`] with `port_in_use` when another process took the port
    ///   meanwhile (no new port is tried: clients expect the old one).
    /// * [`TestkitError::NotReady`] when it does not serve within the start timeout.
    pub fn restart(&self) -> Result<(), TestkitError> {
        self.stop()?;
        self.spawn()?;
        self.wait_ready()
    }

    /// Freezes the JVM with `SIGSTOP`: its sockets stay open but nothing answers, like a
    /// machine stuck in a long GC pause or a VM migration. Returns once the kernel reports the
    /// process stopped.
    ///
    /// # Notable errors
    /// * [`TestkitError::NotRunning`] when the server is not running.
    pub fn pause(&self) -> Result<(), TestkitError> {
        if self.process.pause() {
            Ok(())
        } else {
            Err(TestkitError::NotRunning { port: self.port })
        }
    }

    /// Lets a paused JVM continue (`SIGCONT`). It answers again at once; sessions whose
    /// timeout passed meanwhile are expired by the server shortly after.
    ///
    /// # Notable errors
    /// * [`TestkitError::NotRunning`] when the server is not running.
    pub fn resume(&self) -> Result<(), TestkitError> {
        if self.process.resume() {
            Ok(())
        } else {
            Err(TestkitError::NotRunning { port: self.port })
        }
    }

    /// Waits until the server serves (`imok` and mode standalone, or leader/follower for an
    /// ensemble member), for
    /// at most the start timeout. Useful after [`Self::resume`] or after healing a partition.
    ///
    /// # Notable errors
    /// * [`TestkitError::Exited`], [`TestkitError::NotRunning`], [`TestkitError::NotReady`].
    pub fn wait_ready(&self) -> Result<(), TestkitError> {
        let deadline = Instant::now() + self.start_timeout;
        loop {
            let seen = match self.probe(Readiness::Serving)? {
                Probe::Ready => return Ok(()),
                Probe::NotYet(seen) => seen,
            };
            if Instant::now() >= deadline {
                return Err(self.not_ready(seen));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Sends a four-letter word (`ruok`, `srvr`, `mntr`, `stat`, `cons`, ...) and returns the
    /// answer; waits at most 2 s.
    ///
    /// # Notable errors
    /// * [`TestkitError::FourLetterWord`]: refused (stopped server) or timed out (paused
    ///   server), see [`TestkitError::is_timeout`].
    pub fn four_letter(&self, word: &str) -> Result<String, TestkitError> {
        self.four_letter_with_timeout(word, FOUR_LETTER_TIMEOUT)
    }

    /// [`Self::four_letter`] with an explicit timeout.
    pub fn four_letter_with_timeout(&self, word: &str, timeout: Duration) -> Result<String, TestkitError> {
        four_letter_word(self.addr(), word, timeout)
    }

    /// The server's mode from `srvr`: standalone, leader, follower, or not serving.
    ///
    /// # Notable errors
    /// * [`TestkitError::FourLetterWord`] as for [`Self::four_letter`].
    /// * [`TestkitError::UnexpectedReply`] when the answer has no known mode.
    pub fn mode(&self) -> Result<ServerMode, TestkitError> {
        self.srvr(FOUR_LETTER_TIMEOUT).map(|(mode, _)| mode)
    }

    /// The server's version from `srvr`, e.g. `3.8.0-5a02a05e...` (best effort: a member that
    /// does not serve does not say).
    ///
    /// # Notable errors
    /// * As [`Self::mode`]; [`TestkitError::UnexpectedReply`] when no version is reported.
    pub fn version(&self) -> Result<String, TestkitError> {
        let (_, version) = self.srvr(FOUR_LETTER_TIMEOUT)?;
        version.ok_or_else(|| TestkitError::UnexpectedReply {
            word: "srvr".to_owned(),
            addr: self.addr(),
            reply: "no `Zookeeper version:` line".to_owned(),
        })
    }

    fn srvr(&self, timeout: Duration) -> Result<(ServerMode, Option<String>), TestkitError> {
        let answer = self.four_letter_with_timeout("srvr", timeout)?;
        parse_srvr(&answer).map(|status| (status.mode, status.version)).ok_or_else(|| TestkitError::UnexpectedReply {
            word: "srvr".to_owned(),
            addr: self.addr(),
            reply: answer,
        })
    }

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
