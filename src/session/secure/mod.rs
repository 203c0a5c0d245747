//! What the session adds to every client it builds for a secured ZooKeeper: digest and SASL
//! credentials, TLS certificates (reloaded from disk when asked), and, when a TLS connect
//! fails, the diagnostic handshake that names the cause.

use actix::prelude::*;
#[cfg(feature = "tls")]
use tracing::{info, warn};
use zookeeper_client::{Client, Connector};

#[cfg(feature = "tls")]
mod tls;

use super::{convert, ZkSession};
use crate::config::SessionConfig;
use crate::zk::ZkError;

/// The session's security settings, loaded.
#[derive(Debug, Default)]
pub(super) struct Security {
    #[cfg(feature = "tls")]
    tls: Option<Tls>,
    /// The last TLS failure reported, so an outage is reported once per cause.
    #[cfg(feature = "tls")]
    reported: Option<crate::secure::TlsFailure>,
}

/// TLS certificates, or why the files could not be loaded when the session started.
#[cfg(feature = "tls")]
#[derive(Debug)]
enum Tls {
    Loaded(tls::TlsReloader),
    Unusable(crate::secure::TlsConfig, String),
}

#[cfg(feature = "tls")]
impl Tls {
    fn load(config: crate::secure::TlsConfig) -> Tls {
        match tls::TlsReloader::new(config.clone()) {
            Ok(reloader) => Tls::Loaded(reloader),
            Err(err) => Tls::Unusable(config, err.to_string()),
        }
    }
}

/// The answer of a diagnostic handshake run off the actor's thread.
#[cfg(feature = "tls")]
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct TlsDiagnosis {
    generation: u64,
    failure: Option<crate::secure::TlsFailure>,
}

impl Security {
    pub(super) fn new(config: &SessionConfig) -> Security {
        #[cfg(not(feature = "tls"))]
        let _ = config;
        Security {
            #[cfg(feature = "tls")]
            tls: config.tls().cloned().map(Tls::load),
            #[cfg(feature = "tls")]
            reported: None,
        }
    }

    /// Adds credentials and certificates to `connector`; an error when the certificates
    /// cannot be used at all.
    pub(super) fn apply(&mut self, config: &SessionConfig, mut connector: Connector) -> Result<Connector, ZkError> {
        if let Some(auth) = config.auth() {
            connector = connector.with_auth("digest", &auth.payload());
        }
        #[cfg(feature = "sasl")]
        if let Some(sasl) = config.sasl() {
            connector = connector.with_sasl(zookeeper_client::SaslOptions::digest_md5(
                sasl.user().to_owned(),
                sasl.password().to_owned(),
            ));
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &mut self.tls {
            if let Tls::Unusable(config, _) = tls {
                // Files broken at start may have been fixed since.
                *tls = Tls::load(config.clone());
            }
            match tls {
                Tls::Loaded(reloader) => {
                    connector = connector.with_tls(reloader.client_options());
                }
                Tls::Unusable(_, reason) => {
                    return Err(ZkError::Tls(crate::secure::TlsFailure {
                        server: config.connect_string().to_owned(),
                        problem: crate::secure::TlsProblem::Certificates(reason.clone()),
                    }));
                }
            }
        }
        Ok(connector)
    }

    /// A refusal without credentials of ours means the server demands some: say so.
    pub(super) fn explain(&self, config: &SessionConfig, err: ZkError) -> ZkError {
        match err {
            ZkError::AuthFailed if !config.authenticates() => ZkError::AuthRequired,
            other => other,
        }
    }

    /// Whether the servers are reached over TLS.
    pub(super) fn uses_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        false
    }

    /// The session has a client again: the next failure is news.
    pub(super) fn connected(&mut self) {
        #[cfg(feature = "tls")]
        {
            self.reported = None;
        }
    }
}

/// Connects `connector` to `connect_string`, over TLS to every server if `tls`.
pub(super) async fn connect(connector: Connector, connect_string: &str, tls: bool) -> Result<Client, ZkError> {
    #[cfg(feature = "tls")]
    if tls {
        return connector.secure_connect(connect_string).await.map_err(convert::error);
    }
    #[cfg(not(feature = "tls"))]
    let _ = tls;
    connector.connect(connect_string).await.map_err(convert::error)
}

impl ZkSession {
    /// After a failed connect over TLS: shakes hands with each server on a thread of its own
    /// and reports a TLS problem, if that is what it was, to the failure subscribers.
    pub(super) fn diagnose_tls(&mut self, ctx: &mut Context<Self>) {
        #[cfg(feature = "tls")]
        if let Some(Tls::Loaded(reloader)) = &self.security.tls {
            let probe = reloader.probe.clone();
            let has_identity = self.config.tls().is_some_and(crate::secure::TlsConfig::has_client_identity);
            let servers = self.config.server_addresses();
            let generation = self.generation;
            let me = ctx.address();
            let spawned = std::thread::Builder::new().name("zk-tls-diagnosis".to_owned()).spawn(move || {
                let failure = crate::secure::diagnose(&servers, &probe, has_identity);
                me.do_send(TlsDiagnosis { generation, failure });
            });
            if let Err(err) = spawned {
                warn!(error = %err, "cannot start the TLS diagnosis");
            }
        }
        #[cfg(not(feature = "tls"))]
        let _ = ctx;
    }

    /// Reads the certificate files again every interval, if asked to.
    pub(super) fn schedule_tls_reload(&mut self, ctx: &mut Context<Self>) {
        #[cfg(feature = "tls")]
        if let Some(interval) = self.config.tls().and_then(crate::secure::TlsConfig::reload_interval) {
            ctx.run_interval(interval, |act, _ctx| {
                let _span = act.span.clone().entered();
                act.reload_tls();
            });
        }
        #[cfg(not(feature = "tls"))]
        let _ = ctx;
    }

    #[cfg(feature = "tls")]
    fn reload_tls(&mut self) {
        use tls::Reload;
        let Some(Tls::Loaded(reloader)) = &mut self.security.tls else { return };
        match reloader.reload() {
            Reload::Unchanged => {}
            Reload::Reloaded => info!("TLS certificates reloaded; later connections use them"),
            Reload::Broken(err) => {
                warn!(error = %err, "changed TLS files cannot be used; keeping the previous certificates")
            }
        }
    }
}

#[cfg(feature = "tls")]
impl Handler<TlsDiagnosis> for ZkSession {
    type Result = ();

    fn handle(&mut self, msg: TlsDiagnosis, _ctx: &mut Context<Self>) {
        let _span = self.span.clone().entered();
        let Some(failure) = msg.failure else { return };
        if msg.generation != self.generation || self.security.reported.as_ref() == Some(&failure) {
            return;
        }
        warn!(server = %failure.server, problem = %failure.problem, "TLS handshake with ZooKeeper failed");
        self.security.reported = Some(failure.clone());
        self.report_failure(ZkError::Tls(failure));
    }
}
