//! Why a TLS connection to ZooKeeper failed, in words an operator can act on.

/// What went wrong in a TLS handshake with a ZooKeeper server, as seen by a second, diagnostic
/// handshake made after the ZooKeeper client failed to connect (the client itself reports only
/// that no server could be reached).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server's certificate is not signed by any CA in our bundle.
    #[error("the server's certificate is not signed by a trusted CA (check the CA bundle)")]
    UnknownIssuer,
    /// The server's certificate has expired.
    #[error("the server's certificate has expired")]
    ServerCertificateExpired,
    /// The server's certificate is not valid yet (or the clocks disagree).
    #[error("the server's certificate is not valid yet")]
    ServerCertificateNotYetValid,
    /// The server's certificate does not name the host we connected to.
    #[error("the server's certificate does not name the host {host} (subject alternative names)")]
    NameMismatch {
        /// The host from the connect string.
        host: String,
    },
    /// The server's certificate was revoked by a CRL in our bundle.
    #[error("the server's certificate is revoked")]
    ServerCertificateRevoked,
    /// Any other verdict on the server's certificate.
    #[error("the server's certificate is not acceptable: {0}")]
    BadServerCertificate(String),
    /// The server demands a client certificate and we sent none.
    #[error("the server requires a client certificate and none is configured")]
    ClientCertificateRequired,
    /// The server rejected our client certificate (unknown CA, expired, revoked…). TLS alerts
    /// rarely say which; the server's log does.
    #[error("the server rejected our client certificate ({alert}); check that it is current and signed by a CA the server trusts")]
    ClientCertificateRejected {
        /// The alert the server sent.
        alert: String,
    },
    /// The server closed the connection during the handshake, as a plain-TCP ZooKeeper port
    /// does when it receives a TLS greeting.
    #[error("the server closed the connection during the TLS handshake (is this port serving TLS?)")]
    NotTls,
    /// Our own certificate files cannot be used (they changed since the configuration was
    /// built): no handshake was tried.
    #[error("our TLS files cannot be used: {0}")]
    Certificates(String),
    /// The handshake failed for another reason.
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
}

/// A TLS failure with the server it happened on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("TLS with {server}: {problem}")]
pub struct TlsFailure {
    /// `host:port` of the server.
    pub server: String,
    /// What went wrong.
    pub problem: TlsProblem,
}
