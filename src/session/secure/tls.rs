//! The certificates the session's clients use: built from the material `TlsConfig` reads,
//! and reloaded from disk on request (rotation without restart).

use std::sync::Arc;

use zookeeper_client::{TlsCa, TlsCerts, TlsDynamicCerts, TlsIdentity, TlsOptions};

use crate::error::ConfigError;
use crate::secure::{TlsConfig, TlsMaterial};

/// The client's certificates of `material`.
fn client_certs(config: &TlsConfig, material: &TlsMaterial) -> Result<TlsCerts, ConfigError> {
    let invalid =
        |what: &'static str, origin: String, reason: String| ConfigError::TlsMaterial { what, origin, reason };
    let ca =
        TlsCa::from_pem(&material.ca_pem).map_err(|err| invalid("CA bundle", config.ca_origin(), err.to_string()))?;
    let mut certs = TlsCerts::builder().with_ca(ca);
    if let (Some((cert, key)), Some((_, key_origin))) = (&material.identity, config.identity_origins()) {
        let identity =
            TlsIdentity::from_pem(cert, key).map_err(|err| invalid("client key", key_origin, err.to_string()))?;
        certs = certs.with_identity(identity);
    }
    certs.build().map_err(|err| invalid("CA bundle", config.ca_origin(), err.to_string()))
}

/// Keeps the certificates the session's clients use, and reloads them from disk on request.
pub(super) struct TlsReloader {
    config: TlsConfig,
    pub(super) certs: TlsDynamicCerts,
    pub(super) probe: Arc<rustls::ClientConfig>,
    fingerprint: u64,
    /// Why the files last failed to load, so a broken rotation is reported once, not at every
    /// interval.
    failed: Option<String>,
}

/// What a reload found.
#[derive(Debug)]
pub(super) enum Reload {
    Unchanged,
    Reloaded,
    /// The files changed but do not load; the previous certificates stay in use.
    Broken(ConfigError),
}

impl TlsReloader {
    pub(super) fn new(config: TlsConfig) -> Result<TlsReloader, ConfigError> {
        let material = config.load()?;
        let certs = client_certs(&config, &material)?;
        Ok(TlsReloader {
            config,
            certs: TlsDynamicCerts::new(certs),
            probe: material.probe,
            fingerprint: material.fingerprint,
            failed: None,
        })
    }

    /// The client options: certificates the reloader updates in place.
    pub(super) fn client_options(&self) -> TlsOptions {
        TlsOptions::new().with_certs(self.certs.clone())
    }

    pub(super) fn reload(&mut self) -> Reload {
        let loaded = self.config.load().and_then(|material| {
            let certs = client_certs(&self.config, &material)?;
            Ok((material, certs))
        });
        match loaded {
            Ok((material, _)) if material.fingerprint == self.fingerprint => {
                self.failed = None;
                Reload::Unchanged
            }
            Ok((material, certs)) => {
                self.certs.update(certs);
                self.probe = material.probe;
                self.fingerprint = material.fingerprint;
                self.failed = None;
                Reload::Reloaded
            }
            Err(err) => {
                let text = err.to_string();
                if self.failed.as_deref() == Some(text.as_str()) {
                    Reload::Unchanged
                } else {
                    self.failed = Some(text);
                    Reload::Broken(err)
                }
            }
        }
    }
}

impl std::fmt::Debug for TlsReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsReloader").field("config", &self.config).finish_non_exhaustive()
    }
}
