//! `zk-elect` against a secured ZooKeeper (mutual TLS, SASL DIGEST-MD5 enforced): the flags
//! work on every subcommand, passwords come from the environment or a file and never reach the
//! command `run` starts, a failed handshake or login prints an `error` event naming the cause
//! within seconds, and a password on the command line is refused or warned about.

mod common;

use std::time::{Duration, Instant};

use common::*;
use zk_election::testkit::{TestCa, ZkServer};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/cli-secure/latch";
const LEADER: &str = "/cli-secure/leader";
const USER: &str = "app";
const PASSWORD: &str = "app-secret";

/// A server with mutual TLS and SASL enforced for `app`.
fn secured_server() -> ZkServer {
    ZkServer::builder().tls().sasl_user(USER, PASSWORD).enforce_sasl().start().expect("secured zookeeper")
}

/// `--tls-ca`, `--tls-cert`, `--tls-key` and `--sasl-user` for `server`'s own material.
fn secure_flags(server: &ZkServer) -> Vec<String> {
    let tls = server.tls().expect("TLS material");
    let path = |p: std::path::PathBuf| p.display().to_string();
    vec![
        "--tls-ca".into(),
        path(tls.ca_path()),
        "--tls-cert".into(),
        path(tls.client_cert_path()),
        "--tls-key".into(),
        path(tls.client_key_path()),
        "--sasl-user".into(),
        USER.into(),
    ]
}

fn campaign(connect: &str, address: &str, secure: &[String]) -> Vec<String> {
    let mut args: Vec<String> =
        ["campaign", "--connect", connect, "--latch-path", LATCH, "--leader-path", LEADER].map(String::from).to_vec();
    args.extend(["--address".into(), address.into(), "--json".into(), "--session-timeout-ms".into(), "6000".into()]);
    args.extend(secure.iter().cloned());
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[actix_rt::test]
async fn campaign_observe_and_run_over_tls_and_sasl() {
    let server = secured_server();
    let connect = server.secure_connect_string().expect("TLS port");
    let secure = secure_flags(&server);
    let env = [("ZK_ELECT_SASL_PASSWORD", PASSWORD)];

    let mut leader = ZkElect::spawn_with_env("leader", &strs(&campaign(&connect, "a:1", &secure)), &env);
    leader.expect("published", 15 * SECOND).await;

    // The password from a file works as well (one trailing newline ignored).
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("sasl-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let mut observe: Vec<String> =
        ["observe", "--connect", &connect, "--leader-path", LEADER, "--json"].map(String::from).to_vec();
    observe.extend(secure.iter().cloned());
    observe.extend(["--sasl-password-file".into(), password_file.display().to_string()]);
    let mut observer = ZkElect::spawn("observer", &strs(&observe));
    let seen = observer.expect("leader", 15 * SECOND).await;
    assert_eq!(seen["address"], "a:1", "{seen}");

    // `run` hands CMD the election's variables but not our password.
    let out = dir.path().join("env");
    let script = format!("env > {}; sleep 30", out.display());
    let mut run: Vec<String> =
        ["run", "--connect", &connect, "--latch-path", "/cli-secure/run-latch"].map(String::from).to_vec();
    run.extend(["--leader-path", "/cli-secure/run-leader", "--address", "r:1", "--json"].map(String::from));
    run.extend(secure.iter().cloned());
    run.extend(["--", "sh", "-c", &script].map(String::from));
    let mut runner = ZkElect::spawn_with_env("run", &strs(&run), &env);
    runner.expect("child_started", 15 * SECOND).await;
    let environment = eventually(5 * SECOND, "the command's environment", || async {
        std::fs::read_to_string(&out).ok().filter(|text| text.contains("ZK_ELECT_FENCING_TOKEN"))
    })
    .await;
    assert!(environment.contains("ZK_ELECT_ADDRESS=r:1"), "{environment}");
    assert!(!environment.contains(PASSWORD) && !environment.contains("ZK_ELECT_SASL_PASSWORD"), "{environment}");

    for process in [&mut leader, &mut observer, &mut runner] {
        process.say("quit").await;
        process.expect_clean_exit(0).await;
    }
}

#[actix_rt::test]
async fn a_failed_handshake_or_login_prints_an_error_naming_the_cause_within_seconds() {
    let server = secured_server();
    let connect = server.secure_connect_string().expect("TLS port");
    let tls = server.tls().expect("TLS material");
    let foreign = TestCa::new("foreign").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let foreign_ca = dir.path().join("foreign-ca.pem");
    std::fs::write(&foreign_ca, foreign.cert_pem()).unwrap();

    let mut wrong_ca = secure_flags(&server);
    wrong_ca[1] = foreign_ca.display().to_string();
    let no_client_cert =
        vec!["--tls-ca".to_owned(), tls.ca_path().display().to_string(), "--sasl-user".into(), USER.into()];
    let no_sasl = secure_flags(&server)[..6].to_vec();
    let cases: [(&str, Vec<String>, &str, &str); 4] = [
        ("wrong CA", wrong_ca, PASSWORD, "not signed by a trusted CA"),
        ("no client certificate", no_client_cert, PASSWORD, "requires a client certificate"),
        ("wrong SASL password", secure_flags(&server), "wrong", "authentication failed"),
        ("no SASL", no_sasl, PASSWORD, "demands authentication"),
    ];
    for (case, flags, password, cause) in cases {
        let started = Instant::now();
        let mut process = ZkElect::spawn_with_env(
            case,
            &strs(&campaign(&connect, "a:1", &flags)),
            &[("ZK_ELECT_SASL_PASSWORD", password)],
        );
        let error = process.expect("error", 5 * SECOND).await;
        let after = started.elapsed();
        eprintln!("{case}: error after {after:?}: {}", error["message"]);
        assert!(error["message"].as_str().is_some_and(|m| m.contains(cause)), "{case}: {error}");
        process.say("quit").await;
        process.expect_clean_exit(0).await;
    }
}

#[actix_rt::test]
async fn passwords_never_come_from_an_argument() {
    // --sasl-user without a password anywhere: exit 2 before connecting, naming both sources.
    let args = ["observe", "--connect", "127.0.0.1:1", "--leader-path", "/l", "--sasl-user", "app"];
    let mut process = ZkElect::spawn_text("no password", &args);
    assert_eq!(process.exit_code(5 * SECOND).await, Some(2));
    let stderr = process.stderr().await;
    assert!(stderr.contains("ZK_ELECT_SASL_PASSWORD") && stderr.contains("--sasl-password-file"), "{stderr}");

    // An unreadable CA file: exit 2, naming the file.
    let args = ["observe", "--connect", "127.0.0.1:1", "--leader-path", "/l", "--tls-ca", "/nonexistent/ca.pem"];
    let mut process = ZkElect::spawn_text("no CA", &args);
    assert_eq!(process.exit_code(5 * SECOND).await, Some(2));
    assert!(process.stderr().await.contains("/nonexistent/ca.pem"));

    // The old --digest USER:PASSWORD still works, with a warning; --digest-user takes the
    // password from the environment.
    let server = ZkServer::start().expect("zookeeper");
    let connect = server.connect_string();
    let mut old =
        ZkElect::spawn("old digest", &strs(&campaign(&connect, "a:1", &["--digest".into(), "alice:pw".into()])));
    old.expect("published", 10 * SECOND).await;
    let mut new = ZkElect::spawn_with_env(
        "new digest",
        &strs(&campaign(&connect, "b:2", &["--digest-user".into(), "alice".into()])),
        &[("ZK_ELECT_DIGEST_PASSWORD", "pw")],
    );
    new.expect("connection", 10 * SECOND).await;
    old.say("quit").await;
    old.expect_clean_exit(0).await;
    // Same credentials: the successor may use the creator-only nodes the first one made.
    new.expect("published", 10 * SECOND).await;
    new.say("quit").await;
    new.expect_clean_exit(0).await;
    assert!(old.stderr().await.contains("--digest-user"), "no deprecation warning");
}
