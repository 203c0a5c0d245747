//! The diagnostic handshake: when the ZooKeeper client cannot connect over TLS it reports
//! only that no server answered, so the session shakes hands with each server once more
//! itself, with the same certificates, to name the cause.

use std::io::{ErrorKind, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError, ClientConfig, ClientConnection};

use crate::zk::{TlsFailure, TlsProblem};

/// How long the diagnosis may wait for one server (connect, handshake, the server's verdict on
/// our certificate).
const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// Shakes hands with each `host:port` in turn and returns the first TLS problem found, or
/// `None` when every reachable server completed the handshake and accepted us (then the
/// failure lies elsewhere: an unreachable host, SASL, the ZooKeeper handshake).
///
/// Blocking: run it off the actor's thread.
pub(crate) fn diagnose(servers: &[String], config: &Arc<ClientConfig>, has_identity: bool) -> Option<TlsFailure> {
    servers.iter().find_map(|server| {
        let problem = shake_hands(server, config, has_identity).err()?;
        Some(TlsFailure { server: server.clone(), problem })
    })
}

/// `Ok` also when the server cannot be reached: that is not a TLS problem.
fn shake_hands(server: &str, config: &Arc<ClientConfig>, has_identity: bool) -> Result<(), TlsProblem> {
    let Some(host) = host_of(server) else { return Ok(()) };
    let Some(address) = server.to_socket_addrs().ok().and_then(|mut addrs| addrs.next()) else { return Ok(()) };
    let Ok(mut socket) = TcpStream::connect_timeout(&address, STEP_TIMEOUT) else { return Ok(()) };
    let set_timeouts =
        socket.set_read_timeout(Some(STEP_TIMEOUT)).and_then(|()| socket.set_write_timeout(Some(STEP_TIMEOUT)));
    if set_timeouts.is_err() {
        return Ok(());
    }
    let name = ServerName::try_from(host.to_owned()).map_err(|err| TlsProblem::Handshake(err.to_string()))?;
    let mut tls = ClientConnection::new(config.clone(), name).map_err(|err| TlsProblem::Handshake(err.to_string()))?;
    while tls.is_handshaking() {
        if let Err(err) = tls.complete_io(&mut socket) {
            return Err(classify(&err, host, has_identity));
        }
    }
    // Under TLS 1.3 the server judges our certificate after our last handshake message: its
    // verdict, if negative, is the next thing it sends. A server content with us says nothing
    // until it gets a ZooKeeper request, so a read timeout means accepted.
    let mut byte = [0u8; 1];
    let mut stream = rustls::Stream::new(&mut tls, &mut socket);
    match stream.read(&mut byte) {
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(()),
        Err(err) => Err(classify(&err, host, has_identity)),
        Ok(_) => Ok(()),
    }
}

/// `host` of `host:port` (brackets of an IPv6 literal removed).
fn host_of(server: &str) -> Option<&str> {
    let (host, _port) = server.rsplit_once(':')?;
    Some(host.trim_start_matches('[').trim_end_matches(']'))
}

fn classify(err: &std::io::Error, host: &str, has_identity: bool) -> TlsProblem {
    let Some(tls) = err.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) else {
        return match err.kind() {
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => TlsProblem::NotTls,
            _ => TlsProblem::Handshake(err.to_string()),
        };
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => TlsProblem::UnknownIssuer,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsProblem::ServerCertificateExpired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsProblem::ServerCertificateNotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsProblem::NameMismatch { host: host.to_owned() }
            }
            CertificateError::Revoked => TlsProblem::ServerCertificateRevoked,
            other => TlsProblem::BadServerCertificate(format!("{other:?}")),
        },
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => TlsProblem::ClientCertificateRequired,
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::BadCertificate
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::HandshakeFailure),
        ) => {
            // Without a certificate of ours, any of these means the server wanted one (TLS 1.2
            // servers send a generic alert where 1.3 has `certificate_required`).
            if has_identity {
                TlsProblem::ClientCertificateRejected { alert: format!("{alert:?}") }
            } else {
                TlsProblem::ClientCertificateRequired
            }
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => TlsProblem::NotTls,
        other => TlsProblem::Handshake(other.to_string()),
    }
}
