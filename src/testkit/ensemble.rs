//! A ZooKeeper ensemble on loopback: several [`ZkServer`]s that form one quorum.

use std::time::{Duration, Instant};

use super::options::{option_setters, Membership, Options};
use super::server::{Launch, Probe, Readiness, ServerPorts, PORT_ATTEMPTS};
use super::{ports, ServerMode, TestkitError, TlsMaterial, ZkServer};

/// How often readiness is probed.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// How long a probe of the current leader may wait per member.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// A ZooKeeper ensemble (3 members by default) on 127.0.0.1 for quorum tests: the Rust
/// counterpart of Curator's `TestingCluster`.
///
/// Every member is a [`ZkServer`] with its own client, quorum and election port, data dir and
/// log, so each can be stopped, killed, paused or restarted on its own through
/// [`Self::member`] or the index-taking methods here. Methods taking an index panic when it is
/// out of range, like slice indexing: that is a bug in the test, not a runtime condition.
///
/// Dropping the ensemble kills every member.
#[derive(Debug)]
pub struct ZkEnsemble {
    members: Vec<ZkServer>,
    start_timeout: Duration,
}

/// Configures a [`ZkEnsemble`] before starting it; from [`ZkEnsemble::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct ZkEnsembleBuilder {
    options: Options,
    size: usize,
}

impl Default for ZkEnsembleBuilder {
    fn default() -> Self {
        ZkEnsembleBuilder { options: Options::default(), size: 3 }
    }
}

impl ZkEnsembleBuilder {
    option_setters!();

    /// The number of members (default 3; at least 1).
    pub fn members(mut self, count: usize) -> Self {
        self.size = count.max(1);
        self
    }

    /// Starts every member and waits until all of them serve (one leader, the rest followers).
    ///
    /// # Notable errors
    /// * [`TestkitError::ZooKeeperNotFound`], [`TestkitError::JavaNotFound`]: see [`super::locate`].
    /// * [`TestkitError::Exited`]: a member's JVM died during start (its log tail is included).
    /// * [`TestkitError::NotReady`]: not all members serve within the start timeout.
    pub fn start(self) -> Result<ZkEnsemble, TestkitError> {
        let launch = Launch::prepare(&self.options)?;
        let n = self.size;
        let mut attempt = 1;
        loop {
            // Client (and TLS), quorum and election port of every member, all distinct. The
            // quorum talks plain TCP, also when clients use TLS.
            let client = ServerPorts::take(n, launch.tls.is_some())?;
            let peer = ports::free_ports(2 * n)?;
            let (quorum, election) = peer.split_at(n);
            let server_lines: Vec<String> =
                (0..n).map(|i| format!("server.{}=127.0.0.1:{}:{}", i + 1, quorum[i], election[i])).collect();
            let members = (0..n)
                .map(|i| {
                    let member = Membership { id: member_id(i), server_lines: server_lines.clone() };
                    ZkServer::create(&self.options, &launch, client[i], Some(member))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let ensemble = ZkEnsemble { members, start_timeout: self.options.start_timeout };
            let started = ensemble
                .members
                .iter()
                .try_for_each(ZkServer::spawn)
                .and_then(|()| ensemble.wait_until_running_members(Readiness::Serving));
            match started {
                // Dropping `ensemble` kills the members that did start.
                Err(e) if e.is_port_in_use() && attempt < PORT_ATTEMPTS => attempt += 1,
                result => return result.map(|()| ensemble),
            }
        }
    }
}

/// ZooKeeper's `myid` of the member at `index`.
fn member_id(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

impl ZkEnsemble {
    /// Starts a 3-member ensemble with default settings (see [`ZkEnsembleBuilder`]) and waits
    /// until every member serves.
    ///
    /// # Notable errors
    /// As [`ZkEnsembleBuilder::start`].
    pub fn start() -> Result<ZkEnsemble, TestkitError> {
        Self::builder().start()
    }

    /// Returns a builder to change the member count and the server settings.
    pub fn builder() -> ZkEnsembleBuilder {
        ZkEnsembleBuilder::default()
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always `false`: an ensemble has at least one member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// How many running members a quorum needs: a strict majority of all members.
    pub fn quorum_size(&self) -> usize {
        self.members.len() / 2 + 1
    }

    /// All members, in index order (member `i` has `myid` `i + 1`).
    pub fn members(&self) -> &[ZkServer] {
        &self.members
    }

    /// Member `index` (0-based), for everything a single [`ZkServer`] can do.
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn member(&self, index: usize) -> &ZkServer {
        self.members
            .get(index)
            .unwrap_or_else(|| panic!("member index {index} out of range: the ensemble has {} members", self.len()))
    }

    /// The connect string listing every member, `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`.
    pub fn connect_string(&self) -> String {
        self.members.iter().map(ZkServer::connect_string).collect::<Vec<_>>().join(",")
    }

    /// The TLS connect string listing every member, `127.0.0.1:s1,127.0.0.1:s2,...`, when the
    /// ensemble serves TLS (see [`ZkEnsembleBuilder::tls`]). [`Self::connect_string`] stays the
    /// plain one.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), zk_election::testkit::TestkitError> {
    /// use zk_election::testkit::ZkEnsemble;
    /// let ensemble = ZkEnsemble::builder().tls().sasl_user("app", "secret").enforce_sasl().start()?;
    /// let connect_string = ensemble.secure_connect_string().expect("started with TLS");
    /// let ca_pem = ensemble.tls().expect("started with TLS").ca_pem();
    /// # let _ = (connect_string, ca_pem); Ok(()) }
    /// ```
    pub fn secure_connect_string(&self) -> Option<String> {
        self.members.iter().map(ZkServer::secure_connect_string).collect::<Option<Vec<_>>>().map(|all| all.join(","))
    }

    /// The TLS connect string of member `index` alone, when the ensemble serves TLS.
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn member_secure_connect_string(&self, index: usize) -> Option<String> {
        self.member(index).secure_connect_string()
    }

    /// The CA and certificates every member serves (one CA, one server certificate for all),
    /// when the ensemble serves TLS.
    pub fn tls(&self) -> Option<&TlsMaterial> {
        self.members.first().and_then(ZkServer::tls)
    }

    /// The connect string of member `index` alone, to pin a client to one member.
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn member_connect_string(&self, index: usize) -> String {
        self.member(index).connect_string()
    }

    /// Stops member `index` gracefully, see [`ZkServer::stop`].
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn stop(&self, index: usize) -> Result<(), TestkitError> {
        self.member(index).stop()
    }

    /// Kills member `index` with `SIGKILL`, see [`ZkServer::kill`].
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn kill(&self, index: usize) -> Result<(), TestkitError> {
        self.member(index).kill()
    }

    /// Freezes member `index` with `SIGSTOP`, see [`ZkServer::pause`].
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn pause(&self, index: usize) -> Result<(), TestkitError> {
        self.member(index).pause()
    }

    /// Lets a paused member `index` continue, see [`ZkServer::resume`].
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn resume(&self, index: usize) -> Result<(), TestkitError> {
        self.member(index).resume()
    }

    /// Stops member `index` if it runs, starts it again on the same ports with the same data,
    /// and waits:
    /// * if the running (unpaused) members, this one included, make a quorum: until all of
    ///   them serve, so the restarted member has rejoined;
    /// * otherwise (quorum lost, e.g. the first of two members brought back after both were
    ///   killed): only until the restarted member's JVM answers four-letter words; it cannot
    ///   serve before enough members are back.
    ///
    /// # Panics
    /// When `index >= self.len()`.
    ///
    /// # Notable errors
    /// As [`ZkServer::restart`].
    pub fn restart(&self, index: usize) -> Result<(), TestkitError> {
        let member = self.member(index);
        member.stop()?;
        member.spawn()?;
        let awake = self.members.iter().filter(|m| m.is_running() && !m.is_paused()).count();
        if awake >= self.quorum_size() {
            self.wait_until_running_members(Readiness::Serving)
        } else {
            self.wait_until(|| {
                Ok(match member.probe(Readiness::Answering)? {
                    Probe::Ready => None,
                    Probe::NotYet(seen) => Some((index, seen)),
                })
            })
        }
    }

    /// Waits until every running, unpaused member serves (is leader or follower). Useful after
    /// resuming a member or healing a partition.
    ///
    /// # Notable errors
    /// * [`TestkitError::NotReady`] after the start timeout (it names a member that was not
    ///   ready, with its log tail); [`TestkitError::Exited`] when a member died meanwhile.
    pub fn wait_serving(&self) -> Result<(), TestkitError> {
        self.wait_until_running_members(Readiness::Serving)
    }

    /// The index of the member that currently says it is the leader, asking each running,
    /// unpaused member with `srvr`. `None` while there is no leader (election in progress,
    /// quorum lost).
    pub fn leader_index(&self) -> Option<usize> {
        self.members.iter().position(|m| {
            m.is_running()
                && !m.is_paused()
                && m.four_letter_with_timeout("srvr", PROBE_TIMEOUT)
                    .ok()
                    .and_then(|answer| super::four_letter::parse_srvr(&answer))
                    .is_some_and(|status| status.mode == ServerMode::Leader)
        })
    }

    /// Waits until a running member is leader and every running, unpaused member serves, and
    /// returns the leader's index. After killing the leader this returns the successor, never
    /// the killed member.
    ///
    /// # Notable errors
    /// As [`Self::wait_serving`].
    pub fn wait_for_leader(&self) -> Result<usize, TestkitError> {
        let mut leader = None;
        self.wait_until(|| {
            if let Some(pending) = self.first_not_ready(Readiness::Serving)? {
                return Ok(Some(pending));
            }
            leader = self.leader_index();
            Ok(leader.is_none().then(|| (0, "no member says it is the leader".to_owned())))
        })?;
        leader.ok_or_else(|| self.member(0).not_ready("no leader".to_owned()))
    }

    fn wait_until_running_members(&self, readiness: Readiness) -> Result<(), TestkitError> {
        self.wait_until(|| self.first_not_ready(readiness))
    }

    /// The first running, unpaused member that is not ready, and what it said.
    fn first_not_ready(&self, readiness: Readiness) -> Result<Option<(usize, String)>, TestkitError> {
        for (index, member) in self.members.iter().enumerate() {
            // A stopped member is fine; one that died on its own is reported by `probe`.
            if member.is_paused() {
                continue;
            }
            match member.probe(readiness) {
                Ok(Probe::Ready) | Err(TestkitError::NotRunning { .. }) => {}
                Ok(Probe::NotYet(seen)) => return Ok(Some((index, seen))),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Polls `pending` until it returns `None` (done) or the start timeout passes; `pending`
    /// names the member still waited for and what it said.
    fn wait_until(
        &self,
        mut pending: impl FnMut() -> Result<Option<(usize, String)>, TestkitError>,
    ) -> Result<(), TestkitError> {
        let deadline = Instant::now() + self.start_timeout;
        loop {
            let Some((index, seen)) = pending()? else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                return Err(self.member(index).not_ready(format!("member {index}: {seen}")));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}
