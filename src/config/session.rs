//! The ZooKeeper session's configuration: servers, timeouts, credentials, backoff.

use std::time::Duration;

use super::{validate_session_timeout, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SESSION_TIMEOUT};
use crate::error::ConfigError;
use crate::path;
use crate::zk::NodeAcl;

/// Credentials added to every connection of the session (ZooKeeper `digest` scheme).
#[derive(Clone, PartialEq, Eq)]
pub struct DigestAuth {
    user: String,
    password: String,
}

impl DigestAuth {
    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// `user:password`, the auth payload of the `digest` scheme.
    pub(crate) fn payload(&self) -> Vec<u8> {
        format!("{}:{}", self.user, self.password).into_bytes()
    }
}

impl std::fmt::Debug for DigestAuth {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestAuth").field("user", &self.user).finish_non_exhaustive()
    }
}

/// Capped exponential backoff between attempts to (re)build a ZooKeeper client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the second attempt.
    pub initial: Duration,
    /// Largest delay between attempts.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(5) }
    }
}

/// Everything the session actor needs to connect: validated, so a `SessionConfig` always holds
/// a usable connect string and positive timeouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    connect_string: String,
    session_timeout: Duration,
    request_timeout: Duration,
    auth: Option<DigestAuth>,
    backoff: Backoff,
    read_only: bool,
    #[cfg(feature = "tls")]
    tls: Option<crate::secure::TlsConfig>,
    #[cfg(feature = "sasl")]
    sasl: Option<crate::secure::SaslDigest>,
}

impl SessionConfig {
    /// Starts a builder for a session to the servers in `connect_string`
    /// (`host:port[,host:port…][/chroot]`, as in the Java client).
    pub fn builder(connect_string: impl Into<String>) -> SessionConfigBuilder {
        SessionConfigBuilder {
            // Holds the connect string as given until `build` validates it.
            config: SessionConfig {
                connect_string: connect_string.into(),
                session_timeout: DEFAULT_SESSION_TIMEOUT,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                auth: None,
                backoff: Backoff::default(),
                read_only: false,
                #[cfg(feature = "tls")]
                tls: None,
                #[cfg(feature = "sasl")]
                sasl: None,
            },
            chroot: None,
        }
    }

    /// The validated connect string, chroot included.
    pub fn connect_string(&self) -> &str {
        &self.connect_string
    }

    /// The session timeout asked of the server.
    pub fn session_timeout(&self) -> Duration {
        self.session_timeout
    }

    /// The deadline of every request.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Digest credentials, if any.
    pub fn auth(&self) -> Option<&DigestAuth> {
        self.auth.as_ref()
    }

    /// The reconnect backoff.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// Whether a read-only session is accepted ([`SessionConfigBuilder::read_only`]).
    pub fn allows_read_only(&self) -> bool {
        self.read_only
    }

    /// TLS settings, if the servers are reached over TLS.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&crate::secure::TlsConfig> {
        self.tls.as_ref()
    }

    /// SASL DIGEST-MD5 credentials, if any.
    #[cfg(feature = "sasl")]
    pub fn sasl(&self) -> Option<&crate::secure::SaslDigest> {
        self.sasl.as_ref()
    }

    /// `host:port` of every server (chroot removed, ZooKeeper's default port where
    /// none is given).
    #[cfg(feature = "tls")]
    pub(crate) fn server_addresses(&self) -> Vec<String> {
        let servers = self.connect_string.split('/').next().unwrap_or_default();
        server_entries(servers).map(|server| format!("{}:{}", server.host, server.port.unwrap_or("2181"))).collect()
    }

    /// The ACL of nodes an election creates unless its configuration sets one: with SASL alone,
    /// all rights to `sasl:<user>` and nobody else (not even a session presenting the same TLS
    /// client certificate, which creator-only would admit); with digest auth, creator-only;
    /// open without credentials.
    pub fn default_acl(&self) -> NodeAcl {
        #[cfg(feature = "sasl")]
        if let (Some(sasl), None) = (&self.sasl, &self.auth) {
            let user = crate::zk::AuthId::new("sasl", sasl.user());
            return NodeAcl::Custom(vec![crate::zk::Acl::new(crate::zk::Permission::ALL, user)]);
        }
        if self.authenticates() {
            NodeAcl::CreatorAll
        } else {
            NodeAcl::Open
        }
    }

    /// Whether the session authenticates (digest or SASL): nodes the election creates are then
    /// restricted unless an ACL is set explicitly (see [`SessionConfig::default_acl`]).
    pub fn authenticates(&self) -> bool {
        #[cfg(feature = "sasl")]
        if self.sasl.is_some() {
            return true;
        }
        self.auth.is_some()
    }
}

/// Builder of [`SessionConfig`]; [`SessionConfigBuilder::build`] validates.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct SessionConfigBuilder {
    config: SessionConfig,
    chroot: Option<String>,
}

impl SessionConfigBuilder {
    /// Session timeout to ask of the server (default 6 s): whole milliseconds from
    /// [`MIN_SESSION_TIMEOUT`](super::MIN_SESSION_TIMEOUT) (1 s) to [`MAX_SESSION_TIMEOUT`](super::MAX_SESSION_TIMEOUT) (`i32::MAX` ms), checked by
    /// [`SessionConfigBuilder::build`]. ZooKeeper clamps it to its
    /// `minSessionTimeout..=maxSessionTimeout`; the negotiated value is what counts.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.config.session_timeout = timeout;
        self
    }

    /// Deadline of every request (default 10 s). Requests made while disconnected otherwise wait
    /// until reconnect or expiry.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// Chroot appended to the connect string (must be absolute). Same as writing it after the
    /// last server in the connect string.
    pub fn chroot(mut self, chroot: impl Into<String>) -> Self {
        self.chroot = Some(chroot.into());
        self
    }

    /// Authenticate every connection with ZooKeeper's `digest` scheme.
    pub fn digest_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.config.auth = Some(DigestAuth { user: user.into(), password: password.into() });
        self
    }

    /// Reach every server over TLS (feature `tls`): see [`TlsConfig`](crate::secure::TlsConfig).
    /// [`SessionConfigBuilder::build`] reads and checks the certificate files.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::secure::TlsConfig) -> Self {
        self.config.tls = Some(tls);
        self
    }

    /// Authenticate every connection with SASL DIGEST-MD5 (feature `sasl`).
    #[cfg(feature = "sasl")]
    pub fn sasl_digest(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.config.sasl = Some(crate::secure::SaslDigest::new(user.into(), password.into()));
        self
    }

    /// Accept a read-only session (default no): a server that lost its quorum and runs with
    /// `readonlymode.enabled` still serves reads, of the data as it last knew it. For
    /// observers: a [`LeaderRetriever`](crate::LeaderRetriever) on such a session goes on
    /// reading through a quorum loss and marks what it reads
    /// [`Freshness::ReadOnly`](crate::Freshness::ReadOnly). A read-only connection gives the
    /// session no lease (the server that serves it is not the quorum that keeps sessions): an
    /// election on such a session never leads through it, and its writes are refused.
    ///
    /// ZooKeeper keeps a read-only session to its server: once the quorum is back, that session
    /// is lost and a new one is established ([`ConnectionState::Lost`], then
    /// `Reconnected { same_session: false }`).
    ///
    /// [`ConnectionState::Lost`]: crate::ConnectionState::Lost
    pub fn read_only(mut self, allowed: bool) -> Self {
        self.config.read_only = allowed;
        self
    }

    /// Backoff between attempts to build a new client after session loss or failed connects.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// Validates and builds the configuration.
    ///
    /// # Errors
    /// [`ConfigError`] for an empty connect string, an entry without host, a non-numeric or
    /// out-of-range port, an invalid chroot or two different ones, a session timeout outside
    /// [`validate_session_timeout`]'s range, a zero request timeout, a zero initial backoff or a
    /// largest backoff below it, an invalid digest user, an empty SASL user, or TLS files that
    /// cannot be read or hold no usable certificate or key ([`ConfigError::TlsMaterial`]).
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        let SessionConfigBuilder { mut config, chroot } = self;
        // `tcp://` before an entry, as other clients write it, would read as a chroot.
        let given = without_schemes(&std::mem::take(&mut config.connect_string))?;
        let (servers, inline_chroot) = match given.find('/') {
            Some(i) => (&given[..i], Some(&given[i..])),
            None => (given.as_str(), None),
        };
        validate_servers(servers)?;
        let chroot = match (inline_chroot, chroot.as_deref()) {
            (Some(inline), Some(explicit)) if inline != explicit => {
                // Two different chroots: neither may win silently.
                return Err(ConfigError::ConflictingChroots {
                    in_connect_string: inline.to_owned(),
                    explicit: explicit.to_owned(),
                });
            }
            (Some(c), _) | (None, Some(c)) => Some(c),
            (None, None) => None,
        };
        if let Some(chroot) = chroot {
            path::validate("chroot", chroot)?;
        }
        validate_session_timeout(config.session_timeout)?;
        if config.request_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout { what: "request timeout" });
        }
        let Backoff { initial, max } = config.backoff;
        if initial.is_zero() {
            return Err(ConfigError::ZeroTimeout { what: "initial backoff" });
        }
        if max < initial {
            return Err(ConfigError::BackoffMaxBelowInitial { initial, max });
        }
        if let Some(auth) = &config.auth {
            if auth.user.is_empty() || auth.user.contains(':') {
                return Err(ConfigError::InvalidDigestUser);
            }
        }
        #[cfg(feature = "sasl")]
        if config.sasl.as_ref().is_some_and(|sasl| sasl.user().is_empty()) {
            return Err(ConfigError::EmptySaslUser);
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &config.tls {
            tls.validate()?;
        }
        config.connect_string = format!("{servers}{}", chroot.unwrap_or(""));
        Ok(config)
    }
}

/// The connect string with the `tcp://` before any entry removed; another scheme is refused.
fn without_schemes(connect_string: &str) -> Result<String, ConfigError> {
    let (servers, chroot) = match connect_string.rfind("://") {
        // The chroot starts at the first `/` after the last scheme.
        Some(i) => match connect_string[i + 3..].find('/') {
            Some(j) => connect_string.split_at(i + 3 + j),
            None => (connect_string, ""),
        },
        None => return Ok(connect_string.to_owned()),
    };
    let mut entries = Vec::new();
    for entry in servers.split(',') {
        let trimmed = entry.trim();
        entries.push(match trimmed.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("tcp") => rest,
            Some((scheme, _)) => {
                let scheme = format!("{scheme}://");
                return Err(ConfigError::UnsupportedScheme { entry: trimmed.to_owned(), scheme });
            }
            None => trimmed,
        });
    }
    Ok(format!("{}{chroot}", entries.join(",")))
}

/// One server of a connect string, as written.
struct ServerEntry<'a> {
    entry: &'a str,
    host: &'a str,
    port: Option<&'a str>,
}

/// The servers of the part of a connect string before its chroot.
fn server_entries(servers: &str) -> impl Iterator<Item = ServerEntry<'_>> {
    servers.trim().split(',').map(|entry| {
        let entry = entry.trim();
        let (host, port) = match entry.rsplit_once(':') {
            // IPv6 literal without port: `[::1]`.
            Some((host, port)) if !port.ends_with(']') => (host, Some(port)),
            _ => (entry, None),
        };
        ServerEntry { entry, host, port }
    })
}

fn validate_servers(servers: &str) -> Result<(), ConfigError> {
    if servers.trim().is_empty() {
        return Err(ConfigError::EmptyConnectString);
    }
    for ServerEntry { entry, host, port } in server_entries(servers) {
        if host.is_empty() {
            return Err(ConfigError::EmptyHost { entry: entry.to_owned() });
        }
        if let Some(port) = port {
            if !matches!(port.parse::<u16>(), Ok(p) if p > 0) {
                return Err(ConfigError::InvalidPort { entry: entry.to_owned(), port: port.to_owned() });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PathProblem;

    fn build(cs: &str) -> Result<SessionConfig, ConfigError> {
        SessionConfig::builder(cs).build()
    }

    #[test]
    fn tcp_schemes_are_removed_and_others_refused() {
        for (given, kept) in [
            ("tcp://a:1", "a:1"),
            ("tcp://a:1,tcp://b:2/app", "a:1,b:2/app"),
            ("a:1, TCP://b:2/app/x", "a:1,b:2/app/x"),
            ("tcp://[::1]:2181", "[::1]:2181"),
        ] {
            assert_eq!(build(given).map(|c| c.connect_string().to_owned()), Ok(kept.to_owned()), "{given}");
        }
        for given in ["zk://a:1", "a:1,http://b:2/app"] {
            assert!(matches!(build(given), Err(ConfigError::UnsupportedScheme { .. })), "{given}");
        }
    }

    #[test]
    fn accepts_common_connect_strings() {
        for cs in ["127.0.0.1:2181", "a:1,b:2,c:3", "zk1:2181,zk2:2181/app/election", "localhost", "[::1]:2181"] {
            assert_eq!(build(cs).map(|c| c.connect_string().to_owned()), Ok(cs.to_owned()));
        }
    }

    #[cfg(feature = "tls")]
    #[test]
    fn server_addresses_drop_the_chroot_and_default_the_port() {
        let config = build("zk1:2281, zk2,[::1]:2182,[::2]/app").unwrap();
        assert_eq!(config.server_addresses(), ["zk1:2281", "zk2:2181", "[::1]:2182", "[::2]:2181"]);
    }

    #[test]
    fn rejects_bad_connect_strings() {
        assert_eq!(build(""), Err(ConfigError::EmptyConnectString));
        assert_eq!(build("  "), Err(ConfigError::EmptyConnectString));
        assert!(matches!(build("127.0.0.1:abc"), Err(ConfigError::InvalidPort { .. })));
        assert!(matches!(build("127.0.0.1:70000"), Err(ConfigError::InvalidPort { .. })));
        assert!(matches!(build("127.0.0.1:0"), Err(ConfigError::InvalidPort { .. })));
        assert!(matches!(build(":2181"), Err(ConfigError::EmptyHost { .. })));
        assert!(matches!(build("a:1,,b:2"), Err(ConfigError::EmptyHost { .. })));
    }

    #[test]
    fn rejects_bad_chroots() {
        let relative = SessionConfig::builder("a:1").chroot("app").build();
        assert!(matches!(relative, Err(ConfigError::InvalidPath { problem: PathProblem::NotAbsolute, .. })));
        assert!(matches!(build("a:1/app/"), Err(ConfigError::InvalidPath { problem: PathProblem::TrailingSlash, .. })));
        assert!(matches!(
            build("a:1/../x"),
            Err(ConfigError::InvalidPath { problem: PathProblem::RelativeSegment, .. })
        ));
        let ok = SessionConfig::builder("a:1").chroot("/app").build().map(|c| c.connect_string().to_owned());
        assert_eq!(ok, Ok("a:1/app".to_owned()));
    }

    #[test]
    fn rejects_zero_timeouts() {
        let zero = SessionConfig::builder("a:1").session_timeout(Duration::ZERO).build();
        assert_eq!(zero, Err(ConfigError::ZeroTimeout { what: "session timeout" }));
        let zero = SessionConfig::builder("a:1").request_timeout(Duration::ZERO).build();
        assert_eq!(zero, Err(ConfigError::ZeroTimeout { what: "request timeout" }));
    }

    #[test]
    fn debug_hides_the_password() {
        let config = SessionConfig::builder("a:1").digest_auth("alice", "s3cret").build();
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
