//! Throw-away certificate authorities and certificates for TLS tests, made with `rcgen`.
//!
//! Knows nothing about ZooKeeper or files: [`TestCa`] issues [`TestIdentity`]s in PEM, and
//! [`TlsMaterial`](super::TlsMaterial) writes the ones a server needs to disk.

use std::fmt;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use time::OffsetDateTime;

use super::TestkitError;

/// How far back a currently valid certificate starts: a day, so a clock a little behind on
/// either side of the connection does not see it as "not yet valid".
const VALID_FROM_AGO: Duration = Duration::from_secs(24 * 3600);
/// How long a currently valid certificate lasts: far beyond any test run.
const VALID_FOR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Whether an issued certificate is valid now or already expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validity {
    /// Valid from a day ago until a year from now.
    #[default]
    Current,
    /// Valid from two days ago until one day ago: every peer must reject it as expired.
    Expired,
}

impl Validity {
    /// The `(not_before, not_after)` window relative to `now`.
    fn window(self, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
        match self {
            Validity::Current => (now - VALID_FROM_AGO, now + VALID_FOR),
            Validity::Expired => (now - 2 * VALID_FROM_AGO, now - VALID_FROM_AGO),
        }
    }
}

/// A certificate and its private key, both in PEM: what a TLS peer presents.
///
/// The key is PKCS#8 (`-----BEGIN PRIVATE KEY-----`, ECDSA P-256), which both ZooKeeper's PEM
/// key store and rustls read.
#[derive(Clone)]
pub struct TestIdentity {
    cert_pem: String,
    key_pem: String,
}

impl TestIdentity {
    /// The certificate, PEM-encoded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key, PEM-encoded PKCS#8, unencrypted.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }
}

impl fmt::Debug for TestIdentity {
    /// Leaves the key out: test logs should not be full of key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIdentity").field("cert_pem", &self.cert_pem).finish_non_exhaustive()
    }
}

/// A throw-away certificate authority for TLS tests: a self-signed CA certificate and the key
/// that signs server and client certificates.
///
/// A server started with TLS gets its own `TestCa` (see
/// [`ZkServerBuilder::tls`](super::ZkServerBuilder::tls)); make one yourself to share a CA
/// between servers, to issue more client identities (an expired one, another user), or as the
/// "wrong CA" a client must refuse.
///
/// ```
/// # fn main() -> Result<(), zk_election::testkit::TestkitError> {
/// use zk_election::testkit::{TestCa, Validity};
/// let foreign = TestCa::new("not the server's CA")?;
/// let intruder = foreign.client_identity("mallory", Validity::Current)?;
/// assert!(foreign.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// assert!(intruder.key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TestCa {
    name: String,
    cert_pem: String,
    /// The CA's own parameters: its name and key identifier go into what it issues.
    params: CertificateParams,
    /// The signing key as PEM, parsed again per certificate: a parsed key holds crypto-library
    /// state that is not unwind-safe, and servers holding a `TestCa` must stay unwind-safe.
    key_pem: String,
}

impl TestCa {
    /// Generates a CA whose certificate has common name `name`, valid from a day ago for a
    /// year.
    ///
    /// # Notable errors
    /// * [`TestkitError::Certificate`] when key generation or signing fails.
    pub fn new(name: &str) -> Result<TestCa, TestkitError> {
        let action = || format!("generating the test CA {name:?}");
        let key = KeyPair::generate().map_err(|e| TestkitError::certificate(action(), e))?;
        let mut params = params(name, Validity::Current).map_err(|e| TestkitError::certificate(action(), e))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).map_err(|e| TestkitError::certificate(action(), e))?;
        Ok(TestCa { name: name.to_owned(), cert_pem: cert.pem(), params, key_pem: key.serialize_pem() })
    }

    /// The CA's common name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA certificate, PEM-encoded: what a peer trusts.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a server certificate for the testkit's servers: common name `localhost`, subject
    /// alternative names `127.0.0.1` (IP) and `localhost` (DNS), extended key usage server
    /// authentication. Clients that verify the host name accept it for `127.0.0.1:PORT`.
    ///
    /// # Notable errors
    /// * [`TestkitError::Certificate`] when key generation or signing fails.
    pub fn server_identity(&self, validity: Validity) -> Result<TestIdentity, TestkitError> {
        self.issue("localhost", &["127.0.0.1", "localhost"], ExtendedKeyUsagePurpose::ServerAuth, validity)
    }

    /// Issues a client certificate with common name `name` and extended key usage client
    /// authentication. ZooKeeper's x509 provider authenticates the connection as
    /// `x509:CN=<name>`; it does not check a client certificate's host names.
    ///
    /// # Notable errors
    /// * [`TestkitError::Certificate`] when key generation or signing fails.
    pub fn client_identity(&self, name: &str, validity: Validity) -> Result<TestIdentity, TestkitError> {
        self.issue(name, &[], ExtendedKeyUsagePurpose::ClientAuth, validity)
    }

    fn issue(
        &self,
        name: &str,
        alt_names: &[&str],
        usage: ExtendedKeyUsagePurpose,
        validity: Validity,
    ) -> Result<TestIdentity, TestkitError> {
        let action = || format!("issuing a certificate for {name:?} from the test CA {:?}", self.name);
        let ca_key = KeyPair::from_pem(&self.key_pem).map_err(|e| TestkitError::certificate(action(), e))?;
        let issuer = Issuer::from_params(&self.params, &ca_key);
        let key = KeyPair::generate().map_err(|e| TestkitError::certificate(action(), e))?;
        let mut params = params(name, validity).map_err(|e| TestkitError::certificate(action(), e))?;
        params.subject_alt_names =
            CertificateParams::new(alt_names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .map_err(|e| TestkitError::certificate(action(), e))?
                .subject_alt_names;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &issuer).map_err(|e| TestkitError::certificate(action(), e))?;
        Ok(TestIdentity { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

impl fmt::Debug for TestCa {
    /// Leaves the signing key out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Parameters with common name `name`, a random serial number and the validity window.
fn params(name: &str, validity: Validity) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.remove(DnType::CommonName);
    params.distinguished_name.push(DnType::CommonName, name);
    params.distinguished_name.push(DnType::OrganizationName, "zk-election testkit");
    // Peers may cache certificates by (issuer, serial): distinct serials keep every issued
    // certificate distinct.
    let mut serial: [u8; 16] = rand::random();
    serial[0] &= 0x7f; // DER integers are signed: keep it positive.
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    (params.not_before, params.not_after) = validity.window(OffsetDateTime::now_utc());
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_pem_certificates_and_pkcs8_keys() -> Result<(), TestkitError> {
        let ca = TestCa::new("unit CA")?;
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        for identity in [ca.server_identity(Validity::Current)?, ca.client_identity("alice", Validity::Expired)?] {
            assert!(identity.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
            assert!(identity.key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
            assert!(!format!("{identity:?}").contains("PRIVATE KEY"));
        }
        Ok(())
    }

    #[test]
    fn expired_window_ends_before_now() {
        let now = OffsetDateTime::now_utc();
        let (from, to) = Validity::Expired.window(now);
        assert!(from < to && to < now);
        let (from, to) = Validity::Current.window(now);
        assert!(from < now && now < to);
    }
}
