//! Secured testkit servers (TLS, SASL DIGEST-MD5) against a real client, `zookeeper-client`
//! with its `tls` and `sasl-digest-md5` features: the set-ups connect when they should, and
//! each misconfiguration a client library must report fails to connect, quickly.
//!
//! Needs Java and ZooKeeper (`scripts/install-zookeeper.sh`); run with
//! `cargo test --features testkit --test testkit_secure -- --nocapture` to see what the client
//! returned in each failure case and after how long.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_election::testkit::{ClientAuth, TestCa, TestIdentity, Validity, ZkEnsemble, ZkServer};
use zookeeper_client::{Acls, Client, CreateMode, SaslOptions, TlsOptions};

type TestResult = Result<(), Box<dyn Error>>;

/// The session timeout of clients expected to be refused: short, with `fail_eagerly`, as a
/// client that reports a misconfiguration at once would connect (zookeeper-client derives an
/// 800 ms connection timeout from it).
const REFUSED_SESSION_TIMEOUT: Duration = Duration::from_secs(2);
/// The session timeout of clients expected to connect: a cold JVM's first TLS handshake can
/// take most of a second on a loaded machine, more than the connection timeout above allows.
const ACCEPTED_SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused connect may take: the refusals are immediate (a TLS alert, a SASL
/// failure), so anything near the session timeout means the client retried instead.
const REFUSAL_BOUND: Duration = Duration::from_secs(5);

/// How a connect is expected to end, which decides how patient the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Accepted,
    Refused,
}

/// Logs to the test output when `RUST_LOG` is set: `RUST_LOG=zookeeper_client=debug` shows the
/// TLS error behind each refusal, which the client itself reports only as `NoHosts`.
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// TLS options trusting `ca`, presenting `identity` if given.
fn tls(ca: &str, identity: Option<&TestIdentity>) -> Result<TlsOptions, zookeeper_client::Error> {
    let options = TlsOptions::new().with_pem_ca(ca)?;
    match identity {
        Some(identity) => options.with_pem_identity(identity.cert_pem(), identity.key_pem()),
        None => Ok(options),
    }
}

/// SASL DIGEST-MD5 options for `user`.
fn sasl(user: &'static str, password: &'static str) -> Option<SaslOptions> {
    Some(SaslOptions::digest_md5(user, password).into())
}

/// Connects to `connect_string`, over TLS when `tls` is given and with SASL when `sasl` is;
/// returns the result and how long it took.
async fn connect(
    expect: Expect,
    connect_string: &str,
    tls: Option<TlsOptions>,
    sasl: Option<SaslOptions>,
) -> (Result<Client, zookeeper_client::Error>, Duration) {
    init_tracing();
    let mut connector = Client::connector();
    connector = match expect {
        Expect::Accepted => connector.with_session_timeout(ACCEPTED_SESSION_TIMEOUT),
        Expect::Refused => connector.with_session_timeout(REFUSED_SESSION_TIMEOUT).with_fail_eagerly(),
    };
    if let Some(sasl) = sasl {
        connector = connector.with_sasl(sasl);
    }
    let started = Instant::now();
    let result = match tls {
        Some(tls) => connector.with_tls(tls).secure_connect(connect_string).await,
        None => connector.connect(connect_string).await,
    };
    (result, started.elapsed())
}

/// Asserts that a connect failed within [`REFUSAL_BOUND`], prints what the client returned
/// (the record the test exists for), and returns the error.
fn refused(case: &str, (result, took): (Result<Client, zookeeper_client::Error>, Duration)) -> zookeeper_client::Error {
    let error = match result {
        Ok(_) => panic!("{case}: connected, but should have been refused"),
        Err(error) => error,
    };
    eprintln!("{case}: refused after {took:?} with {error:?} ({error})");
    assert!(took < REFUSAL_BOUND, "{case}: refusal took {took:?}");
    error
}

/// Creates `path` with `data` and reads it back.
async fn round_trip(client: &Client, path: &str, data: &[u8]) -> TestResult {
    client.create(path, data, &CreateMode::Persistent.with_acls(Acls::anyone_all())).await?;
    let (read, _) = client.get_data(path).await?;
    assert_eq!(read, data);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn mutual_tls_accepts_the_ca_signed_client_and_refuses_the_others() -> TestResult {
    let server = ZkServer::builder().tls().start()?;
    let material = server.tls().ok_or("no TLS material")?;
    assert_eq!(material.client_auth(), ClientAuth::Need);
    let secure = server.secure_connect_string().ok_or("no secure connect string")?;
    assert_ne!(secure, server.connect_string(), "the plain port stays separate");
    // The files hold what the PEM accessors return, for clients that take paths.
    assert_eq!(std::fs::read_to_string(material.ca_path())?, material.ca_pem());
    assert_eq!(std::fs::read_to_string(material.client_key_path())?, material.client_identity().key_pem());

    // CA and client identity from the server's material: accepted.
    let identity = Some(material.client_identity());
    let (client, took) = connect(Expect::Accepted, &secure, Some(tls(material.ca_pem(), identity)?), None).await;
    let client = client?;
    eprintln!("mutual TLS: connected after {took:?}");
    round_trip(&client, "/mtls", b"over tls").await?;
    // The plain port serves the same data.
    let (plain, _) = connect(Expect::Accepted, &server.connect_string(), None, None).await;
    assert_eq!(plain?.get_data("/mtls").await?.0, b"over tls");

    // Each TLS failure fails the handshake; zookeeper-client then gives up on its only host and
    // reports `NoHosts` (the TLS error is only logged, at debug level).
    let foreign = TestCa::new("foreign CA")?;
    let stranger = foreign.client_identity("stranger", Validity::Current)?;
    let expired = material.ca().client_identity("expired-client", Validity::Expired)?;
    let cases = [
        // (a) The client trusts an unrelated CA.
        ("wrong CA", foreign.cert_pem(), Some(&stranger)),
        // The right CA, but a client certificate the server's CA did not sign.
        ("client cert from a foreign CA", material.ca_pem(), Some(&stranger)),
        // (c) No client certificate where the server needs one.
        ("no client cert (clientAuth=need)", material.ca_pem(), None),
        // (d) An expired client certificate from the right CA.
        ("expired client cert", material.ca_pem(), Some(&expired)),
    ];
    for (case, ca, identity) in cases {
        let error = refused(case, connect(Expect::Refused, &secure, Some(tls(ca, identity)?), None).await);
        assert_eq!(error, zookeeper_client::Error::NoHosts, "{case}");
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn expired_server_certificate_is_refused_by_the_client() -> TestResult {
    let server = ZkServer::builder().tls_expired_server_cert().start()?;
    let material = server.tls().ok_or("no TLS material")?;
    let secure = server.secure_connect_string().ok_or("no secure connect string")?;
    // (b) Everything right on the client's side; the server's certificate expired yesterday.
    let options = tls(material.ca_pem(), Some(material.client_identity()))?;
    let error = refused("expired server cert", connect(Expect::Refused, &secure, Some(options), None).await);
    assert_eq!(error, zookeeper_client::Error::NoHosts);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn client_auth_want_accepts_a_client_without_certificate_and_a_shared_ca() -> TestResult {
    let ca = Arc::new(TestCa::new("shared CA")?);
    let server = ZkServer::builder().tls_ca(Arc::clone(&ca)).tls_client_auth(ClientAuth::Want).start()?;
    let material = server.tls().ok_or("no TLS material")?;
    assert_eq!(material.ca_pem(), ca.cert_pem());
    let secure = server.secure_connect_string().ok_or("no secure connect string")?;
    let (client, _) = connect(Expect::Accepted, &secure, Some(tls(ca.cert_pem(), None)?), None).await;
    round_trip(&client?, "/want", b"no client cert").await?;
    // A certificate that is sent is still checked.
    let expired = ca.client_identity("expired-client", Validity::Expired)?;
    let options = tls(ca.cert_pem(), Some(&expired))?;
    let error =
        refused("expired client cert (clientAuth=want)", connect(Expect::Refused, &secure, Some(options), None).await);
    assert_eq!(error, zookeeper_client::Error::NoHosts);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn sasl_enforcing_server_accepts_its_user_and_refuses_the_others() -> TestResult {
    let server = ZkServer::builder()
        .sasl_user("app-user", "s3cret \"quoted\"")
        .sasl_user("other", "pw")
        .enforce_sasl()
        .start()?;
    let plain = server.connect_string();

    let (client, took) = connect(Expect::Accepted, &plain, None, sasl("app-user", "s3cret \"quoted\"")).await;
    let client = client?;
    eprintln!("SASL: connected after {took:?}");
    round_trip(&client, "/sasl", b"authenticated").await?;

    for (case, user) in [("wrong SASL password", "app-user"), ("unknown SASL user", "nobody")] {
        let error = refused(case, connect(Expect::Refused, &plain, None, sasl(user, "wrong")).await);
        assert_eq!(error, zookeeper_client::Error::AuthFailed);
    }

    // Without SASL the server establishes the session but answers its first request with
    // SESSIONCLOSEDREQUIRESASLAUTH (-124) and closes it. zookeeper-client pings right after the
    // handshake to find this out, so connecting itself fails.
    let error = refused("no SASL (enforce.auth)", connect(Expect::Refused, &plain, None, None).await);
    assert_eq!(error, zookeeper_client::Error::AuthFailed);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn tls_and_sasl_ensemble_serves_a_secured_client_on_every_member() -> TestResult {
    let ensemble = ZkEnsemble::builder().tls().sasl_user("app", "secret").enforce_sasl().start()?;
    let material = ensemble.tls().ok_or("no TLS material")?;
    let all = ensemble.secure_connect_string().ok_or("no secure connect string")?;
    assert_eq!(all.split(',').count(), ensemble.len());
    for index in 0..ensemble.len() {
        let member = ensemble.member_secure_connect_string(index).ok_or("no member secure connect string")?;
        assert!(all.contains(&member));
        let options = tls(material.ca_pem(), Some(material.client_identity()))?;
        let (client, took) = connect(Expect::Accepted, &member, Some(options), sasl("app", "secret")).await;
        let client = client?;
        eprintln!("ensemble member {index}: TLS + SASL connected after {took:?}");
        round_trip(&client, &format!("/member-{index}"), b"secured").await?;
        // Every member sees the writes made through the others.
        client.sync("/").await?;
        for earlier in 0..=index {
            client.get_data(&format!("/member-{earlier}")).await?;
        }
    }
    // The same client without SASL is refused: TLS alone does not satisfy enforce.auth=sasl.
    let options = tls(material.ca_pem(), Some(material.client_identity()))?;
    let error = refused("TLS without SASL (enforce.auth)", connect(Expect::Refused, &all, Some(options), None).await);
    assert_eq!(error, zookeeper_client::Error::AuthFailed);
    Ok(())
}
