//! TLS settings: where the CA bundle and the client identity come from, loading them, and
//! reloading them from disk so certificates can be rotated without a restart.

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::ConfigError;

/// PEM text, inline or in a file read when the session connects.
#[derive(Clone, PartialEq, Eq)]
enum Pem {
    File(PathBuf),
    Inline(String),
}

impl Pem {
    fn read(&self, what: &'static str) -> Result<String, ConfigError> {
        match self {
            Pem::Inline(text) => Ok(text.clone()),
            Pem::File(path) => std::fs::read_to_string(path).map_err(|err| ConfigError::TlsMaterial {
                what,
                origin: path.display().to_string(),
                reason: err.to_string(),
            }),
        }
    }

    fn origin(&self) -> String {
        match self {
            Pem::File(path) => path.display().to_string(),
            Pem::Inline(_) => "inline PEM".to_owned(),
        }
    }
}

impl std::fmt::Debug for Pem {
    // Inline PEM may be a private key: show where it comes from, never the text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.origin())
    }
}

/// How to speak TLS to ZooKeeper: the CA bundle that must have signed the servers'
/// certificates and, for servers that demand one (`ssl.clientAuth=need`), a client identity.
///
/// Every server in the connect string is reached over TLS (ZooKeeper's `secureClientPort`).
/// The host names in the connect string are checked against the servers' certificates
/// (subject alternative names), as in any TLS client.
///
/// ```
/// # #[cfg(feature = "tls")] {
/// use std::time::Duration;
/// use zk_election::{secure::TlsConfig, SessionConfig};
///
/// let tls = TlsConfig::ca_file("/etc/zookeeper/ca.pem")
///     .client_identity_files("/etc/zookeeper/client.pem", "/etc/zookeeper/client-key.pem")
///     .reload_every(Duration::from_secs(60));
/// let config = SessionConfig::builder("zk1:2281,zk2:2281").tls(tls);
/// // `config.build()` reads the files and says which one is wrong, if any.
/// # let _ = config; }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    ca: Pem,
    identity: Option<(Pem, Pem)>,
    reload_every: Option<Duration>,
}

impl TlsConfig {
    /// Trusts the CA certificates (and CRLs) in the PEM file at `path`.
    pub fn ca_file(path: impl Into<PathBuf>) -> Self {
        TlsConfig { ca: Pem::File(path.into()), identity: None, reload_every: None }
    }

    /// Trusts the CA certificates (and CRLs) in `pem`.
    pub fn ca_pem(pem: impl Into<String>) -> Self {
        TlsConfig { ca: Pem::Inline(pem.into()), identity: None, reload_every: None }
    }

    /// Presents the certificate chain in `cert` with the private key in `key` (PEM files;
    /// PKCS#8, PKCS#1 or SEC1 key) to servers that ask for a client certificate.
    #[must_use]
    pub fn client_identity_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.identity = Some((Pem::File(cert.into()), Pem::File(key.into())));
        self
    }

    /// Presents the certificate chain and private key given as PEM text.
    #[must_use]
    pub fn client_identity_pem(mut self, cert: impl Into<String>, key: impl Into<String>) -> Self {
        self.identity = Some((Pem::Inline(cert.into()), Pem::Inline(key.into())));
        self
    }

    /// Reads the files again every `interval` and, when their contents changed and still form a
    /// valid CA bundle and identity, uses the new ones for every later connection (rotation
    /// without restart; the open connection keeps its handshake). Off by default.
    #[must_use]
    pub fn reload_every(mut self, interval: Duration) -> Self {
        self.reload_every = Some(interval);
        self
    }

    /// How often the files are read again, if at all.
    pub fn reload_interval(&self) -> Option<Duration> {
        self.reload_every
    }

    /// Where the CA bundle comes from (a path, or "inline PEM").
    pub fn ca_origin(&self) -> String {
        self.ca.origin()
    }

    /// Whether a client certificate is configured.
    pub fn has_client_identity(&self) -> bool {
        self.identity.is_some()
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.reload_every.is_some_and(|interval| interval.is_zero()) {
            return Err(ConfigError::ZeroTimeout { what: "TLS reload interval" });
        }
        self.load().map(drop)
    }

    /// Where the client certificate and key come from, if configured.
    pub(crate) fn identity_origins(&self) -> Option<(String, String)> {
        self.identity.as_ref().map(|(cert, key)| (cert.origin(), key.origin()))
    }
}

/// A CA bundle and identity read and checked: the PEM text (for the ZooKeeper client, which
/// the session builds its certificates from), a rustls configuration for the diagnostic
/// handshake, and a fingerprint of the text to tell a changed file from an unchanged one.
pub(crate) struct TlsMaterial {
    pub(crate) ca_pem: String,
    /// Certificate chain and key, PEM.
    pub(crate) identity: Option<(String, String)>,
    pub(crate) probe: Arc<rustls::ClientConfig>,
    pub(crate) fingerprint: u64,
}

impl TlsConfig {
    /// Reads the files and checks that they form a CA bundle and (if configured) an identity
    /// whose key matches its certificate.
    pub(crate) fn load(&self) -> Result<TlsMaterial, ConfigError> {
        let invalid = |what: &'static str, pem: &Pem, reason: String| ConfigError::TlsMaterial {
            what,
            origin: pem.origin(),
            reason,
        };
        let ca_text = self.ca.read("CA bundle")?;
        let mut fingerprint = std::collections::hash_map::DefaultHasher::new();
        ca_text.hash(&mut fingerprint);
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_text.as_bytes()) {
            let cert = cert.map_err(|err| invalid("CA bundle", &self.ca, err.to_string()))?;
            roots.add(cert).map_err(|err| invalid("CA bundle", &self.ca, err.to_string()))?;
        }
        if roots.is_empty() {
            return Err(invalid("CA bundle", &self.ca, "no certificate in the PEM text".to_owned()));
        }
        let builder =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|err| invalid("CA bundle", &self.ca, err.to_string()))?
                .with_root_certificates(roots);
        let (probe, identity) = match &self.identity {
            None => (builder.with_no_client_auth(), None),
            Some((cert_pem, key_pem)) => {
                let cert_text = cert_pem.read("client certificate")?;
                let key_text = key_pem.read("client key")?;
                cert_text.hash(&mut fingerprint);
                key_text.hash(&mut fingerprint);
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_text.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|err| invalid("client certificate", cert_pem, err.to_string()))?;
                if chain.is_empty() {
                    return Err(invalid("client certificate", cert_pem, "no certificate in the PEM text".to_owned()));
                }
                let key = PrivateKeyDer::from_pem_slice(key_text.as_bytes())
                    .map_err(|err| invalid("client key", key_pem, err.to_string()))?;
                let probe = builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|err| invalid("client key", key_pem, format!("does not match the certificate: {err}")))?;
                (probe, Some((cert_text, key_text)))
            }
        };
        Ok(TlsMaterial { ca_pem: ca_text, identity, probe: Arc::new(probe), fingerprint: fingerprint.finish() })
    }
}
