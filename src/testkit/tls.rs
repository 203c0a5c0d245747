//! TLS on the client port: the builders' TLS settings, the certificate files a server reads,
//! and the `zoo.cfg` lines that turn Netty's TLS listener on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::certs::{TestCa, TestIdentity, Validity};
use super::TestkitError;

/// ZooKeeper's `ssl.clientAuth`: whether the TLS port asks clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `need` (the default, mutual TLS): a client without a certificate signed by the CA is
    /// refused during the handshake.
    #[default]
    Need,
    /// `want`: a client certificate is asked for and checked if sent, but not required.
    Want,
    /// `none`: no client certificate is asked for.
    None,
}

impl ClientAuth {
    /// The value of `ssl.clientAuth`.
    pub fn as_cfg_value(self) -> &'static str {
        match self {
            ClientAuth::Need => "need",
            ClientAuth::Want => "want",
            ClientAuth::None => "none",
        }
    }
}

/// What the builders collect about TLS; turned into [`TlsMaterial`] when a server starts.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsSetup {
    /// The CA to issue the server and client certificates from; a fresh one when `None`.
    pub(crate) ca: Option<Arc<TestCa>>,
    pub(crate) client_auth: ClientAuth,
    /// Serve an already expired certificate, for testing that clients refuse it.
    pub(crate) expired_server_cert: bool,
}

/// File names inside [`TlsMaterial::dir`].
const CA_FILE: &str = "ca.pem";
const SERVER_CERT_FILE: &str = "server.pem";
const SERVER_KEY_FILE: &str = "server-key.pem";
/// Certificate and key in one file: ZooKeeper's PEM key store reads both from
/// `ssl.keyStore.location`.
const KEY_STORE_FILE: &str = "server-keystore.pem";
const CLIENT_CERT_FILE: &str = "client.pem";
const CLIENT_KEY_FILE: &str = "client-key.pem";

/// The certificates of a TLS-serving [`ZkServer`](super::ZkServer) or
/// [`ZkEnsemble`](super::ZkEnsemble), in PEM and as files: the CA, the server's certificate
/// and key, and a client identity signed by the same CA, ready to hand to a client.
///
/// Every member of an ensemble serves the same server certificate (its names, `127.0.0.1` and
/// `localhost`, fit every member). The files live in a temporary directory that is removed
/// when the last server using it is dropped.
///
/// ```no_run
/// # fn main() -> Result<(), zk_election::testkit::TestkitError> {
/// use zk_election::testkit::ZkServer;
/// let server = ZkServer::builder().tls().start()?;
/// let tls = server.tls().expect("started with TLS");
/// let ca: &str = tls.ca_pem();
/// let (cert, key) = (tls.client_identity().cert_pem(), tls.client_identity().key_pem());
/// // Hand them to any client; with the `zookeeper-client` crate:
/// // Client::connector()
/// //     .with_tls(TlsOptions::new().with_pem_ca(ca)?.with_pem_identity(cert, key)?)
/// //     .secure_connect(&server.secure_connect_string().expect("TLS"))
/// # let _ = (ca, cert, key); Ok(()) }
/// ```
#[derive(Debug)]
pub struct TlsMaterial {
    ca: Arc<TestCa>,
    server: TestIdentity,
    client: TestIdentity,
    client_auth: ClientAuth,
    dir: tempfile::TempDir,
}

impl TlsMaterial {
    /// Issues the certificates `setup` asks for and writes them to a new temporary directory.
    pub(crate) fn create(setup: &TlsSetup) -> Result<TlsMaterial, TestkitError> {
        let ca = match &setup.ca {
            Some(ca) => Arc::clone(ca),
            None => Arc::new(TestCa::new("zk-election testkit CA")?),
        };
        let server_validity = if setup.expired_server_cert { Validity::Expired } else { Validity::Current };
        let server = ca.server_identity(server_validity)?;
        let client = ca.client_identity("zk-election-testkit-client", Validity::Current)?;
        let dir = tempfile::Builder::new()
            .prefix("zk-election-testkit-tls-")
            .tempdir()
            .map_err(|e| TestkitError::io("creating the TLS material's temp dir", e))?;
        let key_store = format!("{}{}", server.cert_pem(), server.key_pem());
        for (name, text) in [
            (CA_FILE, ca.cert_pem()),
            (SERVER_CERT_FILE, server.cert_pem()),
            (SERVER_KEY_FILE, server.key_pem()),
            (KEY_STORE_FILE, key_store.as_str()),
            (CLIENT_CERT_FILE, client.cert_pem()),
            (CLIENT_KEY_FILE, client.key_pem()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).map_err(|e| TestkitError::io(format!("writing {}", path.display()), e))?;
        }
        Ok(TlsMaterial { ca, server, client, client_auth: setup.client_auth, dir })
    }

    /// The CA that signed the server and client certificates; issue more identities from it
    /// (another user, an expired client certificate).
    pub fn ca(&self) -> &TestCa {
        &self.ca
    }

    /// The CA certificate in PEM: what a client trusts.
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The server's certificate and key.
    pub fn server_identity(&self) -> &TestIdentity {
        &self.server
    }

    /// A client certificate (common name `zk-election-testkit-client`) and key signed by the
    /// CA, for mutual TLS.
    pub fn client_identity(&self) -> &TestIdentity {
        &self.client
    }

    /// The server's `ssl.clientAuth`.
    pub fn client_auth(&self) -> ClientAuth {
        self.client_auth
    }

    /// The directory holding the files below.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `ca.pem`: the CA certificate (the server's `ssl.trustStore.location`).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join(CA_FILE)
    }

    /// `server.pem`: the server certificate alone.
    pub fn server_cert_path(&self) -> PathBuf {
        self.dir.path().join(SERVER_CERT_FILE)
    }

    /// `server-key.pem`: the server's private key alone.
    pub fn server_key_path(&self) -> PathBuf {
        self.dir.path().join(SERVER_KEY_FILE)
    }

    /// `server-keystore.pem`: certificate and key in one file, the server's
    /// `ssl.keyStore.location`.
    pub fn key_store_path(&self) -> PathBuf {
        self.dir.path().join(KEY_STORE_FILE)
    }

    /// `client.pem`: the client certificate.
    pub fn client_cert_path(&self) -> PathBuf {
        self.dir.path().join(CLIENT_CERT_FILE)
    }

    /// `client-key.pem`: the client's private key (PKCS#8).
    pub fn client_key_path(&self) -> PathBuf {
        self.dir.path().join(CLIENT_KEY_FILE)
    }

    /// The `zoo.cfg` lines for a TLS listener on `secure_port`.
    ///
    /// ZooKeeper copies `zoo.cfg` keys it does not know into `zookeeper.`-prefixed system
    /// properties, which is where its TLS code reads `ssl.*` and `serverCnxnFactory` from. Only
    /// the Netty connection factory can do TLS; it serves the plain client port as well. The
    /// PEM key is unencrypted, so no `ssl.keyStore.password` is needed (ZooKeeper 3.8 reads an
    /// absent password as empty and an empty one as "no password").
    pub(crate) fn cfg_lines(&self, secure_port: u16) -> Vec<String> {
        vec![
            "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory".to_owned(),
            format!("secureClientPort={secure_port}"),
            // The default is the wildcard address; tests stay on loopback.
            "secureClientPortAddress=127.0.0.1".to_owned(),
            format!("ssl.keyStore.location={}", self.key_store_path().display()),
            "ssl.keyStore.type=PEM".to_owned(),
            format!("ssl.trustStore.location={}", self.ca_path().display()),
            "ssl.trustStore.type=PEM".to_owned(),
            format!("ssl.clientAuth={}", self.client_auth.as_cfg_value()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_keeps_servers_unwind_safe_and_shareable() {
        // `ZkServer` holds the material, and tests move servers across `catch_unwind`.
        fn check<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe + Send + Sync>() {}
        check::<TlsMaterial>();
        check::<TestCa>();
    }

    #[test]
    fn writes_the_files_the_cfg_names() -> Result<(), TestkitError> {
        let setup = TlsSetup { client_auth: ClientAuth::Want, ..TlsSetup::default() };
        let material = TlsMaterial::create(&setup)?;
        let lines = material.cfg_lines(4242);
        assert!(lines.contains(&"secureClientPort=4242".to_owned()), "{lines:?}");
        assert!(lines.contains(&"ssl.clientAuth=want".to_owned()), "{lines:?}");
        let key_store = std::fs::read_to_string(material.key_store_path()).map_err(|e| TestkitError::io("read", e))?;
        assert!(key_store.contains("BEGIN CERTIFICATE") && key_store.contains("BEGIN PRIVATE KEY"));
        for path in [material.ca_path(), material.client_cert_path(), material.client_key_path()] {
            assert!(path.is_file(), "{}", path.display());
        }
        Ok(())
    }
}
