//! Observers that keep working and remember, against real ZooKeeper servers: numbered
//! observations with an explicit vacancy, the last leader kept (marked stale) through a server
//! outage and a quorum loss, the history of terms with how each ended, and the sidecar's
//! resumable event stream, history, line and metrics.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix::prelude::*;
use common::http::*;
use common::*;
use serde_json::Value;
use zk_election::testkit::{ZkEnsemble, ZkServer};
use zk_election::{
    ElectionConfig, Freshness, GetHistory, GetObservation, LeaderInfoCodec, LeaderRetriever, LeaderState, Observation,
    Resign, StopElection, SubscribeObservations, SubscribeTerms, Term, TermEnd, Transfer, ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/observers/latch";
const LEADER: &str = "/observers/leader";
const COMPONENT: &str = "jobmanager";

/// A retriever of [`LEADER`] that knows the line of [`LATCH`], its observations and ended terms.
async fn observer(session: &Addr<ZkSession>) -> (Addr<LeaderRetriever>, Received<Observation>, Received<Term>) {
    observer_with(session, false).await
}

/// [`observer`], with a persistent watch if `persistent`.
async fn observer_with(
    session: &Addr<ZkSession>,
    persistent: bool,
) -> (Addr<LeaderRetriever>, Received<Observation>, Received<Term>) {
    let mut retriever = LeaderRetriever::new(session.clone(), LEADER, LeaderInfoCodec::Bincode)
        .and_then(|retriever| retriever.with_line(LATCH))
        .expect("valid paths");
    if persistent {
        retriever = retriever.with_persistent_watch();
    }
    let retriever = retriever.start();
    let (recipient, observations) = probe::<Observation>();
    retriever.send(SubscribeObservations(recipient)).await.unwrap();
    let (recipient, terms) = probe::<Term>();
    retriever.send(SubscribeTerms(recipient)).await.unwrap();
    (retriever, observations, terms)
}

fn leading_address(observation: &Observation) -> Option<&str> {
    match &observation.state {
        LeaderState::Leading { address, .. } => Some(address),
        _ => None,
    }
}

/// Collects observations until one satisfies `wanted`, checking that the sequence numbers
/// follow `last` one by one.
async fn observe_until(
    observations: &mut Received<Observation>,
    last: &mut u64,
    within: Duration,
    wanted: impl Fn(&Observation) -> bool,
) -> Observation {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let (_, observation) = observations.next(left).await;
        assert_eq!(observation.sequence, *last + 1, "a gap or a repeat before {observation:?}");
        *last = observation.sequence;
        if wanted(&observation) {
            return observation;
        }
    }
}

async fn contender(connect: &str, config: ElectionConfig, address: &str, timeout: Duration) -> Participant {
    Participant::start(connect, config, COMPONENT, address, LEADER, true, timeout).await
}

fn plain() -> ElectionConfig {
    ElectionConfig::builder(LATCH).build().unwrap()
}

/// A leader that keeps leading through an outage within its session: the standard policy would
/// step down and lead again under a new leader session, a change of its own on top of the
/// outage the test looks at.
fn tolerant() -> ElectionConfig {
    ElectionConfig::builder(LATCH).policy(zk_election::ConnectionLossPolicy::SessionTolerant).build().unwrap()
}

/// Numbered from 1 without gaps; an absent leader node is `Vacant`, never "unknown"; a server
/// outage keeps the last leader as the answer, marked stale since the connection dropped,
/// and a reconnect makes it live again.
#[actix_rt::test]
async fn observations_are_numbered_and_an_outage_leaves_the_last_leader_stale() {
    init_tracing();
    let server = Arc::new(ZkServer::start().expect("zookeeper"));
    let cs = server.connect_string();
    // Sessions outlive the restart.
    let timeout = 10 * SECOND;
    let (session, mut states) = connected_session(&cs, timeout).await;
    let (retriever, mut observations, _terms) = observer(&session).await;
    let mut last = 0;
    let first = observe_until(&mut observations, &mut last, 5 * SECOND, |_| true).await;
    assert_eq!((first.sequence, &first.state, first.freshness), (1, &LeaderState::Vacant, Freshness::Live));

    let mut a = contender(&cs, tolerant(), "a:1", timeout).await;
    let (leader_session, token) = expect_publication(&mut a.events, 5 * SECOND).await;
    let leading = observe_until(&mut observations, &mut last, 5 * SECOND, |o| o.freshness == Freshness::Live).await;
    let expected = LeaderState::Leading { address: "a:1".into(), leader_session, fencing_token: Some(token) };
    assert_eq!(leading.state, expected);

    let killed_at = SystemTime::now();
    let killing = server.clone();
    blocking(move || killing.kill()).await.expect("kill");
    let stale = observe_until(&mut observations, &mut last, 5 * SECOND, |_| true).await;
    assert_eq!(stale.state, expected, "the last leader stays the answer");
    let Freshness::Stale { since } = stale.freshness else { panic!("not stale: {stale:?}") };
    assert!(since >= killed_at && since <= SystemTime::now(), "stale since {since:?}, killed at {killed_at:?}");
    assert_eq!(retriever.send(GetObservation).await.unwrap(), Some(stale.clone()));

    let restarting = server.clone();
    blocking(move || restarting.restart()).await.expect("restart");
    expect_state(&mut states, zk_election::ConnectionState::Reconnected { same_session: true }, 15 * SECOND).await;
    let live = observe_until(&mut observations, &mut last, 5 * SECOND, |_| true).await;
    assert_eq!((live.state, live.freshness), (expected, Freshness::Live));

    // The leader leaves: an explicit vacancy, live.
    a.supervisor.send(StopElection).await.unwrap().ok();
    let vacant = observe_until(&mut observations, &mut last, 10 * SECOND, |_| true).await;
    assert_eq!((vacant.state, vacant.freshness), (LeaderState::Vacant, Freshness::Live));
    let quiet = observations.drain_for(SECOND).await;
    assert!(quiet.is_empty(), "nothing changed, nothing told: {quiet:?}");
}

/// The history names how each term ended, read off the line: a resign, a transfer, a stop, a
/// preemption by a candidate of higher priority; the current term lasts.
#[actix_rt::test]
async fn history_tells_how_each_term_ended() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (session, _states) = connected_session(&cs, 6 * SECOND).await;
    let (retriever, _observations, mut terms) = observer(&session).await;
    let timeout = 6 * SECOND;
    let mut a = contender(&cs, plain(), "a:1", timeout).await;
    expect_published(&mut a.events, 5 * SECOND).await;
    let mut b = contender(&cs, plain(), "b:1", timeout).await;
    await_children(&session, LATCH, 2, 5 * SECOND).await;
    let c = contender(&cs, plain(), "c:1", timeout).await;
    await_children(&session, LATCH, 3, 5 * SECOND).await;

    let ended = |term: &Term| (term.address.clone(), term.end);
    // a resigns: b leads, a queues behind c.
    a.supervisor.send(Resign::new(COMPONENT)).await.unwrap().expect("resign");
    expect_published(&mut b.events, 5 * SECOND).await;
    assert_eq!(ended(&terms.next(5 * SECOND).await.1), ("a:1".into(), Some(TermEnd::Resigned)));

    // b hands over to a, at the back: c, in between, is passed over.
    b.supervisor.send(Transfer::to_address("a:1")).await.unwrap().expect("transfer");
    expect_published(&mut a.events, 5 * SECOND).await;
    assert_eq!(ended(&terms.next(5 * SECOND).await.1), ("b:1".into(), Some(TermEnd::Transferred)));

    // a stops: whoever is next leads, and a is gone from the line.
    a.supervisor.send(StopElection).await.unwrap().expect("stop");
    let next = terms.next(10 * SECOND).await.1;
    assert_eq!(ended(&next), ("a:1".into(), Some(TermEnd::Left)));

    // d, of a higher priority, takes over from whoever leads after the grace.
    let preferred = ElectionConfig::builder(LATCH).priority(5).build().unwrap();
    let mut d = contender(&cs, preferred, "d:1", timeout).await;
    expect_published(&mut d.events, 10 * SECOND).await;
    let preempted = terms.next(5 * SECOND).await.1;
    assert!(["b:1", "c:1"].contains(&preempted.address.as_str()), "{preempted:?}");
    assert_eq!(preempted.end, Some(TermEnd::Preempted));

    let history = retriever.send(GetHistory).await.unwrap();
    let summary: Vec<(&str, Option<TermEnd>)> = history.iter().map(|t| (t.address.as_str(), t.end)).collect();
    assert_eq!(
        summary,
        [
            ("a:1", Some(TermEnd::Resigned)),
            ("b:1", Some(TermEnd::Transferred)),
            ("a:1", Some(TermEnd::Left)),
            (preempted.address.as_str(), Some(TermEnd::Preempted)),
            ("d:1", None),
        ]
    );
    for pair in history.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        assert!(before.ended.is_some_and(|ended| ended <= after.started), "{before:?} then {after:?}");
        assert!(before.fencing_token < after.fencing_token, "tokens grow: {before:?} then {after:?}");
    }
    assert!(history[4].ended.is_none(), "the current term lasts");
    drop((b, c));
}

/// A quorum loss on a 3-node ensemble: the observer keeps the last leader, marked stale since
/// it lost its server, while no quorum exists; once the quorum is back, the answer is live.
#[actix_rt::test]
async fn a_quorum_loss_leaves_the_last_leader_stale_until_the_quorum_is_back() {
    init_tracing();
    let ensemble = Arc::new(ZkEnsemble::start().expect("ensemble"));
    let cs = ensemble.connect_string();
    let timeout = 20 * SECOND;
    let (session, mut states) = connected_session(&cs, timeout).await;
    let (_retriever, mut observations, _terms) = observer(&session).await;
    let mut a = contender(&cs, tolerant(), "a:1", timeout).await;
    expect_published(&mut a.events, 10 * SECOND).await;
    let mut last = 0;
    let leading = observe_until(&mut observations, &mut last, 10 * SECOND, |o| leading_address(o).is_some()).await;

    let lost_at = SystemTime::now();
    let stopping = ensemble.clone();
    blocking(move || {
        stopping.kill(0)?;
        stopping.kill(1)
    })
    .await
    .expect("two of three down");
    let stale = observe_until(&mut observations, &mut last, 15 * SECOND, |o| o.freshness != Freshness::Live).await;
    assert_eq!(stale.state, leading.state, "the last leader stays the answer");
    let Freshness::Stale { since } = stale.freshness else { panic!("{stale:?}") };
    assert!(since >= lost_at, "stale since {since:?}, quorum lost at {lost_at:?}");
    // Nothing new while no quorum exists: the answer stands.
    let during = observations.drain_for(2 * SECOND).await;
    assert!(during.iter().all(|o| o.state == leading.state), "{during:?}");
    last += during.len() as u64;

    let restarting = ensemble.clone();
    blocking(move || {
        restarting.restart(0)?;
        restarting.restart(1)
    })
    .await
    .expect("quorum back");
    expect_state(&mut states, zk_election::ConnectionState::Reconnected { same_session: true }, 30 * SECOND).await;
    let live = observe_until(&mut observations, &mut last, 10 * SECOND, |o| o.freshness == Freshness::Live).await;
    assert_eq!(live.state, leading.state);
}

fn campaign_args<'a>(connect: &'a str, address: &'a str) -> Vec<&'a str> {
    let mut args = vec!["campaign", "--connect", connect, "--latch-path", LATCH, "--leader-path", LEADER];
    args.extend(["--address", address, "--json"]);
    args
}

/// `observe --http --latch-path --history`: the event stream carries ids and resumes after
/// `Last-Event-ID` with every change missed, in order; an id it does not know gets the current
/// value marked `resumed: false`. `/leader/history` and `observe --history` tell the resign,
/// `/candidates` lists the line, `/metrics` counts the transition, and `/` serves the page.
#[actix_rt::test]
async fn the_sidecar_resumes_streams_and_serves_history_line_and_metrics() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let mut a = ZkElect::spawn("campaign a", &campaign_args(&cs, "a:1"));
    a.expect("published", 15 * SECOND).await;
    let mut b = ZkElect::spawn("campaign b", &campaign_args(&cs, "b:1"));
    b.expect_where("connection", 10 * SECOND, |e| e["state"] == "connected").await;
    let observe = ["observe", "--connect", &cs, "--leader-path", LEADER, "--latch-path", LATCH];
    let mut observer =
        ZkElect::spawn("observe", &[&observe[..], &["--history", "--json", "--http", "127.0.0.1:0"]].concat());
    let http = observer.expect("http", 10 * SECOND).await["address"].as_str().unwrap().to_owned();
    let seen = observer.expect_where("leader", 10 * SECOND, |e| e["address"] == "a:1").await;
    assert!(seen["sequence"].as_u64().is_some(), "{seen}");

    let mut watch = Watch::open(&http).await;
    let (id, current) = watch.next_with_id(5 * SECOND).await;
    let id = id.expect("events carry ids");
    assert_eq!((current["address"].as_str(), current["stale_since_ms"].is_null()), (Some("a:1"), true), "{current}");
    drop(watch);

    // Missed while disconnected: the vacancy (if it was seen) and b.
    a.say("resign").await;
    b.expect("published", 10 * SECOND).await;
    eventually(5 * SECOND, "the sidecar names b", || async {
        (get_json(&http, "/leader").await["address"] == "b:1").then_some(())
    })
    .await;
    let mut resumed = Watch::resume(&http, Some(&id)).await;
    let mut sequence = current["sequence"].as_u64().unwrap();
    let mut missed = Vec::new();
    while missed.last().is_none_or(|event: &Value| event["address"] != "b:1") {
        let (_, event) = resumed.next_with_id(5 * SECOND).await;
        assert_eq!(event["sequence"].as_u64(), Some(sequence + 1), "resumed in order, nothing lost: {event}");
        assert!(event.get("resumed").is_none(), "{event}");
        sequence += 1;
        missed.push(event);
    }
    assert!(missed[..missed.len() - 1].iter().all(|e| e["vacant"] == true), "{missed:?}");

    let mut unknown = Watch::resume(&http, Some("0.1")).await;
    let first = unknown.next(5 * SECOND).await;
    assert_eq!((first["address"].as_str(), &first["resumed"]), (Some("b:1"), &Value::Bool(false)), "{first}");

    // How a's term ended, in the history and on stdout.
    let term = observer.expect("term", 10 * SECOND).await;
    assert_eq!((term["address"].as_str(), term["ended"].as_str()), (Some("a:1"), Some("resigned")), "{term}");
    let history = get_json(&http, "/leader/history").await;
    let terms = history["terms"].as_array().expect("terms");
    let summary: Vec<(&str, Option<&str>)> =
        terms.iter().map(|t| (t["address"].as_str().unwrap(), t["ended"].as_str())).collect();
    assert_eq!(summary, [("a:1", Some("resigned")), ("b:1", None)], "{history}");
    assert!(terms[0]["end_ms"].as_u64() >= terms[0]["start_ms"].as_u64(), "{history}");

    let line = get_json(&http, "/candidates").await;
    let addresses: Vec<&str> =
        line["candidates"].as_array().unwrap().iter().map(|c| c["address"].as_str().unwrap()).collect();
    assert_eq!(addresses, ["b:1", "a:1"], "{line}");

    let series = |name: &str| format!("{name}{{leader_path=\"{LEADER}\"}}");
    assert_eq!(sample(&http, &series("zk_election_leader_transitions_total")).await, Some(1.0));
    assert_eq!(sample(&http, &series("zk_election_has_leader")).await, Some(1.0));
    assert_eq!(sample(&http, &series("zk_election_leader_tenure_seconds_count")).await, None, "a's start was not seen");
    let token = get_json(&http, "/leader").await["fencing_token"].as_f64();
    assert_eq!(sample(&http, &series("zk_election_leader_fencing_token")).await, token);
    let confirmed = sample(&http, &series("zk_election_leader_last_confirmed_timestamp_seconds")).await.unwrap();
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - confirmed).abs() < 3.0, "last confirmed {confirmed}, now {now}");

    let (status, head, page) = exchange_with_head(&http, "GET / HTTP/1.1\r\nHost: test\r\n\r\n").await;
    assert_eq!(status, 200);
    assert!(head.contains("Content-Type: text/html"), "{head}");
    assert!(page.contains("leader/watch"), "the page follows the stream");
    let references =
        regex_lite::Regex::new(r#"(?:src|href)\s*=\s*["']([^"']*)|@import|url\(\s*["']?([^)"']*)"#).unwrap();
    for reference in references.captures_iter(&page) {
        let target = reference.get(1).or(reference.get(2)).map_or("@import", |m| m.as_str());
        assert!(target.starts_with("data:") || target.starts_with('#'), "self-contained, yet it loads {target:?}");
    }

    for process in [&mut observer, &mut a, &mut b] {
        process.say("quit").await;
        process.expect_clean_exit(0).await;
    }
}

/// The leader's own sidecar tells how its term ended, like any observer's: a resign, ten times.
#[actix_rt::test]
async fn the_leaders_own_sidecar_tells_its_resign() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let with_http = |address: &'static str| {
        let mut args = campaign_args(&cs, address);
        args.extend(["--http", "127.0.0.1:0"]);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let a_args = with_http("a:1");
    let env = [("RUST_LOG", "zk_election=debug")];
    let mut a = ZkElect::spawn_with_env("campaign a", &a_args.iter().map(String::as_str).collect::<Vec<_>>(), &env);
    let a_http = a.expect("http", 10 * SECOND).await["address"].as_str().unwrap().to_owned();
    a.expect("published", 15 * SECOND).await;
    let b_args = with_http("b:1");
    let mut b = ZkElect::spawn("campaign b", &b_args.iter().map(String::as_str).collect::<Vec<_>>());
    let b_http = b.expect("http", 10 * SECOND).await["address"].as_str().unwrap().to_owned();
    b.expect_where("connection", 10 * SECOND, |e| e["state"] == "connected").await;
    eventually(5 * SECOND, "b's sidecar names a", || async {
        (get_json(&b_http, "/leader").await["address"] == "a:1").then_some(())
    })
    .await;
    let mut ended = Vec::new();
    for round in 0..10 {
        let (leader, leader_http, follower) =
            if round % 2 == 0 { (&mut a, &a_http, &mut b) } else { (&mut b, &b_http, &mut a) };
        leader.say("resign").await;
        follower.expect("published", 10 * SECOND).await;
        let term = eventually(5 * SECOND, &format!("the end of term {round} is known"), || async {
            let history = get_json(leader_http, "/leader/history").await;
            let terms = history["terms"].as_array().cloned().unwrap_or_default();
            let ended: Vec<Value> = terms.into_iter().filter(|t| !t["ended"].is_null()).collect();
            (ended.len() > round).then(|| ended[round].clone())
        })
        .await;
        ended.push(term["ended"].as_str().unwrap_or("none").to_owned());
    }
    if ended.iter().any(|e| e != "resigned") {
        eprintln!("{}", a.stderr().await);
    }
    assert!(ended.iter().all(|e| e == "resigned"), "{ended:?}");
    for process in [&mut a, &mut b] {
        process.say("quit").await;
        process.expect_clean_exit(0).await;
    }
}

/// A quorum loss with read-only servers: an observer that allows read-only sessions goes on
/// reading the leader node from a server without a quorum, marked read-only since the loss
/// (stale until then). A server without a quorum takes no session from before the loss: the
/// observer's is lost after its timeout, and the next one is read-only. Once the quorum is
/// back, that one is lost too and a new one reads live.
#[actix_rt::test]
async fn a_read_only_observer_reads_through_a_quorum_loss() {
    init_tracing();
    let ensemble = Arc::new(ZkEnsemble::builder().read_only_mode().start().expect("ensemble"));
    // The observer reaches the server that will stay up, only.
    let survivor = 2;
    let config = zk_election::SessionConfig::builder(ensemble.member_connect_string(survivor))
        .session_timeout(4 * SECOND)
        .read_only(true)
        .build()
        .unwrap();
    let (session, mut states) = session_with(config.clone()).await;
    let (_retriever, mut observations, _terms) = observer(&session).await;
    let timeout = 20 * SECOND;
    let mut a = contender(&ensemble.connect_string(), tolerant(), "a:1", timeout).await;
    expect_published(&mut a.events, 20 * SECOND).await;
    // A contender on a session like the observer's: on a read-only server, it must never lead.
    let (b_session, _b_states) = session_with(config).await;
    let b_supervisor = zk_election::ElectionSupervisor::start(b_session, plain());
    let mut b_events = subscribe(&b_supervisor, COMPONENT, "b:1", LEADER, true).await;
    await_children(&session, LATCH, 2, 10 * SECOND).await;
    let mut last = 0;
    let leading = observe_until(&mut observations, &mut last, 20 * SECOND, |o| leading_address(o).is_some()).await;
    assert_eq!(leading.freshness, Freshness::Live);
    // zk-elect observe --read-only, with its sidecar, on the same server.
    let survivor_cs = ensemble.member_connect_string(survivor);
    let observe = ["observe", "--connect", &survivor_cs, "--leader-path", LEADER, "--session-timeout-ms", "4000"];
    let mut cli =
        ZkElect::spawn("observe", &[&observe[..], &["--read-only", "--json", "--http", "127.0.0.1:0"]].concat());
    let http = cli.expect("http", 10 * SECOND).await["address"].as_str().unwrap().to_owned();
    cli.expect_where("leader", 10 * SECOND, |e| e["address"] == "a:1" && e.get("read_only").is_none()).await;

    let lost_at = SystemTime::now();
    let stopping = ensemble.clone();
    blocking(move || {
        stopping.kill(0)?;
        stopping.kill(1)
    })
    .await
    .expect("two of three down");
    let read_only =
        observe_until(&mut observations, &mut last, 20 * SECOND, |o| matches!(o.freshness, Freshness::ReadOnly { .. }))
            .await;
    assert_eq!(read_only.state, leading.state, "the read-only server still names a");
    let Freshness::ReadOnly { since } = read_only.freshness else { unreachable!() };
    assert!(since >= lost_at, "read-only since {since:?}, quorum lost at {lost_at:?}");
    let said = cli.expect_where("leader", 20 * SECOND, |e| e["read_only"] == true).await;
    assert_eq!(said["address"], "a:1", "{said}");
    let served = get_json(&http, "/leader").await;
    assert_eq!((&served["address"], &served["read_only"]), (&said["address"], &Value::Bool(true)), "{served}");
    assert!(served["stale_since_ms"].as_u64().is_some(), "{served}");
    let status = session.send(zk_election::session::GetStatus).await.unwrap();
    assert!(!status.lease.holds(), "a read-only session holds no lease");
    // The leader's session is gone from the only server left; b's read-only one gets no lease.
    let meanwhile = b_events.drain_for(2 * SECOND).await;
    assert!(meanwhile.iter().all(|e| !matches!(e, zk_election::LeadershipEvent::Granted { .. })), "{meanwhile:?}");

    let restarting = ensemble.clone();
    blocking(move || {
        restarting.restart(0)?;
        restarting.restart(1)
    })
    .await
    .expect("quorum back");
    let live = observe_until(&mut observations, &mut last, 40 * SECOND, |o| o.freshness == Freshness::Live).await;
    assert_eq!(live.state, leading.state);
    cli.expect_where("leader", 20 * SECOND, |e| e["address"] == "a:1" && e.get("stale_since_ms").is_none()).await;
    cli.say("quit").await;
    cli.expect_clean_exit(0).await;
    drop(states.try_drain());
}

/// With a persistent watch on the leader node, an observer misses no change: between two
/// leaders it always reports the vacancy (a one-shot watch, set again after it fired, missed it
/// whenever the successor's node was there before the watch), also after a server restart.
#[actix_rt::test]
async fn an_observer_with_a_persistent_watch_sees_every_vacancy_between_leaders() {
    init_tracing();
    let server = Arc::new(ZkServer::start().expect("zookeeper"));
    let cs = server.connect_string();
    let (session, mut states) = connected_session(&cs, 10 * SECOND).await;
    let (_retriever, mut observations, _terms) = observer_with(&session, true).await;
    let mut members = Vec::new();
    for address in ["a:1", "b:1"] {
        members.push(contender(&cs, tolerant(), address, 10 * SECOND).await);
        await_children(&session, LATCH, members.len(), 5 * SECOND).await;
    }
    let mut last = 0;
    let mut leader =
        observe_until(&mut observations, &mut last, 10 * SECOND, |o| leading_address(o).is_some()).await.state;
    for round in 0..10 {
        if round == 5 {
            // The server forgets every watch; the observer's session survives.
            let restarting = server.clone();
            blocking(move || restarting.restart()).await.expect("restart");
            let back = zk_election::ConnectionState::Reconnected { same_session: true };
            expect_state(&mut states, back, 15 * SECOND).await;
            leader = observe_until(&mut observations, &mut last, 10 * SECOND, |o| {
                leading_address(o).is_some() && o.freshness == Freshness::Live
            })
            .await
            .state;
        }
        let address = match &leader {
            LeaderState::Leading { address, .. } => address.clone(),
            other => panic!("{other:?}"),
        };
        let k = if address == "a:1" { 0 } else { 1 };
        members[k].supervisor.send(Resign::new(COMPONENT)).await.unwrap().expect("resign");
        let between = observe_until(&mut observations, &mut last, 5 * SECOND, |o| o.state != leader).await;
        assert_eq!(between.state, LeaderState::Vacant, "round {round}: no vacancy between {address} and the next");
        leader = observe_until(&mut observations, &mut last, 5 * SECOND, |o| leading_address(o).is_some()).await.state;
        let next = Observation::new(0, leader.clone(), Freshness::Live, SystemTime::now());
        assert_ne!(leading_address(&next), Some(address.as_str()), "round {round}: the same leader");
    }
}

/// A leader whose connection drops steps down (the standard policy) and, back within its
/// session, leads again from the same place in line: the history says the term ended with the
/// lost connection, and the next one has the same fencing token under a new leader session.
#[actix_rt::test]
async fn a_term_that_ended_with_a_lost_connection_says_so() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = zk_election::testkit::FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let (session, _states) = connected_session(&server.connect_string(), 6 * SECOND).await;
    let (retriever, _observations, mut terms) = observer(&session).await;
    let mut a = contender(&proxy.connect_string(), plain(), "a:1", 8 * SECOND).await;
    let (first, token) = expect_publication(&mut a.events, 5 * SECOND).await;
    proxy.blackhole();
    a.events.until(10 * SECOND, |e| matches!(e, zk_election::LeadershipEvent::Revoked { .. })).await;
    proxy.pass();
    let (second, again) = expect_publication(&mut a.events, 15 * SECOND).await;
    assert_ne!(second, first, "a new leader session");
    assert_eq!(again, token, "the same place in line");
    let ended = terms.next(5 * SECOND).await.1;
    assert_eq!((ended.leader_session, ended.end), (first, Some(TermEnd::LostConnection)));
    let history = retriever.send(GetHistory).await.unwrap();
    assert_eq!(history.last().map(|t| (t.leader_session, t.end)), Some((second, None)));
}

/// A leader cut off for longer than its session timeout loses its session, and ZooKeeper
/// deletes its nodes: the history says the session expired. A leader that stops deletes them
/// itself, with its leave record: the history says it left.
#[actix_rt::test]
async fn a_term_whose_session_expired_says_so_and_a_stop_says_left() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = zk_election::testkit::FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let (session, _states) = connected_session(&server.connect_string(), 6 * SECOND).await;
    let (retriever, _observations, mut terms) = observer(&session).await;
    let mut a = contender(&proxy.connect_string(), plain(), "a:1", 4 * SECOND).await;
    expect_published(&mut a.events, 5 * SECOND).await;
    let mut b = contender(&server.connect_string(), plain(), "b:1", 6 * SECOND).await;
    await_children(&session, LATCH, 2, 5 * SECOND).await;

    // a is cut off until the server expires its session: b leads.
    proxy.blackhole();
    expect_published(&mut b.events, 15 * SECOND).await;
    let ended = terms.next(5 * SECOND).await.1;
    assert_eq!((ended.address.as_str(), ended.end), ("a:1", Some(TermEnd::SessionExpired)));

    // a is back on a new session and queues; b stops: a leads, and b's term says it left.
    proxy.pass();
    await_children(&session, LATCH, 2, 15 * SECOND).await;
    b.supervisor.send(StopElection).await.unwrap().expect("stop");
    expect_published(&mut a.events, 10 * SECOND).await;
    let ended = terms.next(5 * SECOND).await.1;
    assert_eq!((ended.address.as_str(), ended.end), ("b:1", Some(TermEnd::Left)));
    let history = retriever.send(GetHistory).await.unwrap();
    let summary: Vec<(&str, Option<TermEnd>)> = history.iter().map(|t| (t.address.as_str(), t.end)).collect();
    assert_eq!(summary, [("a:1", Some(TermEnd::SessionExpired)), ("b:1", Some(TermEnd::Left)), ("a:1", None)]);
}
