//! One ZooKeeper server as a child JVM: standalone, or one member of a [`ZkEnsemble`].
//!
//! [`ZkEnsemble`]: super::ZkEnsemble

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::{Duration, Instant};

mod startup;

use super::four_letter::{four_letter_word, parse_srvr};
use super::options::{option_setters, Membership, Options};
use super::process::ChildProcess;
use super::{ServerMode, TestkitError, TlsMaterial};
pub(crate) use startup::{Launch, Probe, Readiness, ServerPorts};

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
}
