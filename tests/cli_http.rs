//! `zk-elect --http`: the sidecar scraped and queried over real HTTP while real `zk-elect`
//! processes campaign against a real ZooKeeper, through a fault proxy where the network must
//! break.

mod common;

use std::time::Duration;

use common::http::*;
use common::*;
use serde_json::Value;
use zk_election::testkit::{FaultProxy, ZkServer};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/http/latch";
const LEADER: &str = "/http/leader";
/// The gauge of the one contender a `zk-elect` runs.
const IS_LEADER: &str = r#"zk_election_is_leader{latch_path="/http/latch",component="zk-elect"}"#;

fn campaign_args<'a>(connect: &'a str, address: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["campaign", "--connect", connect, "--latch-path", LATCH, "--leader-path", LEADER];
    args.extend(["--address", address, "--json", "--http", "127.0.0.1:0"]);
    args.extend(extra);
    args
}

/// Starts a campaign and answers it with the address its sidecar listens at.
async fn campaign(name: &str, args: &[&str]) -> (ZkElect, String) {
    let mut process = ZkElect::spawn(name, args);
    let http = process.next(10 * SECOND).await;
    assert_eq!(http["event"], "http", "{name}: the first event names the sidecar's address");
    let address = http["address"].as_str().unwrap().to_owned();
    process.expect_where("connection", 10 * SECOND, |e| e["state"] == "connected").await;
    (process, address)
}

async fn leader(address: &str) -> Value {
    get_json(address, "/leader").await
}

#[actix_rt::test]
async fn metrics_leader_and_a_failover_seen_over_http() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (zk, _s) = connected_session(&cs, 4 * SECOND).await;
    let (mut a, a_http) = campaign("campaign a", &campaign_args(&cs, "a.example:1", &[])).await;
    let a_session = a.expect("published", 10 * SECOND).await["session_id"].clone();
    let (mut b, b_http) = campaign("campaign b", &campaign_args(&cs, "b.example:2", &[])).await;
    await_children(&zk, LATCH, 2, 10 * SECOND).await;

    // The leader reads 1, the follower 0; both name the leader.
    assert_eq!(sample(&a_http, IS_LEADER).await, Some(1.0));
    assert_eq!(sample(&b_http, IS_LEADER).await, Some(0.0));
    let grants = r#"zk_election_grants_total{latch_path="/http/latch",component="zk-elect"}"#;
    assert_eq!(sample(&a_http, grants).await, Some(1.0));
    assert!(sample(&a_http, r#"zk_election_zk_requests_total{kind="multi"}"#).await.unwrap() >= 1.0);
    assert_eq!(sample(&a_http, "zk_election_sessions_established_total").await, Some(1.0));
    let named = eventually(5 * SECOND, "b's sidecar names a", || async {
        let named = leader(&b_http).await;
        (named["address"] == "a.example:1").then_some(named)
    })
    .await;
    assert_eq!(named["leader_session"], a_session);
    assert!(named["fencing_token"].as_i64().is_some(), "{named}");
    // Each sidecar numbers what it saw itself.
    let who = |mut leader: Value| {
        leader.as_object_mut().and_then(|fields| fields.remove("sequence")).expect("numbered");
        leader
    };
    assert_eq!(who(leader(&a_http).await), who(named.clone()));
    assert_eq!(get(&a_http, "/healthz").await.0, 200);

    // What is not served.
    assert_eq!(get(&a_http, "/nothing").await.0, 404);
    assert_eq!(exchange(&a_http, "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi").await.0, 405);
    assert_eq!(exchange(&a_http, "GET /metrics\r\n\r\n").await.0, 400);

    // a leaves: b's event stream goes from a to b, and b's gauge to 1.
    let mut watch = Watch::open(&b_http).await;
    assert_eq!(watch.next(5 * SECOND).await, named, "the stream starts with the current leader");
    a.say("quit").await;
    a.expect_clean_exit(0).await;
    let b_session = b.expect("published", 10 * SECOND).await["session_id"].clone();
    let successor = loop {
        let event = watch.next(10 * SECOND).await;
        if event["address"] == "b.example:2" {
            break event;
        }
        assert!(event["address"].is_null(), "only no leader may come between: {event}");
    };
    assert_eq!(successor["leader_session"], b_session);
    assert_eq!(sample(&b_http, IS_LEADER).await, Some(1.0));
    let latency = r#"zk_election_grant_to_published_seconds_count{latch_path="/http/latch",component="zk-elect"}"#;
    assert_eq!(sample(&b_http, latency).await, Some(1.0));
    let waited = r#"zk_election_leaderless_seconds_count{latch_path="/http/latch",component="zk-elect"}"#;
    assert_eq!(sample(&b_http, waited).await, Some(1.0));
    b.say("quit").await;
    b.expect_clean_exit(0).await;
}

#[actix_rt::test]
async fn a_partitioned_leader_turns_unhealthy_and_reads_0() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let cs = proxy.connect_string();
    let (mut a, a_http) =
        campaign("campaign a", &campaign_args(&cs, "a.example:1", &["--session-timeout-ms", "2000"])).await;
    a.expect("published", 10 * SECOND).await;
    assert_eq!(sample(&a_http, IS_LEADER).await, Some(1.0));
    let (status, body) = get(&a_http, "/healthz").await;
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()["healthy"].clone()), (200, Value::Bool(true)));

    // Partitioned past the session timeout: revoked (gauge 0), then the session is lost: 503.
    proxy.blackhole();
    a.expect("revoked", 5 * SECOND).await;
    assert_eq!(sample(&a_http, IS_LEADER).await, Some(0.0));
    let revokes = r#"zk_election_revokes_total{latch_path="/http/latch",component="zk-elect"}"#;
    assert_eq!(sample(&a_http, revokes).await, Some(1.0));
    a.expect_where("connection", 6 * SECOND, |e| e["state"] == "lost").await;
    let (status, body) = get(&a_http, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((&health["healthy"], &health["state"]), (&Value::Bool(false), &Value::from("lost")));
    assert_eq!(sample(&a_http, "zk_election_session_suspensions_total").await, Some(1.0));
    assert_eq!(sample(&a_http, "zk_election_sessions_lost_total").await, Some(1.0));

    // The network heals: a new session, healthy again, leading again.
    proxy.pass();
    a.expect("published", 15 * SECOND).await;
    assert_eq!(get(&a_http, "/healthz").await.0, 200);
    assert_eq!(sample(&a_http, IS_LEADER).await, Some(1.0));
    assert_eq!(sample(&a_http, "zk_election_sessions_established_total").await, Some(2.0));
    a.say("quit").await;
    a.expect_clean_exit(0).await;
}

/// A leader that finds the leader node naming another leader (a stale leader's late write, a
/// foreign writer) counts a conflict and takes the node back.
#[actix_rt::test]
async fn a_leader_counts_a_conflicting_claim_and_takes_the_node_back() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (zk, _s) = connected_session(&cs, 4 * SECOND).await;
    let (mut a, a_http) = campaign("campaign a", &campaign_args(&cs, "a.example:1", &[])).await;
    let ours = a.expect("published", 10 * SECOND).await["session_id"].as_str().unwrap().to_owned();
    let conflicts = r#"zk_election_leader_conflicts_total{latch_path="/http/latch",component="zk-elect"}"#;
    assert_eq!(sample(&a_http, conflicts).await, None, "no conflict yet");

    let other = zk_election::LeaderInfo {
        address: "zombie:1".into(),
        leader_session: uuid::Uuid::new_v4(),
        fencing_token: Some(1),
    };
    let data = zk_election::LeaderInfoCodec::Bincode.encode(&other).unwrap();
    let overwrite = zk_election::zk::SetData { path: LEADER.into(), data, version: None };
    ops(&zk).send(overwrite).await.unwrap().expect("overwritten");
    eventually(5 * SECOND, "a counts the conflict", || async {
        (sample(&a_http, conflicts).await == Some(1.0)).then_some(())
    })
    .await;
    eventually(5 * SECOND, "a's node again", || async {
        (leader(&a_http).await["leader_session"] == ours.as_str()).then_some(())
    })
    .await;
    a.say("quit").await;
    a.expect_clean_exit(0).await;
}
