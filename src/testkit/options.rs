//! The knobs shared by [`ZkServerBuilder`](super::ZkServerBuilder) and
//! [`ZkEnsembleBuilder`](super::ZkEnsembleBuilder), and the `zoo.cfg` and JVM command line they
//! turn into.

use std::path::Path;
use std::time::Duration;

use super::sasl::SaslSetup;
use super::tls::{TlsMaterial, TlsSetup};

/// Settings of one server, identical for every member of an ensemble.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) tick_time: Duration,
    /// `None` means two ticks, ZooKeeper's own minimum, following `tick_time`.
    pub(crate) min_session_timeout: Option<Duration>,
    pub(crate) max_session_timeout: Duration,
    pub(crate) force_sync: bool,
    /// Written after the testkit's own lines, so they override them.
    pub(crate) cfg_lines: Vec<String>,
    /// Added after the testkit's JVM flags, so they override them.
    pub(crate) jvm_args: Vec<String>,
    /// How long a start or restart may take before [`TestkitError::NotReady`](super::TestkitError).
    pub(crate) start_timeout: Duration,
    /// `Some` to serve clients over TLS too (on a second port).
    pub(crate) tls: Option<TlsSetup>,
    /// SASL users and whether to require SASL.
    pub(crate) sasl: SaslSetup,
    /// `Some` to run the ZooKeeper release unpacked there instead of the one found.
    pub(crate) zookeeper_home: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            tick_time: Duration::from_millis(200),
            min_session_timeout: None,
            max_session_timeout: Duration::from_secs(60),
            force_sync: false,
            cfg_lines: Vec::new(),
            jvm_args: Vec::new(),
            start_timeout: Duration::from_secs(30),
            tls: None,
            sasl: SaslSetup::default(),
            zookeeper_home: None,
        }
    }
}

/// Where an ensemble member sits: its `myid` and the `server.N` lines of the whole ensemble.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    pub(crate) id: u32,
    pub(crate) server_lines: Vec<String>,
}

/// Flags for a small, fast-starting server JVM.
const JVM_FLAGS: &[&str] = &[
    "-Xmx256m",
    "-XX:+UseSerialGC",
    // C1 only: the server is short-lived, and C2 compile threads compete for test CPUs.
    "-XX:TieredStopAtLevel=1",
    // No /tmp/hsperfdata_* files left behind by killed JVMs.
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
    "-Dzookeeper.admin.enableServer=false",
    // A member killed right after joining can be left with transaction logs but no snapshot;
    // 3.5+ then refuses to start ("No snapshot found, but there are log entries"). Test data
    // dirs are throwaway, so trust them instead of failing the restart.
    "-Dzookeeper.snapshot.trust.empty=true",
    // Only read by slf4j-simple (see `locate`): timestamps make the log useful.
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
    // Marks the process as ours: `pgrep -f zk_election.testkit` finds leftovers.
    "-Dzk_election.testkit=1",
];

impl Options {
    pub(crate) fn min_session_timeout(&self) -> Duration {
        self.min_session_timeout.unwrap_or(self.tick_time * 2)
    }

    /// The JVM arguments before the main class; `jaas` is where the server's JAAS file is
    /// (used when SASL is on).
    pub(crate) fn jvm_args(&self, classpath: &str, jaas: &Path) -> Vec<String> {
        let mut args: Vec<String> = JVM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
        if self.sasl.is_enabled() {
            args.extend(self.sasl.jvm_args(jaas));
        }
        args.extend(self.jvm_args.iter().cloned());
        args.push("-cp".to_owned());
        args.push(classpath.to_owned());
        args
    }

    /// The text of `zoo.cfg` for a server with this client port and data dir, and `tls` with
    /// its secure client port when it serves TLS.
    pub(crate) fn zoo_cfg(
        &self,
        data_dir: &Path,
        client_port: u16,
        member: Option<&Membership>,
        tls: Option<(&TlsMaterial, u16)>,
    ) -> String {
        let tick = self.tick_time.as_millis().max(1);
        let mut lines = vec![
            format!("tickTime={tick}"),
            format!("dataDir={}", data_dir.display()),
            format!("clientPort={client_port}"),
            "clientPortAddress=127.0.0.1".to_owned(),
            format!("minSessionTimeout={}", self.min_session_timeout().as_millis()),
            format!("maxSessionTimeout={}", self.max_session_timeout.as_millis()),
            "admin.enableServer=false".to_owned(),
            "4lw.commands.whitelist=*".to_owned(),
            "maxClientCnxns=0".to_owned(),
            format!("forceSync={}", if self.force_sync { "yes" } else { "no" }),
        ];
        if let Some((material, secure_port)) = tls {
            lines.extend(material.cfg_lines(secure_port));
        }
        if let Some(member) = member {
            // Limits in ticks: followers get 10 s to connect and sync at start, and a member
            // that stops answering is given up after 2 s (a paused leader is replaced quickly).
            let ticks = |d: Duration| d.as_millis().div_ceil(tick);
            lines.push(format!("initLimit={}", ticks(Duration::from_secs(10)).max(5)));
            lines.push(format!("syncLimit={}", ticks(Duration::from_secs(2)).max(2)));
            lines.extend(member.server_lines.iter().cloned());
        }
        lines.extend(self.cfg_lines.iter().cloned());
        let mut cfg = lines.join("\n");
        cfg.push('\n');
        cfg
    }
}

/// The setters both builders share, so their knobs have one spelling and one doc text.
/// Expands inside an `impl` of a type with an `options: Options` field.
macro_rules! option_setters {
    () => {
        /// ZooKeeper's `tickTime`, the unit of its timeouts (default 200 ms, ZooKeeper's own
        /// default is 2 s). Shorter ticks make session expiry and elections faster.
        pub fn tick_time(mut self, tick: std::time::Duration) -> Self {
            self.options.tick_time = tick;
            self
        }

        /// `minSessionTimeout` (default two ticks, 400 ms at the default tick): the shortest
        /// session timeout the server grants a client.
        pub fn min_session_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.min_session_timeout = Some(timeout);
            self
        }

        /// `maxSessionTimeout` (default 60 s): the longest session timeout the server grants.
        pub fn max_session_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.max_session_timeout = timeout;
            self
        }

        /// `forceSync` (default `false`): whether the server fsyncs its transaction log. Off
        /// makes writes fast; turn it on only to test durability across power loss.
        pub fn force_sync(mut self, force_sync: bool) -> Self {
            self.options.force_sync = force_sync;
            self
        }

        /// Adds a raw `zoo.cfg` line such as `"globalOutstandingLimit=100"`. Extra lines are
        /// written last, so they override the testkit's own settings.
        pub fn cfg_line(mut self, line: impl Into<String>) -> Self {
            self.options.cfg_lines.push(line.into());
            self
        }

        /// Lets a server that lost its quorum go on serving reads (`readonlymode.enabled`), to
        /// clients that accept read-only sessions
        /// ([`SessionConfigBuilder::read_only`](crate::config::SessionConfigBuilder::read_only)),
        /// with local sessions on (`localSessionsEnabled`), which read-only sessions are:
        /// they become global ones when the quorum is back (and others as soon as they create
        /// an ephemeral node: `localSessionsUpgradingEnabled`).
        pub fn read_only_mode(self) -> Self {
            self.jvm_arg("-Dreadonlymode.enabled=true")
                .cfg_line("localSessionsEnabled=true")
                .cfg_line("localSessionsUpgradingEnabled=true")
        }

        /// Runs the ZooKeeper release unpacked at `home` (`lib/*.jar` and `*.jar`, as in
        /// `ZOOKEEPER_HOME`) instead of the one the testkit finds: an older server, to test
        /// against what it lacks. `scripts/install-test-deps.sh` unpacks ZooKeeper 3.4 (no
        /// persistent watches, no containers) at `/opt/zk-election/zookeeper-3.4`.
        pub fn zookeeper_home(mut self, home: impl Into<std::path::PathBuf>) -> Self {
            self.options.zookeeper_home = Some(home.into());
            self
        }

        /// Adds a JVM argument such as `"-Dzookeeper.maxCnxns=10"`, after the testkit's flags.
        pub fn jvm_arg(mut self, arg: impl Into<String>) -> Self {
            self.options.jvm_args.push(arg.into());
            self
        }

        /// Serves clients over TLS as well, on a second port ([`secure_connect_string`]), with
        /// certificates from a fresh throw-away CA (see [`TlsMaterial`]) and mutual TLS
        /// ([`ClientAuth::Need`]) unless [`Self::tls_client_auth`] says otherwise.
        ///
        /// The plain client port stays open: the testkit checks readiness with four-letter
        /// words on it, and [`connect_string`] still names it. TLS needs ZooKeeper's Netty
        /// connection factory, which then serves both ports.
        ///
        /// [`secure_connect_string`]: crate::testkit::ZkServer::secure_connect_string
        /// [`connect_string`]: crate::testkit::ZkServer::connect_string
        /// [`TlsMaterial`]: crate::testkit::TlsMaterial
        /// [`ClientAuth::Need`]: crate::testkit::ClientAuth::Need
        pub fn tls(mut self) -> Self {
            self.options.tls.get_or_insert_with(Default::default);
            self
        }

        /// Issues the server and client certificates from `ca` instead of a fresh CA, e.g. to
        /// share one CA between servers or to keep issuing identities from it. Turns TLS on.
        pub fn tls_ca(mut self, ca: impl Into<std::sync::Arc<crate::testkit::TestCa>>) -> Self {
            self.options.tls.get_or_insert_with(Default::default).ca = Some(ca.into());
            self
        }

        /// ZooKeeper's `ssl.clientAuth` (default [`ClientAuth::Need`]: mutual TLS). Turns TLS
        /// on.
        ///
        /// [`ClientAuth::Need`]: crate::testkit::ClientAuth::Need
        pub fn tls_client_auth(mut self, client_auth: crate::testkit::ClientAuth) -> Self {
            self.options.tls.get_or_insert_with(Default::default).client_auth = client_auth;
            self
        }

        /// Serves a server certificate that expired yesterday, so a test can check that its
        /// client refuses it. Turns TLS on.
        pub fn tls_expired_server_cert(mut self) -> Self {
            self.options.tls.get_or_insert_with(Default::default).expired_server_cert = true;
            self
        }

        /// Adds a SASL DIGEST-MD5 user (a `user_<name>="<password>"` line in the server's JAAS
        /// `Server` section). Clients may then authenticate as it; add [`Self::enforce_sasl`]
        /// to refuse those that do not. User names are ASCII letters, digits, `_` and `-`
        /// (others fail the start with
        /// [`TestkitError::InvalidOption`](crate::testkit::TestkitError::InvalidOption)).
        pub fn sasl_user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
            self.options.sasl.users.push((user.into(), password.into()));
            self
        }

        /// Requires SASL: `zookeeper.enforce.auth.enabled=true` with
        /// `zookeeper.enforce.auth.schemes=sasl` (ZooKeeper 3.7+).
        ///
        /// A client that has not authenticated with SASL still gets a session, but its first
        /// request is answered with `SESSIONCLOSEDREQUIRESASLAUTH` (-124) and the server closes
        /// the session; zookeeper-client reports that as `Error::AuthFailed`. A wrong password
        /// fails the SASL exchange itself (`AuthFailed` while connecting).
        pub fn enforce_sasl(mut self) -> Self {
            self.options.sasl.enforce = true;
            self
        }

        /// How long a start or restart may take before it fails with
        /// [`TestkitError::NotReady`](crate::testkit::TestkitError::NotReady) (default 30 s).
        pub fn start_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.start_timeout = timeout;
            self
        }
    };
}
pub(crate) use option_setters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_cfg_has_the_required_settings() {
        let cfg = Options::default().zoo_cfg(Path::new("/tmp/d"), 2181, None, None);
        for line in [
            "tickTime=200",
            "dataDir=/tmp/d",
            "clientPort=2181",
            "clientPortAddress=127.0.0.1",
            "minSessionTimeout=400",
            "maxSessionTimeout=60000",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "maxClientCnxns=0",
            "forceSync=no",
        ] {
            assert!(cfg.lines().any(|l| l == line), "missing {line} in\n{cfg}");
        }
        assert!(!cfg.contains("server."), "{cfg}");
    }

    #[test]
    fn member_cfg_has_limits_in_ticks_and_extra_lines_last() {
        let options = Options { cfg_lines: vec!["syncLimit=3".to_owned()], ..Options::default() };
        let member = Membership { id: 1, server_lines: vec!["server.1=127.0.0.1:1:2".to_owned()] };
        let cfg = options.zoo_cfg(Path::new("/d"), 1, Some(&member), None);
        let lines: Vec<&str> = cfg.lines().collect();
        assert!(lines.contains(&"initLimit=50"), "{cfg}");
        assert!(lines.contains(&"syncLimit=10"), "{cfg}");
        assert!(lines.contains(&"server.1=127.0.0.1:1:2"), "{cfg}");
        assert_eq!(lines.last(), Some(&"syncLimit=3"));
    }
}
