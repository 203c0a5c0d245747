//! Secured ZooKeeper against real servers: an election over mutual TLS with SASL DIGEST-MD5
//! enforced, standalone and on a 3-member ensemble, fails over as over plain TCP and keeps its
//! nodes to its SASL user; every misconfiguration reaches the session's subscribers (and the
//! contenders) at once as a typed error naming the cause; certificates rotate without restart.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use actix::prelude::*;
use common::*;
use zk_election::port::SessionFailed;
use zk_election::secure::{TlsConfig, TlsProblem};
use zk_election::session::SubscribeFailures;
use zk_election::testkit::{ClientAuth, TestCa, Validity, ZkEnsemble, ZkServer};
use zk_election::zk::GetData;
use zk_election::{
    ConfigError, ConnectionState, ElectionConfig, ElectionError, ElectionSupervisor, LeadershipEvent, SessionConfig,
    StopElection, StopSession, ZkError, ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/secure/election/latch";
const LEADER: &str = "/secure/leaders/jobmanager";
const USER: &str = "app";
const PASSWORD: &str = "app-secret";
/// Long enough for a cold JVM's first TLS handshake (the connection timeout is a third).
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// A refusal is a TLS alert or a SASL answer: it must be reported well within this.
const REPORT_BOUND: Duration = Duration::from_secs(5);

/// Mutual TLS with the server's own CA and client identity, plus SASL as `user`.
fn secured(connect: &str, tls: TlsConfig, user: &str, password: &str) -> SessionConfig {
    SessionConfig::builder(connect)
        .session_timeout(SESSION_TIMEOUT)
        .request_timeout(5 * SECOND)
        .tls(tls)
        .sasl_digest(user, password)
        .build()
        .expect("valid secured config")
}

fn mutual(material: &zk_election::testkit::TlsMaterial) -> TlsConfig {
    TlsConfig::ca_file(material.ca_path())
        .client_identity_files(material.client_cert_path(), material.client_key_path())
}

/// A server with mutual TLS and SASL enforced, users `app` and `other`.
fn secured_server() -> ZkServer {
    ZkServer::builder()
        .tls()
        .sasl_user(USER, PASSWORD)
        .sasl_user("other", "other-secret")
        .enforce_sasl()
        .start()
        .expect("secured zookeeper")
}

/// A participant of the election on `config`'s session.
async fn participant(config: SessionConfig, address: &str) -> (Addr<ZkSession>, Addr<ElectionSupervisor>, Events) {
    let (session, _states) = session_with(config).await;
    let supervisor = ElectionSupervisor::start(session.clone(), ElectionConfig::builder(LATCH).build().unwrap());
    let events = subscribe(&supervisor, "jobmanager", address, LEADER, true).await;
    (session, supervisor, events)
}

/// Two participants; the first publishes, leaves (cleanly or by losing its session), and the
/// second takes over. Returns the clean and the crash failover times.
async fn fail_over_twice(connect: &str, tls: impl Fn() -> TlsConfig) -> (Duration, Duration) {
    let (a_session, a, mut a_events) = participant(secured(connect, tls(), USER, PASSWORD), "a:1").await;
    expect_published(&mut a_events, 10 * SECOND).await;
    let (b_session, b, mut b_events) = participant(secured(connect, tls(), USER, PASSWORD), "b:2").await;
    let (c_session, _c, mut c_events) = participant(secured(connect, tls(), USER, PASSWORD), "c:3").await;

    // Clean: a stops, b publishes.
    let started = Instant::now();
    a.send(StopElection).await.unwrap().unwrap();
    expect_published(&mut b_events, 10 * SECOND).await;
    let clean = started.elapsed();
    let _ = a_session.send(StopSession).await;

    // Crash: b's session closes under its supervisor, c publishes.
    let started = Instant::now();
    let _ = b_session.send(StopSession).await;
    expect_published(&mut c_events, 15 * SECOND).await;
    let crash = started.elapsed();
    drop(b);
    let _ = c_session.send(StopSession).await;
    (clean, crash)
}

#[actix_rt::test]
async fn an_election_over_mutual_tls_and_sasl_fails_over_and_keeps_its_nodes_to_its_user() {
    init_tracing();
    let server = secured_server();
    let connect = server.secure_connect_string().expect("TLS port");
    let material = server.tls().expect("TLS material");

    let (clean, crash) = fail_over_twice(&connect, || mutual(material)).await;
    eprintln!("standalone, TLS + SASL: clean failover {clean:?}, session-close failover {crash:?}");

    // The nodes the election created belong to `sasl:app`: another SASL user may not read them.
    let (leader_session, _l, mut events) =
        participant(secured(&connect, mutual(material), USER, PASSWORD), "d:4").await;
    expect_published(&mut events, 10 * SECOND).await;
    let (other, _states) = session_with(secured(&connect, mutual(material), "other", "other-secret")).await;
    let refused = ops(&other).send(GetData { path: LEADER.into() }).await.unwrap();
    assert_eq!(refused.err(), Some(ZkError::NoAuth), "another SASL user read the leader node");
    let own = ops(&leader_session).send(GetData { path: LEADER.into() }).await.unwrap();
    assert!(own.is_ok(), "{own:?}");
    // Read by an outsider with a plain client: all rights to `sasl:app`, nothing to anyone else
    // (creator-only would also admit every session presenting the same client certificate).
    let identity = material.client_identity();
    let tls = zookeeper_client::TlsOptions::new()
        .with_pem_ca(material.ca_pem())
        .and_then(|tls| tls.with_pem_identity(identity.cert_pem(), identity.key_pem()))
        .unwrap();
    let outsider = zookeeper_client::Client::connector()
        .with_session_timeout(SESSION_TIMEOUT)
        .with_tls(tls)
        .with_sasl(zookeeper_client::SaslOptions::digest_md5(USER, PASSWORD))
        .secure_connect(&connect)
        .await
        .unwrap();
    for path in [LEADER, "/secure/leaders", "/secure/election/latch"] {
        let (acl, _) = outsider.get_acl(path).await.unwrap();
        let expected = vec![zookeeper_client::Acl::new(
            zookeeper_client::Permission::ALL,
            zookeeper_client::AuthId::new("sasl", USER),
        )];
        assert_eq!(acl, expected, "{path}");
    }
}

#[actix_rt::test]
async fn an_election_over_a_tls_ensemble_fails_over_as_over_plain_tcp() {
    init_tracing();
    let ensemble = ZkEnsemble::builder().tls().sasl_user(USER, PASSWORD).enforce_sasl().start().expect("ensemble");
    let connect = ensemble.secure_connect_string().expect("TLS ports");
    let material = ensemble.tls().expect("TLS material");
    let (clean, crash) = fail_over_twice(&connect, || mutual(material)).await;
    eprintln!("3-member ensemble, TLS + SASL: clean failover {clean:?}, session-close failover {crash:?}");

    // Failures are named on an ensemble too: a wrong CA and a wrong SASL password.
    let foreign = TestCa::new("foreign").unwrap();
    let identity = material.client_identity();
    let wrong_ca = TlsConfig::ca_pem(foreign.cert_pem()).client_identity_pem(identity.cert_pem(), identity.key_pem());
    let (error, after) = first_failure(with(&connect, wrong_ca)).await;
    eprintln!("ensemble, wrong CA: reported after {after:?}: {error}");
    assert!(matches!(&error, ZkError::Tls(f) if f.problem == TlsProblem::UnknownIssuer), "{error:?}");
    let (error, after) = first_failure(secured(&connect, mutual(material), USER, "wrong")).await;
    eprintln!("ensemble, wrong SASL password: reported after {after:?}: {error}");
    assert_eq!(error, ZkError::AuthFailed);
}

/// Starts a session with `config` and returns the first failure it reports and when.
async fn first_failure(config: SessionConfig) -> (ZkError, Duration) {
    let started = Instant::now();
    let session = ZkSession::start(config);
    let (recipient, mut failures) = probe::<SessionFailed>();
    session.send(SubscribeFailures(recipient)).await.unwrap();
    let (at, failure) = failures.next(REPORT_BOUND).await;
    let _ = session.send(StopSession).await;
    (failure.error, at - started)
}

/// Whether a reported error is the one a case expects.
type Verdict = fn(&ZkError) -> bool;

fn with(connect: &str, tls: TlsConfig) -> SessionConfig {
    secured(connect, tls, USER, PASSWORD)
}

#[actix_rt::test]
async fn each_misconfiguration_is_reported_at_once_with_its_cause() {
    init_tracing();
    let server = secured_server();
    let connect = server.secure_connect_string().expect("TLS port");
    let material = server.tls().expect("TLS material");
    let foreign = TestCa::new("foreign").unwrap();
    let expired_client = material.ca().client_identity("expired", Validity::Expired).unwrap();
    let identity = material.client_identity();

    let cases: Vec<(&str, SessionConfig, Verdict)> = vec![
        (
            "CA that did not sign the server's certificate",
            with(
                &connect,
                TlsConfig::ca_pem(foreign.cert_pem()).client_identity_pem(identity.cert_pem(), identity.key_pem()),
            ),
            |e| matches!(e, ZkError::Tls(f) if f.problem == TlsProblem::UnknownIssuer),
        ),
        (
            "no client certificate for a server that demands one",
            with(&connect, TlsConfig::ca_file(material.ca_path())),
            |e| matches!(e, ZkError::Tls(f) if f.problem == TlsProblem::ClientCertificateRequired),
        ),
        (
            "expired client certificate",
            with(
                &connect,
                TlsConfig::ca_file(material.ca_path())
                    .client_identity_pem(expired_client.cert_pem(), expired_client.key_pem()),
            ),
            |e| matches!(e, ZkError::Tls(f) if matches!(f.problem, TlsProblem::ClientCertificateRejected { .. })),
        ),
        ("wrong SASL password", secured(&connect, mutual(material), USER, "wrong"), |e| *e == ZkError::AuthFailed),
        (
            "SASL required, none configured",
            SessionConfig::builder(&connect).session_timeout(SESSION_TIMEOUT).tls(mutual(material)).build().unwrap(),
            |e| *e == ZkError::AuthRequired,
        ),
    ];
    for (case, config, expected) in cases {
        let (error, after) = first_failure(config).await;
        eprintln!("{case}: reported after {after:?}: {error}");
        assert!(expected(&error), "{case}: got {error:?}");
        assert!(after < REPORT_BOUND, "{case}: reported after {after:?}");
    }

    // A server certificate that has expired.
    let expired =
        ZkServer::builder().tls().tls_client_auth(ClientAuth::None).tls_expired_server_cert().start().unwrap();
    let connect = expired.secure_connect_string().expect("TLS port");
    let config = SessionConfig::builder(&connect)
        .session_timeout(SESSION_TIMEOUT)
        .tls(TlsConfig::ca_pem(expired.tls().expect("TLS").ca_pem()))
        .build()
        .unwrap();
    let (error, after) = first_failure(config).await;
    eprintln!("expired server certificate: reported after {after:?}: {error}");
    assert!(matches!(&error, ZkError::Tls(f) if f.problem == TlsProblem::ServerCertificateExpired), "{error:?}");
}

#[actix_rt::test]
async fn contenders_hear_a_tls_failure_as_an_error_event() {
    init_tracing();
    let server = ZkServer::builder().tls().start().expect("TLS zookeeper");
    let connect = server.secure_connect_string().expect("TLS port");
    let foreign = TestCa::new("foreign").unwrap();
    let config = SessionConfig::builder(&connect)
        .session_timeout(SESSION_TIMEOUT)
        .tls(TlsConfig::ca_pem(foreign.cert_pem()))
        .build()
        .unwrap();
    let session = ZkSession::start(config);
    let supervisor = ElectionSupervisor::start(session.clone(), ElectionConfig::builder(LATCH).build().unwrap());
    let mut events = subscribe(&supervisor, "jobmanager", "a:1", LEADER, true).await;
    let (_, event) = events.until(REPORT_BOUND, |e| matches!(e, LeadershipEvent::Error { .. })).await;
    let LeadershipEvent::Error { error, .. } = event else { unreachable!() };
    assert!(
        matches!(&error, ElectionError::ZooKeeper(ZkError::Tls(f)) if f.problem == TlsProblem::UnknownIssuer),
        "{error:?}"
    );
    assert!(error.to_string().contains("not signed by a trusted CA"), "{error}");
    let _ = session.send(StopSession).await;
}

/// Writes `pem` to `path` the way a rotation tool would: a new file renamed over the old one.
fn replace(path: &Path, pem: &str) {
    let next = path.with_extension("next");
    std::fs::write(&next, pem).unwrap();
    std::fs::rename(&next, path).unwrap();
}

#[actix_rt::test]
async fn a_rotated_client_certificate_is_picked_up_without_a_restart() {
    init_tracing();
    let server = ZkServer::builder().tls().start().expect("TLS zookeeper");
    let connect = server.secure_connect_string().expect("TLS port");
    let material = server.tls().expect("TLS");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("client.pem"), dir.path().join("client-key.pem"));
    let expired = material.ca().client_identity("rotating", Validity::Expired).unwrap();
    replace(&cert, expired.cert_pem());
    replace(&key, expired.key_pem());

    let tls = TlsConfig::ca_file(material.ca_path())
        .client_identity_files(&cert, &key)
        .reload_every(Duration::from_millis(200));
    let config = SessionConfig::builder(&connect).session_timeout(SESSION_TIMEOUT).tls(tls).build().unwrap();
    let session = ZkSession::start(config);
    let (recipient, mut failures) = probe::<SessionFailed>();
    session.send(SubscribeFailures(recipient)).await.unwrap();
    let (state_recipient, mut states) = probe::<zk_election::ConnectionStateChanged>();
    session.send(zk_election::session::SubscribeConnection(state_recipient)).await.unwrap();
    let (_, failure) = failures.next(REPORT_BOUND).await;
    assert!(
        matches!(&failure.error, ZkError::Tls(f) if matches!(f.problem, TlsProblem::ClientCertificateRejected { .. }))
    );

    // The operator installs a current certificate: the next attempt uses it.
    let current = material.ca().client_identity("rotating", Validity::Current).unwrap();
    let rotated = Instant::now();
    replace(&key, current.key_pem());
    replace(&cert, current.cert_pem());
    let connected = expect_state(&mut states, ConnectionState::Connected, 15 * SECOND).await;
    eprintln!("connected {:?} after the rotation", connected - rotated);
    let _ = session.send(StopSession).await;
}

#[test]
fn unusable_tls_files_are_configuration_errors_naming_the_file() {
    let missing = SessionConfig::builder("127.0.0.1:2281").tls(TlsConfig::ca_file("/nonexistent/ca.pem")).build();
    assert!(
        matches!(&missing, Err(ConfigError::TlsMaterial { what: "CA bundle", origin, .. }) if origin == "/nonexistent/ca.pem"),
        "{missing:?}"
    );
    let not_pem = SessionConfig::builder("127.0.0.1:2281").tls(TlsConfig::ca_pem("not a certificate")).build();
    assert!(matches!(&not_pem, Err(ConfigError::TlsMaterial { what: "CA bundle", .. })), "{not_pem:?}");

    let ca = TestCa::new("ca").unwrap();
    let one = ca.client_identity("one", Validity::Current).unwrap();
    let two = ca.client_identity("two", Validity::Current).unwrap();
    let mismatched = SessionConfig::builder("127.0.0.1:2281")
        .tls(TlsConfig::ca_pem(ca.cert_pem()).client_identity_pem(one.cert_pem(), two.key_pem()))
        .build();
    assert!(matches!(&mismatched, Err(ConfigError::TlsMaterial { what: "client key", .. })), "{mismatched:?}");
    let no_key = SessionConfig::builder("127.0.0.1:2281")
        .tls(TlsConfig::ca_pem(ca.cert_pem()).client_identity_pem(one.cert_pem(), ""))
        .build();
    assert!(matches!(&no_key, Err(ConfigError::TlsMaterial { what: "client key", .. })), "{no_key:?}");
    // The Debug form never shows key material.
    let config = SessionConfig::builder("127.0.0.1:2281")
        .tls(TlsConfig::ca_pem(ca.cert_pem()).client_identity_pem(one.cert_pem(), one.key_pem()))
        .sasl_digest("app", "s3cret")
        .build()
        .unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("PRIVATE KEY") && !shown.contains("s3cret"), "{shown}");
}
