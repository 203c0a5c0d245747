//! `zk-elect` on bad input and without a server: arguments the protocol or the election cannot
//! honour end with exit code 2 and the reason on stderr before anything connects; without a
//! reachable server it says it is connecting, stops silently when told to, and gives up after
//! `--connect-timeout-ms`; peer-controlled text cannot forge output lines.

mod common;

use std::time::{Duration, Instant};

use common::*;
use zk_election::testkit::ZkServer;
use zk_election::{LeaderInfo, LeaderInfoCodec};

const SECOND: Duration = Duration::from_secs(1);
/// Nothing listens there: connections are refused at once.
const NOBODY: &str = "127.0.0.1:1";

/// `campaign` arguments with the given paths, against `connect`.
fn campaign<'a>(connect: &'a str, latch: &'a str, leader: &'a str) -> Vec<&'a str> {
    vec!["campaign", "--connect", connect, "--latch-path", latch, "--leader-path", leader, "--address", "h:1"]
}

/// Runs `args` (stdin open), expects exit code 2 within a few seconds, nothing on stdout, and
/// `hint` on stderr. Answers stderr.
async fn expect_usage_error(args: &[&str], hint: &str) -> String {
    let mut process = ZkElect::spawn_text(&format!("{args:?}"), args);
    assert_eq!(process.exit_code(5 * SECOND).await, Some(2), "{args:?}");
    let stdout = process.rest(SECOND).await;
    let stderr = process.stderr().await;
    assert!(stderr.contains(hint), "{args:?}: expected {hint:?} in stderr: {stderr}");
    assert!(stdout.is_empty(), "{args:?}: usage error on stdout: {stdout:?}");
    stderr
}

#[actix_rt::test]
async fn session_timeouts_the_protocol_or_the_server_cannot_honour_exit_2() {
    for (ms, hint) in [("2147483648", "2147483647 ms"), ("1", "1000 ms"), ("10", "1000 ms"), ("999", "1000 ms")] {
        let mut args = campaign(NOBODY, "/app/latch", "/app/leader");
        args.extend(["--session-timeout-ms", ms]);
        expect_usage_error(&args, hint).await;
    }
    for ms in ["1000", "2147483647"] {
        let mut args = campaign(NOBODY, "/app/latch", "/app/leader");
        args.extend(["--session-timeout-ms", ms]);
        let mut process = ZkElect::spawn_text(&format!("timeout {ms}"), &args);
        assert!(process.still_running_after(SECOND).await, "--session-timeout-ms {ms} refused");
    }
}

#[actix_rt::test]
async fn reserved_and_overlapping_paths_exit_2() {
    let reserved = "ZooKeeper's reserved";
    expect_usage_error(&campaign(NOBODY, "/zookeeper/x", "/app/leader"), reserved).await;
    expect_usage_error(&campaign(NOBODY, "/app/latch", "/zookeeper"), reserved).await;
    expect_usage_error(&campaign("127.0.0.1:1/zookeeper", "/app/latch", "/app/leader"), reserved).await;
    expect_usage_error(&["observe", "--connect", NOBODY, "--leader-path", "/zookeeper/quota"], reserved).await;
    for (latch, leader) in [("/a/b", "/a/b"), ("/a/b", "/a/b/c"), ("/a/b", "/a")] {
        let stderr = expect_usage_error(&campaign(NOBODY, latch, leader), "overlaps").await;
        assert!(stderr.contains(latch) && stderr.contains(leader), "{stderr}");
        let mut run = campaign(NOBODY, latch, leader);
        run[0] = "run";
        run.extend(["--", "true"]);
        expect_usage_error(&run, "overlaps").await;
    }
    // Siblings that share a prefix do not overlap.
    let mut apart = ZkElect::spawn_text("apart", &campaign(NOBODY, "/a/b", "/a/bc"));
    assert!(apart.still_running_after(SECOND).await, "/a/b and /a/bc refused");
}

/// Before the first session: `connecting` at once, one warning for all the failed attempts, and
/// `quit` stops without an error (there was nothing to leave).
#[actix_rt::test]
async fn quitting_before_the_first_session_is_silent() {
    for stop in ["quit", "SIGTERM"] {
        let mut args = campaign(NOBODY, "/app/latch", "/app/leader");
        args.push("--json");
        let mut process = ZkElect::spawn_text(&format!("campaign, {stop} before connecting"), &args);
        tokio::time::sleep(SECOND).await;
        match stop {
            "quit" => process.say("quit").await,
            _ => process.signal(libc::SIGTERM),
        }
        let lines = process.rest(5 * SECOND).await;
        let events: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let seen: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e["event"].as_str().unwrap_or_default(), e["state"].as_str().unwrap_or_default()))
            .collect();
        assert_eq!(seen, [("connection", "connecting"), ("stopped", "")], "{lines:?}");
        assert_eq!(process.exit_code(5 * SECOND).await, Some(0));
    }
}

/// Without a reachable server: `connecting` at once (JSON and text), the first failed attempt
/// warned about once, the others only at debug level.
#[actix_rt::test]
async fn without_a_server_it_says_it_is_connecting_and_warns_once() {
    let mut json = ZkElect::spawn("observe json", &["observe", "--connect", NOBODY, "--leader-path", "/l", "--json"]);
    let first = json.next(5 * SECOND).await;
    assert_eq!((first["event"].as_str(), first["state"].as_str()), (Some("connection"), Some("connecting")), "{first}");
    assert!(first["ts_ms"].as_u64().is_some(), "{first}");

    let mut text = ZkElect::spawn_text("observe text", &["observe", "--connect", NOBODY, "--leader-path", "/l"]);
    let first = text.line(5 * SECOND).await;
    assert!(first.ends_with(" connecting to ZooKeeper"), "{first}");
    // Several attempts fail within 2 s (the backoff starts at 100 ms); one warning.
    tokio::time::sleep(2 * SECOND).await;
    text.say("quit").await;
    assert_eq!(text.exit_code(5 * SECOND).await, Some(0));
    let stderr = text.stderr().await;
    let warnings = stderr.lines().filter(|l| l.contains("cannot establish a ZooKeeper session")).count();
    assert_eq!(warnings, 1, "{stderr}");
}

/// Whether a give-up message says why the last attempt failed: the connection was refused, or
/// (when the client folds the refusals of every host into one, `ZkError::NoHosts`) no server
/// could be reached.
fn names_the_failure(message: &str) -> bool {
    let message = message.to_lowercase();
    let why = ["refused", "no available hosts", "no zookeeper server could be reached"];
    message.contains("last failure") && why.iter().any(|why| message.contains(why))
}

/// `--connect-timeout-ms`: no session within it ends the command with exit code 1 and a message
/// naming the connect string and why the last attempt failed.
#[actix_rt::test]
async fn no_session_within_the_connect_timeout_exits_1() {
    for subcommand in ["campaign", "observe", "run"] {
        let mut args = vec![subcommand, "--connect", NOBODY, "--connect-timeout-ms", "1500", "--json"];
        args.extend(match subcommand {
            "observe" => &["--leader-path", "/app/leader"][..],
            "campaign" => &["--latch-path", "/app/latch", "--leader-path", "/app/leader", "--address", "h:1"],
            _ => &["--latch-path", "/app/latch", "--leader-path", "/app/leader", "--address", "h:1", "--", "true"],
        });
        let started = Instant::now();
        let mut process = ZkElect::spawn_text(&format!("{subcommand} with a connect timeout"), &args);
        assert_eq!(process.exit_code(10 * SECOND).await, Some(1), "{subcommand}");
        let took = started.elapsed();
        assert!(took >= 1500 * Duration::from_millis(1) && took < 5 * SECOND, "{subcommand} gave up after {took:?}");
        let events: Vec<serde_json::Value> =
            process.rest(SECOND).await.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let last = events.last().expect("an event");
        assert_eq!(last["event"], "error", "{events:?}");
        let message = last["message"].as_str().unwrap_or_default();
        assert!(message.contains(NOBODY) && message.contains("1500 ms"), "{message}");
        assert!(names_the_failure(message), "no reason in: {message}");
    }
    // Text mode: the reason on stderr too.
    let args = ["observe", "--connect", NOBODY, "--connect-timeout-ms", "500", "--leader-path", "/l"];
    let mut process = ZkElect::spawn_text("observe text with a connect timeout", &args);
    assert_eq!(process.exit_code(10 * SECOND).await, Some(1));
    let stderr = process.stderr().await;
    assert!(stderr.contains(NOBODY) && names_the_failure(&stderr), "{stderr}");
    // A zero timeout is a usage error.
    let zero = ["observe", "--connect", NOBODY, "--connect-timeout-ms", "0", "--leader-path", "/l"];
    expect_usage_error(&zero, "--connect-timeout-ms").await;
}

/// An address the Java codec cannot write is the user's mistake: exit 2 with the reason on
/// stderr, in both output modes.
#[actix_rt::test]
async fn an_unencodable_address_exits_2_with_the_reason_on_stderr() {
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let huge = "x".repeat(70_000);
    for json in [false, true] {
        let mut args = vec!["campaign", "--connect", &cs, "--latch-path", "/app/latch", "--leader-path", "/app/leader"];
        args.extend(["--codec", "java", "--address", &huge]);
        if json {
            args.push("--json");
        }
        let mut process = ZkElect::spawn_text(&format!("huge address, json {json}"), &args);
        assert_eq!(process.exit_code(10 * SECOND).await, Some(2), "json {json}");
        let stderr = process.stderr().await;
        assert!(stderr.contains("cannot be encoded"), "json {json}: stderr: {stderr}");
    }
}

/// Text output escapes control characters of peer-controlled strings: a leader address with a
/// newline cannot print a second, forged line, nor an escape sequence reach the terminal.
#[actix_rt::test]
async fn text_output_escapes_control_characters_of_leader_addresses() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (zk, _s) = connected_session(&cs, 4 * SECOND).await;
    let evil = "evil\nleader is 10.6.6.6:1\u{1b}[2J";
    let data = LeaderInfoCodec::Bincode.encode(&LeaderInfo::new(evil, uuid::Uuid::nil())).unwrap();
    create_persistent(&zk, "/evil/leader", &data).await;

    let mut observer =
        ZkElect::spawn_text("observe evil", &["observe", "--connect", &cs, "--leader-path", "/evil/leader"]);
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("leader")) {
        lines.push(observer.line(10 * SECOND).await);
    }
    observer.say("quit").await;
    lines.extend(observer.rest(5 * SECOND).await);
    let timestamp = regex_lite::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ").unwrap();
    for line in &lines {
        assert!(timestamp.is_match(line), "a line without timestamp (forged?): {line:?} in {lines:?}");
        assert!(!line.contains('\u{1b}'), "raw escape character in {line:?}");
    }
    let leader = lines.iter().find(|l| l.contains("leader is")).expect("a leader line");
    assert!(leader.contains(r"leader is evil\nleader is 10.6.6.6:1\u{1b}[2J, leader session"), "{leader}");
    assert_eq!(lines.iter().filter(|l| l.contains("10.6.6.6")).count(), 1, "{lines:?}");
}
