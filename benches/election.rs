//! The election benchmarks of issue 6: failover latency, time to first leader, scale, footprint.
//!
//! ```sh
//! cargo bench --features testkit --bench election            # every figure
//! cargo bench --features testkit --bench election -- herd    # only figures whose name contains "herd"
//! ```
//!
//! Starts its own standalone ZooKeeper (testkit, `forceSync=no`), prints the machine and a
//! markdown table, and writes `target/bench/election.json`. Every wait has a deadline; a figure
//! that fails is reported as failed and the others still run. `RUST_LOG=zk_election=debug`
//! shows the library's own timings on stderr.
//!
//! How each figure is taken (see BENCHMARKS.md for what bounds it):
//!
//! * Leader nodes are observed by an [`Observer`] in a session of its own: a get-data watch
//!   while the node exists, an exists watch while it does not. A change is dated when the
//!   watch fires (or when the read that found it returns, if it was already there).
//! * Contenders ([`BenchContender`]) confirm every grant at once.
//! * Sessions of different "processes" are separate [`ZkSession`]s, each on its own arbiter
//!   (thread), exactly as in separate processes; supervisors and contenders share the bench's
//!   main arbiter.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::future::Future;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use zk_election::session::{
    Exists, GetChildren, GetData, GetSessionMetrics, GetStatus, RequestKind, SessionMetrics, WatchEvent, WatchFired,
};
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::{
    Confirm, ElectionConfig, ElectionSupervisor, GetMetrics, LeaderInfoCodec, LeadershipEvent, SessionConfig, Stop,
    StopSession, Subscribe, ZkError, ZkSession,
};

const SECOND: Duration = Duration::from_secs(1);
/// Deadline of any single wait for an election event.
const EVENT_DEADLINE: Duration = Duration::from_secs(5);

const FIRST_LEADER_RUNS: usize = 100;
const CLEAN_FAILOVERS: usize = 200;
const CRASH_RUNS: usize = 10;
const CRASH_SESSION_TIMEOUT: Duration = Duration::from_secs(2);
const ELECTIONS: usize = 1000;
/// Measured repeats of the 1,000 elections, after one unmeasured warm-up repeat.
const ELECTION_REPEATS: usize = 5;
const HERD_CONTENDERS: usize = 200;
const HERD_FAILOVERS: usize = 5;
const IDLE_WINDOW: Duration = Duration::from_secs(10);
/// Runs before the measured ones (JIT warm-up of the server, first-use allocations).
const WARMUP: usize = 5;

// ---------------------------------------------------------------------------------------------
// Statistics and reporting

/// Milliseconds, sorted on demand.
#[derive(Clone, Debug, Default)]
struct Samples(Vec<f64>);

impl Samples {
    fn push(&mut self, duration: Duration) {
        self.0.push(duration.as_secs_f64() * 1000.0);
    }

    fn push_ms(&mut self, ms: f64) {
        self.0.push(ms);
    }

    fn sorted(&self) -> Vec<f64> {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
    }

    /// Nearest-rank percentile (p50 of 100 samples is the 50th smallest).
    fn percentile(&self, p: f64) -> f64 {
        let sorted = self.sorted();
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
        sorted[rank.min(sorted.len()) - 1]
    }

    fn median(&self) -> f64 {
        let sorted = self.sorted();
        match sorted.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn summary(&self) -> Value {
        json!({
            "n": self.len(),
            "min": round3(self.min()),
            "p50": round3(self.percentile(50.0)),
            "p90": round3(self.percentile(90.0)),
            "p99": round3(self.percentile(99.0)),
            "max": round3(self.max()),
            "median": round3(self.median()),
        })
    }
}

fn round3(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

/// Whether a figure met its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Met,
    Missed,
    /// No target: context for the others.
    Info,
}

/// One line of the table.
#[derive(Clone, Debug)]
struct Row {
    figure: String,
    value: String,
    target: String,
    verdict: Verdict,
}

/// What one figure produced: table rows and its JSON record.
struct Outcome {
    rows: Vec<Row>,
    json: Value,
}

fn row(figure: &str, value: String, target: &str, met: Option<bool>) -> Row {
    let verdict = match met {
        Some(true) => Verdict::Met,
        Some(false) => Verdict::Missed,
        None => Verdict::Info,
    };
    Row { figure: figure.to_owned(), value, target: target.to_owned(), verdict }
}

fn since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

// ---------------------------------------------------------------------------------------------
// Actors of the benchmark

/// What an [`Observer`] saw at its leader path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Absent,
    Leader(String),
    Undecodable,
}

/// A change of the leader node and when the observer learnt it.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    node: Node,
}

/// Watches one leader node from its own session, like a retrieval service in another process
/// would, and reports every read into a channel.
struct Observer {
    session: Addr<ZkSession>,
    path: String,
    seen: mpsc::UnboundedSender<Seen>,
    /// A read is under way; watches that fire meanwhile only ask for one more read.
    reading: bool,
    again: bool,
    /// When a created/data-changed watch fired that no read has reported yet: the moment the
    /// new content was published, as far as this session can tell.
    changed_at: Option<Instant>,
}

impl Observer {
    fn start(session: &Addr<ZkSession>, path: &str) -> (Addr<Observer>, mpsc::UnboundedReceiver<Seen>) {
        let (seen, receiver) = mpsc::unbounded_channel();
        let observer = Observer {
            session: session.clone(),
            path: path.to_owned(),
            seen,
            reading: false,
            again: false,
            changed_at: None,
        }
        .start();
        (observer, receiver)
    }

    fn read(&mut self, ctx: &mut Context<Self>) {
        self.reading = true;
        let session = self.session.clone();
        let path = self.path.clone();
        let me = ctx.address().recipient::<WatchFired>();
        let fetch = async move {
            loop {
                match session.send(GetData { path: path.clone(), watch: Some(me.clone()) }).await {
                    Ok(Ok((data, _))) => {
                        return Ok(match LeaderInfoCodec::Bincode.decode(&data) {
                            Ok(info) => Node::Leader(info.address),
                            Err(_) => Node::Undecodable,
                        })
                    }
                    Ok(Err(ZkError::NoNode)) => {}
                    Ok(Err(err)) => return Err(err.to_string()),
                    Err(err) => return Err(err.to_string()),
                }
                match session.send(Exists { path: path.clone(), watch: Some(me.clone()) }).await {
                    Ok(Ok(None)) => return Ok(Node::Absent),
                    Ok(Ok(Some(_))) => {} // created in between: read it
                    Ok(Err(err)) => return Err(err.to_string()),
                    Err(err) => return Err(err.to_string()),
                }
            }
        };
        ctx.spawn(fetch.into_actor(self).map(|result, act, ctx| {
            let done = Instant::now();
            act.reading = false;
            match result {
                Ok(Node::Absent) => {
                    if !act.again {
                        act.changed_at = None;
                    }
                    let _ = act.seen.send(Seen { at: done, node: Node::Absent });
                }
                Ok(node) => {
                    let at = act.changed_at.take().unwrap_or(done);
                    let _ = act.seen.send(Seen { at, node });
                }
                Err(err) => eprintln!("observer of {}: read failed: {err}", act.path),
            }
            if std::mem::take(&mut act.again) {
                act.read(ctx);
            }
        }));
    }
}

impl Actor for Observer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.read(ctx);
    }
}

impl Handler<WatchFired> for Observer {
    type Result = ();

    fn handle(&mut self, msg: WatchFired, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if msg.path != self.path || msg.event == WatchEvent::SessionEnded {
            return;
        }
        if matches!(msg.event, WatchEvent::Created | WatchEvent::DataChanged) {
            self.changed_at.get_or_insert(now);
        }
        if self.reading {
            self.again = true;
        } else {
            self.read(ctx);
        }
    }
}

/// Waits for a [`Seen`] whose node satisfies `wanted`.
async fn await_node(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    within: Duration,
    what: &str,
    wanted: impl Fn(&Node) -> bool,
) -> Result<Seen, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Some(s)) if wanted(&s.node) => return Ok(s),
            Ok(Some(_)) => {}
            Ok(None) => return Err(format!("observer gone while waiting for {what}")),
            Err(_) => return Err(format!("no {what} within {within:?}")),
        }
    }
}

/// A leadership event, tagged with the contender it went to and when it arrived.
#[derive(Debug)]
struct Event {
    at: Instant,
    tag: usize,
    event: LeadershipEvent,
}

/// A contender that confirms every grant at once and reports every event.
struct BenchContender {
    supervisor: Addr<ElectionSupervisor>,
    tag: usize,
    events: mpsc::UnboundedSender<Event>,
}

impl Actor for BenchContender {
    type Context = Context<Self>;
}

impl Handler<LeadershipEvent> for BenchContender {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, _ctx: &mut Context<Self>) {
        let at = Instant::now();
        if let LeadershipEvent::Granted { component, session_id } = &event {
            self.supervisor.do_send(Confirm { component: component.clone(), session_id: *session_id });
        }
        let _ = self.events.send(Event { at, tag: self.tag, event });
    }
}

const COMPONENT: &str = "bench";

/// Starts a supervisor for `latch` over `session` with one auto-confirming contender.
/// The subscribe is sent but not awaited; the returned request tells whether it was accepted.
fn join(
    session: &Addr<ZkSession>,
    latch: &str,
    leader: &str,
    address: &str,
    tag: usize,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<(Addr<ElectionSupervisor>, actix::dev::Request<ElectionSupervisor, Subscribe>), String> {
    let config = ElectionConfig::builder(latch).build().map_err(|e| e.to_string())?;
    let supervisor = ElectionSupervisor::start(session.clone(), config);
    let contender = BenchContender { supervisor: supervisor.clone(), tag, events: events.clone() }.start();
    let subscribe = supervisor.send(Subscribe::new(COMPONENT, address, leader, contender.recipient()));
    Ok((supervisor, subscribe))
}

/// [`join`], awaiting the subscribe.
async fn join_now(
    session: &Addr<ZkSession>,
    latch: &str,
    leader: &str,
    address: &str,
    tag: usize,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<Addr<ElectionSupervisor>, String> {
    let (supervisor, subscribe) = join(session, latch, leader, address, tag, events)?;
    within(EVENT_DEADLINE, "subscribe", subscribe)
        .await?
        .map_err(|e| format!("subscribe: {e}"))?
        .map_err(|e| format!("subscribe refused: {e}"))?;
    Ok(supervisor)
}

/// Runs `fut` with a deadline, naming it in the error.
async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(limit, fut).await.map_err(|_| format!("{what}: no answer within {limit:?}"))
}

/// Stops a supervisor and waits (bounded) for its teardown.
async fn stop(supervisor: &Addr<ElectionSupervisor>) -> Result<(), String> {
    within(EVENT_DEADLINE, "stop", supervisor.send(Stop))
        .await?
        .map_err(|e| format!("stop: {e}"))?
        .map_err(|e| format!("stop failed: {e}"))
}

/// Closes sessions, bounded (a session behind a blackhole waits at most 2 s for its close).
async fn close_sessions(sessions: impl IntoIterator<Item = Addr<ZkSession>>) {
    let closing: Vec<_> = sessions.into_iter().map(|s| s.send(StopSession)).collect();
    for close in closing {
        let _ = tokio::time::timeout(3 * SECOND, close).await;
    }
}

/// Starts a session with `timeout` to `connect` (not waiting for it).
fn session(connect: &str, timeout: Duration) -> Result<Addr<ZkSession>, String> {
    let config = SessionConfig::builder(connect)
        .session_timeout(timeout)
        .request_timeout(10 * SECOND)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(ZkSession::start(config))
}

/// Waits until `session` is connected; answers its negotiated session timeout.
async fn connected(session: &Addr<ZkSession>, limit: Duration) -> Result<Duration, String> {
    let deadline = Instant::now() + limit;
    loop {
        let status = within(limit, "session status", session.send(GetStatus)).await?.map_err(|e| e.to_string())?;
        if status.is_connected() {
            return Ok(status.negotiated_timeout.unwrap_or_default());
        }
        if Instant::now() > deadline {
            return Err(format!("session not connected within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A connected session.
async fn connect(connect: &str, timeout: Duration) -> Result<Addr<ZkSession>, String> {
    let s = session(connect, timeout)?;
    connected(&s, 15 * SECOND).await?;
    Ok(s)
}

/// Polls (setup only, never in a measured path) until `path` has `count` latch children.
async fn await_children(observer: &Addr<ZkSession>, path: &str, count: usize, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let children = observer.send(GetChildren { path: path.to_owned(), watch: None }).await;
        if let Ok(Ok(children)) = &children {
            if children.len() == count {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("{path} did not reach {count} children within {limit:?}: {children:?}"));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn session_metrics(sessions: &[Addr<ZkSession>]) -> Result<Vec<SessionMetrics>, String> {
    let asks: Vec<_> = sessions.iter().map(|s| s.send(GetSessionMetrics)).collect();
    let mut all = Vec::with_capacity(asks.len());
    for ask in asks {
        all.push(within(EVENT_DEADLINE, "session metrics", ask).await?.map_err(|e| e.to_string())?);
    }
    Ok(all)
}

fn total_requests(metrics: &[SessionMetrics]) -> u64 {
    metrics.iter().map(SessionMetrics::total_requests).sum()
}

// ---------------------------------------------------------------------------------------------
// The figures

/// Context every figure gets.
struct Bench {
    connect: String,
    /// The observer session, shared by every figure.
    observer: Addr<ZkSession>,
    tick: Option<Duration>,
    /// The server JVM, for its CPU time.
    zk_pid: Option<u32>,
    /// The server's log, for the time it expired a session.
    zk_log: PathBuf,
    /// The server's client port, for its packet counters.
    zk_addr: std::net::SocketAddr,
}

/// Packets the server has received so far (`Received:` of `srvr`): every ZooKeeper operation
/// our sessions issued, including the parent creations a single `Create` request may make.
fn server_received(addr: std::net::SocketAddr) -> Option<u64> {
    let answer = zk_election::testkit::four_letter_word(addr, "srvr", 2 * SECOND).ok()?;
    answer.lines().find_map(|l| l.strip_prefix("Received:")).and_then(|v| v.trim().parse().ok())
}

/// Raw request round trip through the session actor: the unit every other figure is made of.
async fn zk_round_trip(bench: &Bench) -> Result<Outcome, String> {
    let session = connect(&bench.connect, 6 * SECOND).await?;
    let mut exists = Samples::default();
    let mut create_delete = Samples::default();
    for i in 0..(WARMUP * 10 + 200) {
        let start = Instant::now();
        session
            .send(Exists { path: "/zookeeper".into(), watch: None })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if i >= WARMUP * 10 {
            exists.push(start.elapsed());
        }
    }
    for i in 0..(WARMUP * 10 + 100) {
        let path = format!("/bench-rtt-{i}");
        let start = Instant::now();
        let create =
            zk_election::session::Create::new(path.clone(), Vec::new(), zk_election::session::NodeMode::Ephemeral);
        session.send(create).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        session
            .send(zk_election::session::Delete { path, version: None })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if i >= WARMUP * 10 {
            create_delete.push_ms(start.elapsed().as_secs_f64() * 1000.0 / 2.0);
        }
    }
    close_sessions([session]).await;
    Ok(Outcome {
        rows: vec![
            row(
                "zk_read_rtt_ms p50/p99",
                format!("{:.3} / {:.3}", exists.percentile(50.0), exists.percentile(99.0)),
                "(floor)",
                None,
            ),
            row(
                "zk_write_rtt_ms p50/p99",
                format!("{:.3} / {:.3}", create_delete.percentile(50.0), create_delete.percentile(99.0)),
                "(floor)",
                None,
            ),
        ],
        json: json!({ "read_exists_ms": exists.summary(), "write_create_or_delete_ms": create_delete.summary() }),
    })
}

/// Connected session → supervisor started + contender subscribed → leader node seen by the
/// observer in another session.
async fn first_leader(bench: &Bench) -> Result<Outcome, String> {
    const LATCH: &str = "/bench/first/latch";
    const LEADER: &str = "/bench/first/leader";
    let session = connect(&bench.connect, 6 * SECOND).await?;
    let (observer, mut seen) = Observer::start(&bench.observer, LEADER);
    await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
    let (events, mut event_rx) = mpsc::unbounded_channel();
    let mut samples = Samples::default();
    let mut granted = Samples::default();
    let mut first_run = None;
    for run in 0..(WARMUP + FIRST_LEADER_RUNS) {
        let address = format!("first-{run}:6123");
        let start = Instant::now();
        let supervisor = join_now(&session, LATCH, LEADER, &address, run, &events).await?;
        let at =
            await_node(&mut seen, EVENT_DEADLINE, "leader node", |n| *n == Node::Leader(address.clone())).await?.at;
        let took = at.saturating_duration_since(start);
        while let Ok(event) = event_rx.try_recv() {
            if matches!(event.event, LeadershipEvent::Granted { .. }) && event.tag == run && run >= WARMUP {
                granted.push(event.at.saturating_duration_since(start));
            }
        }
        if run == 0 {
            first_run = Some(took); // includes creating the parents of both paths
        }
        if run >= WARMUP {
            samples.push(took);
        }
        stop(&supervisor).await?;
        await_node(&mut seen, EVENT_DEADLINE, "leader node deleted", |n| *n == Node::Absent).await?;
    }
    observer.do_send(StopObserver);
    close_sessions([session]).await;
    let (p50, p99) = (samples.percentile(50.0), samples.percentile(99.0));
    Ok(Outcome {
        rows: vec![row("first_leader_ms p50/p99", format!("{p50:.2} / {p99:.2}"), "p50 ≤ 3", Some(p50 <= 3.0))],
        json: json!({
            "runs": samples.len(),
            "warmup_runs": WARMUP,
            "ms": samples.summary(),
            "granted_ms": granted.summary(),
            "first_run_with_parent_creation_ms": first_run.map(|d| d.as_secs_f64() * 1000.0),
            "target": "p50 <= 3 ms",
            "met": p50 <= 3.0,
        }),
    })
}

/// Three contenders in separate sessions; the leader stops → the successor's node is seen.
async fn clean_failover(bench: &Bench) -> Result<Outcome, String> {
    const LATCH: &str = "/bench/clean/latch";
    const LEADER: &str = "/bench/clean/leader";
    let (observer, mut seen) = Observer::start(&bench.observer, LEADER);
    await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
    let (events, mut event_rx) = mpsc::unbounded_channel();
    let mut sessions = Vec::new();
    let mut supervisors = Vec::new();
    let mut addresses = Vec::new();
    for k in 0..3 {
        let s = connect(&bench.connect, 6 * SECOND).await?;
        let address = format!("clean-{k}-0:6123");
        supervisors.push(join_now(&s, LATCH, LEADER, &address, k, &events).await?);
        sessions.push(s);
        addresses.push(address);
    }
    await_children(&bench.observer, LATCH, 3, EVENT_DEADLINE).await?;
    let mut leader =
        match await_node(&mut seen, EVENT_DEADLINE, "first leader", |n| matches!(n, Node::Leader(_))).await?.node {
            Node::Leader(address) => address,
            _ => unreachable!(),
        };
    let mut samples = Samples::default();
    let mut granted = Samples::default();
    for handover in 0..(WARMUP + CLEAN_FAILOVERS) {
        let k = addresses.iter().position(|a| *a == leader).ok_or_else(|| format!("unknown leader {leader}"))?;
        while event_rx.try_recv().is_ok() {}
        let start = Instant::now();
        let stopping = supervisors[k].send(Stop);
        let old = leader.clone();
        let seen_at = await_node(
            &mut seen,
            EVENT_DEADLINE,
            "successor's leader node",
            |n| matches!(n, Node::Leader(a) if *a != old),
        )
        .await?;
        let Node::Leader(new_leader) = seen_at.node else { unreachable!() };
        let took = seen_at.at.saturating_duration_since(start);
        if handover >= WARMUP {
            samples.push(took);
            while let Ok(event) = event_rx.try_recv() {
                if matches!(event.event, LeadershipEvent::Granted { .. }) && event.tag != k {
                    granted.push(event.at.saturating_duration_since(start));
                }
            }
        }
        within(EVENT_DEADLINE, "stop", stopping).await?.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        // The stopped contender rejoins at the back of the line, so there are always three.
        let address = format!("clean-{k}-{}:6123", handover + 1);
        supervisors[k] = join_now(&sessions[k], LATCH, LEADER, &address, k, &events).await?;
        addresses[k] = address;
        leader = new_leader;
        await_children(&bench.observer, LATCH, 3, EVENT_DEADLINE).await?;
    }
    for supervisor in &supervisors {
        let _ = stop(supervisor).await;
    }
    observer.do_send(StopObserver);
    close_sessions(sessions).await;
    let (p50, p99) = (samples.percentile(50.0), samples.percentile(99.0));
    let met = p50 <= 3.0 && p99 <= 10.0;
    Ok(Outcome {
        rows: vec![row("clean_failover_ms p50/p99", format!("{p50:.2} / {p99:.2}"), "p50 ≤ 3, p99 ≤ 10", Some(met))],
        json: json!({
            "handovers": samples.len(),
            "warmup_handovers": WARMUP,
            "ms": samples.summary(),
            "successor_granted_ms": granted.summary(),
            "target": "p50 <= 3 ms, p99 <= 10 ms",
            "met": met,
        }),
    })
}

/// The leader's connection is blackholed; the successor's node is seen; minus the timeout.
async fn crash_failover(bench: &Bench) -> Result<Outcome, String> {
    let mut over = Samples::default();
    let mut revoked = Samples::default();
    let mut expiry_after = Samples::default();
    let mut published_after_expiry = Samples::default();
    let mut negotiated_ms = Vec::new();
    for run in 0..CRASH_RUNS {
        let latch = format!("/bench/crash/{run}/latch");
        let leader_path = format!("/bench/crash/{run}/leader");
        let (observer, mut seen) = Observer::start(&bench.observer, &leader_path);
        await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
        let proxy = FaultProxy::for_connect_string(&bench.connect).map_err(|e| e.to_string())?;
        let crashing = session(&proxy.connect_string(), CRASH_SESSION_TIMEOUT)?;
        let negotiated = connected(&crashing, 15 * SECOND).await?;
        let crashing_id = crashing.send(GetStatus).await.map_err(|e| e.to_string())?.session_id;
        negotiated_ms.push(negotiated.as_millis() as u64);
        let (events, mut event_rx) = mpsc::unbounded_channel();
        let crash_address = format!("crash-{run}:6123");
        let crash_supervisor = join_now(&crashing, &latch, &leader_path, &crash_address, 0, &events).await?;
        await_node(&mut seen, EVENT_DEADLINE, "crashing leader's node", |n| *n == Node::Leader(crash_address.clone()))
            .await?;
        let successor_session = connect(&bench.connect, 6 * SECOND).await?;
        let successor_address = format!("successor-{run}:6123");
        let successor = join_now(&successor_session, &latch, &leader_path, &successor_address, 1, &events).await?;
        await_children(&bench.observer, &latch, 2, EVENT_DEADLINE).await?;
        while event_rx.try_recv().is_ok() {}
        // A crash comes at a random moment: without this pause every run would start at the
        // same phase of the server's tick (the setup follows the previous run's expiry) and
        // of the client's ping schedule, and the ten runs would sample only one point.
        let phase = 200.0 + 500.0 * rand::random::<f64>();
        tokio::time::sleep(Duration::from_secs_f64(phase / 1000.0)).await;

        let start = Instant::now();
        let wall_start = std::time::SystemTime::now();
        proxy.blackhole();
        let at = await_node(&mut seen, negotiated + 5 * SECOND, "successor's node", |n| {
            *n == Node::Leader(successor_address.clone())
        })
        .await?
        .at;
        let took = at.saturating_duration_since(start);
        over.push_ms(took.as_secs_f64() * 1000.0 - negotiated.as_secs_f64() * 1000.0);
        // Split at the moment the server logged the expiry (millisecond log stamps).
        let expired = crashing_id
            .and_then(|id| logged_expiry_ms_of_day(&bench.zk_log, id))
            .zip(local_ms_of_day(wall_start))
            .map(|(expiry, blackholed)| (expiry - blackholed).rem_euclid(86_400_000.0));
        if let Some(expired) = expired {
            expiry_after.push_ms(expired - negotiated.as_secs_f64() * 1000.0);
            published_after_expiry.push_ms(took.as_secs_f64() * 1000.0 - expired);
        }
        while let Ok(event) = event_rx.try_recv() {
            if event.tag == 0 && matches!(event.event, LeadershipEvent::Revoked { .. }) {
                revoked.push(event.at.saturating_duration_since(start));
            }
        }
        // Tear down: the crashed side first (its close cannot reach the server), then the rest.
        proxy.stop();
        crash_supervisor.do_send(Stop);
        let _ = stop(&successor).await;
        observer.do_send(StopObserver);
        close_sessions([crashing, successor_session]).await;
    }
    let median = over.median();
    let max = over.max();
    let tick_ms = bench.tick.map(|t| t.as_secs_f64() * 1000.0);
    let target = tick_ms.map(|t| 2.0 * t + 50.0);
    let met = target.map(|t| max <= t);
    Ok(Outcome {
        rows: vec![row(
            "crash_failover_over_timeout_ms median/max",
            format!("{median:.1} / {max:.1}"),
            &match (tick_ms, target) {
                (Some(t), Some(x)) => format!("≤ 2 ticks + 50 = {x:.0} (tick {t:.0})"),
                _ => "≤ 2 ticks + 50".to_owned(),
            },
            met,
        )],
        json: json!({
            "runs": over.len(),
            "requested_session_timeout_ms": CRASH_SESSION_TIMEOUT.as_millis() as u64,
            "negotiated_session_timeout_ms": negotiated_ms,
            "server_tick_ms": tick_ms,
            "over_timeout_ms": over.summary(),
            "values_ms": over.0.iter().map(|v| round3(*v)).collect::<Vec<_>>(),
            "crashed_leader_revoked_itself_after_ms": revoked.summary(),
            "server_logged_expiry_over_timeout_ms": expiry_after.summary(),
            "server_logged_expiry_over_timeout_values_ms": expiry_after.0.iter().map(|v| round3(*v)).collect::<Vec<_>>(),
            "successor_seen_after_logged_expiry_ms": published_after_expiry.summary(),
            "target_ms": target,
            "met": met,
        }),
    })
}

/// One session, 1,000 supervisors on distinct latch paths, one contender each → all published.
async fn elections_1000(bench: &Bench) -> Result<Outcome, String> {
    let session = connect(&bench.connect, 6 * SECOND).await?;
    let mut samples = Samples::default();
    let mut requests_per_election = Vec::new();
    let mut cpu = Vec::new();
    let mut packets_per_election = Vec::new();
    let mut warmup_ms = None;
    for repeat in 0..=ELECTION_REPEATS {
        let measured = repeat > 0; // repeat 0 warms up the server's JIT for this workload
        let (events, mut event_rx) = mpsc::unbounded_channel();
        let before = session_metrics(std::slice::from_ref(&session)).await?;
        let received_before = server_received(bench.zk_addr);
        let cpu_before = CpuClock::now(bench.zk_pid);
        let start = Instant::now();
        let mut supervisors = Vec::with_capacity(ELECTIONS);
        let mut subscribes = Vec::with_capacity(ELECTIONS);
        for i in 0..ELECTIONS {
            let base = format!("/bench/many/{repeat}/{i}");
            let (supervisor, subscribe) =
                join(&session, &format!("{base}/latch"), &format!("{base}/leader"), &format!("e{i}:1"), i, &events)?;
            supervisors.push(supervisor);
            subscribes.push(subscribe);
        }
        for subscribe in subscribes {
            within(EVENT_DEADLINE, "subscribe", subscribe)
                .await?
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        }
        let mut published = HashSet::new();
        let mut last = start;
        let deadline = tokio::time::Instant::now() + 60 * SECOND;
        while published.len() < ELECTIONS {
            match tokio::time::timeout_at(deadline, event_rx.recv()).await {
                Ok(Some(Event { at, tag, event: LeadershipEvent::Published { .. } })) => {
                    if published.insert(tag) {
                        last = at;
                    }
                }
                Ok(Some(Event { event: LeadershipEvent::Error { error, .. }, tag, .. })) => {
                    eprintln!("elections_1000: election {tag} reported {error}");
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    return Err(format!("only {} of {ELECTIONS} elections published within 60 s", published.len()))
                }
            }
        }
        let took = last.saturating_duration_since(start);
        let cpu_used = CpuClock::now(bench.zk_pid).since(&cpu_before);
        let received_after = server_received(bench.zk_addr);
        let after = session_metrics(std::slice::from_ref(&session)).await?;
        if measured {
            samples.push(took);
            cpu.push(cpu_used);
            // The four-letter-word connection itself counts as one packet.
            packets_per_election.push(
                received_before.zip(received_after).map(|(b, a)| (a - b).saturating_sub(1) as f64 / ELECTIONS as f64),
            );
            requests_per_election.push((total_requests(&after) - total_requests(&before)) as f64 / ELECTIONS as f64);
        } else {
            warmup_ms = Some(took.as_secs_f64() * 1000.0);
        }
        let stopping: Vec<_> = supervisors.iter().map(|s| s.send(Stop)).collect();
        for stop in stopping {
            let _ = tokio::time::timeout(10 * SECOND, stop).await;
        }
    }
    close_sessions([session]).await;
    let median = samples.median();
    Ok(Outcome {
        rows: vec![row(
            &format!("elections_1000_ms (median of {ELECTION_REPEATS})"),
            format!("{median:.0}"),
            "≤ 1000",
            Some(median <= 1000.0),
        )],
        json: json!({
            "elections": ELECTIONS,
            "repeats": samples.len(),
            "warmup_repeat_ms": warmup_ms,
            "ms": samples.summary(),
            "values_ms": samples.0.iter().map(|v| round3(*v)).collect::<Vec<_>>(),
            "requests_per_election_until_published": requests_per_election,
            "cpu_during_run": cpu,
            "server_packets_per_election_until_published": packets_per_election,
            "target": "<= 1000 ms",
            "met": median <= 1000.0,
        }),
    })
}

/// One election, 200 contenders with a session each: requests per failover and latches woken.
async fn herd(bench: &Bench) -> Result<Outcome, String> {
    const LATCH: &str = "/bench/herd/latch";
    const LEADER: &str = "/bench/herd/leader";
    let (observer, mut seen) = Observer::start(&bench.observer, LEADER);
    await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
    let mut sessions = Vec::with_capacity(HERD_CONTENDERS);
    for _ in 0..HERD_CONTENDERS {
        sessions.push(session(&bench.connect, 6 * SECOND)?);
    }
    for s in &sessions {
        connected(s, 30 * SECOND).await?;
    }
    let (events, _event_rx) = mpsc::unbounded_channel();
    let mut supervisors = Vec::with_capacity(HERD_CONTENDERS);
    let addresses: Vec<String> = (0..HERD_CONTENDERS).map(|k| format!("herd-{k}:6123")).collect();
    for (k, s) in sessions.iter().enumerate() {
        supervisors.push(join_now(s, LATCH, LEADER, &addresses[k], k, &events).await?);
    }
    await_children(&bench.observer, LATCH, HERD_CONTENDERS, 20 * SECOND).await?;
    let mut leader =
        match await_node(&mut seen, EVENT_DEADLINE, "first leader", |n| matches!(n, Node::Leader(_))).await?.node {
            Node::Leader(a) => a,
            _ => unreachable!(),
        };
    settle(&sessions).await?;
    let mut alive: Vec<bool> = vec![true; HERD_CONTENDERS];
    let mut totals = Vec::new();
    let mut old_leader_requests = Vec::new();
    let mut new_leader_requests = Vec::new();
    let mut others_requests = Vec::new();
    let mut others_busy = Vec::new();
    let mut woken = Vec::new();
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut latency = Samples::default();
    for _ in 0..HERD_FAILOVERS {
        let old = addresses.iter().position(|a| *a == leader).ok_or("unknown leader")?;
        let before = session_metrics(&sessions).await?;
        let watches_before = latch_watches(&supervisors, &alive, old).await?;
        let start = Instant::now();
        let stopping = supervisors[old].send(Stop);
        let old_address = leader.clone();
        let seen_at = await_node(
            &mut seen,
            EVENT_DEADLINE,
            "successor's node",
            |n| matches!(n, Node::Leader(a) if *a != old_address),
        )
        .await?;
        latency.push(seen_at.at.saturating_duration_since(start));
        let Node::Leader(new_leader) = seen_at.node else { unreachable!() };
        within(EVENT_DEADLINE, "stop", stopping).await?.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        alive[old] = false;
        settle(&sessions).await?;
        let after = session_metrics(&sessions).await?;
        let watches_after = latch_watches(&supervisors, &alive, old).await?;
        let new = addresses.iter().position(|a| *a == new_leader).ok_or("unknown successor")?;
        let delta: Vec<u64> = before.iter().zip(&after).map(|(b, a)| a.total_requests() - b.total_requests()).collect();
        totals.push(delta.iter().sum::<u64>());
        old_leader_requests.push(delta[old]);
        new_leader_requests.push(delta[new]);
        others_requests
            .push(delta.iter().enumerate().filter(|(k, _)| *k != old && *k != new).map(|(_, d)| d).sum::<u64>());
        others_busy.push(delta.iter().enumerate().filter(|(k, d)| *k != old && *k != new && **d > 0).count() as u64);
        woken.push(watches_after - watches_before);
        for (b, a) in before.iter().zip(&after) {
            for (kind, count) in &a.requests {
                let was = b.requests.get(kind).copied().unwrap_or(0);
                *by_kind.entry(kind_name(*kind)).or_default() += count - was;
            }
        }
        leader = new_leader;
    }
    for (k, supervisor) in supervisors.iter().enumerate() {
        if alive[k] {
            supervisor.do_send(Stop);
        }
    }
    observer.do_send(StopObserver);
    tokio::time::sleep(Duration::from_millis(500)).await;
    close_sessions(sessions).await;
    let median = |v: &[u64]| Samples(v.iter().map(|x| *x as f64).collect()).median();
    let requests = median(&totals);
    let woke = median(&woken);
    let per_kind: BTreeMap<String, f64> =
        by_kind.iter().map(|(k, v)| (k.clone(), *v as f64 / HERD_FAILOVERS as f64)).collect();
    let met = requests <= 4.0 && woke <= 1.0;
    Ok(Outcome {
        rows: vec![
            row(
                "herd_requests_per_failover (200 contenders): requests / woken",
                format!(
                    "{requests:.0} / {woke:.0} (outgoing {:.0}, successor {:.0}, {:.0} others from {:.0} sessions)",
                    median(&old_leader_requests),
                    median(&new_leader_requests),
                    median(&others_requests),
                    median(&others_busy)
                ),
                "≤ 4 / 1",
                Some(met),
            ),
            row("herd_failover_ms (200 contenders) median", format!("{:.1}", latency.median()), "(context)", None),
        ],
        json: json!({
            "contenders": HERD_CONTENDERS,
            "failovers": HERD_FAILOVERS,
            "requests_per_failover": totals,
            "requests_per_failover_median": requests,
            "outgoing_leader_requests": old_leader_requests,
            "successor_requests": new_leader_requests,
            "other_contenders_requests": others_requests,
            "other_contenders_sessions_with_requests": others_busy,
            "requests_by_kind_per_failover": per_kind,
            "latch_watches_fired_per_failover": woken,
            "failover_ms": latency.summary(),
            "target": "<= 4 requests, 1 woken",
            "met": met,
        }),
    })
}

fn kind_name(kind: RequestKind) -> String {
    format!("{kind:?}")
}

/// Sum of `latch_watches_fired` over the running supervisors (the stopped one has no latch).
async fn latch_watches(supervisors: &[Addr<ElectionSupervisor>], alive: &[bool], except: usize) -> Result<u64, String> {
    let asks: Vec<_> = supervisors
        .iter()
        .enumerate()
        .filter(|(k, _)| alive[*k] && *k != except)
        .map(|(_, s)| s.send(GetMetrics))
        .collect();
    let mut sum = 0;
    for ask in asks {
        sum += within(EVENT_DEADLINE, "election metrics", ask).await?.map_err(|e| e.to_string())?.latch_watches_fired;
    }
    Ok(sum)
}

/// Waits until no session issues requests for 300 ms (bounded).
async fn settle(sessions: &[Addr<ZkSession>]) -> Result<(), String> {
    let deadline = Instant::now() + 10 * SECOND;
    let mut last = total_requests(&session_metrics(sessions).await?);
    let mut quiet_since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = total_requests(&session_metrics(sessions).await?);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_millis(300) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("requests did not settle within 10 s".to_owned());
        }
    }
}

/// The `contender` example leading an election: CPU over an idle window, peak RSS.
async fn footprint(bench: &Bench, example: &Result<PathBuf, String>) -> Result<Outcome, String> {
    const LATCH: &str = "/bench/idle/latch";
    const LEADER: &str = "/bench/idle/leader";
    const ADDRESS: &str = "idle:6123";
    let exe = example.as_ref().map_err(|e| format!("contender example unavailable: {e}"))?;
    let (observer, mut seen) = Observer::start(&bench.observer, LEADER);
    await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
    let log_path = bench_dir().join("contender.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args(["--connect", &bench.connect, "--latch-path", LATCH, "--leader-path", LEADER, "--address", ADDRESS])
        .args(["--session-timeout-ms", "6000"])
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    let pid = child.id();
    let result = measure_idle(&mut child, pid, &mut seen, ADDRESS).await;
    // End of stdin stops it cleanly; kill it if it does not.
    drop(child.stdin.take());
    let exited = wait_exit(&mut child, 10 * SECOND).await;
    observer.do_send(StopObserver);
    let idle = result.map_err(|e| format!("{e} (log: {})", log_path.display()))?;
    let (cpu_pct, rss_mib) = (idle.stat_pct, idle.rss_mib);
    Ok(Outcome {
        rows: vec![
            row(
                "idle_cpu_pct (10 s, leading)",
                format!("{cpu_pct:.2} (ns-exact: {:.3})", idle.schedstat_pct),
                "≤ 0.5",
                Some(cpu_pct <= 0.5),
            ),
            row("rss_mib (peak, leading)", format!("{rss_mib:.1}"), "≤ 10", Some(rss_mib <= 10.0)),
        ],
        json: json!({
            "binary": exe.display().to_string(),
            "idle_window_s": IDLE_WINDOW.as_secs_f64(),
            "idle_cpu_seconds_stat": idle.stat_cpu_s,
            "idle_cpu_pct": round3(cpu_pct),
            "idle_cpu_seconds_schedstat": round3(idle.schedstat_cpu_s),
            "idle_cpu_pct_schedstat": round3(idle.schedstat_pct),
            "threads": idle.threads,
            "rss_peak_mib": round3(rss_mib),
            "clean_exit_on_stdin_eof": exited,
            "target": "idle cpu <= 0.5 % of one core, peak rss <= 10 MiB",
            "met": cpu_pct <= 0.5 && rss_mib <= 10.0,
        }),
    })
}

/// What [`measure_idle`] found.
struct Idle {
    /// From utime + stime (clock ticks, 10 ms resolution).
    stat_pct: f64,
    stat_cpu_s: f64,
    /// From the nanosecond run times in /proc/<pid>/task/*/schedstat.
    schedstat_pct: f64,
    schedstat_cpu_s: f64,
    rss_mib: f64,
    threads: u64,
}

/// Nanosecond-resolution CPU time of every live thread of `pid`, in seconds.
fn threads_on_cpu_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0.0 };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>()
        / 1e9
}

async fn measure_idle(
    child: &mut Child,
    pid: u32,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    address: &str,
) -> Result<Idle, String> {
    // Leading and published, as the observer sees it; an early exit is reported as such.
    let deadline = Instant::now() + 20 * SECOND;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the contender example exited before leading ({status})"));
        }
        match tokio::time::timeout(Duration::from_millis(100), seen.recv()).await {
            Ok(Some(s)) if s.node == Node::Leader(address.to_owned()) || s.node == Node::Undecodable => break,
            Ok(Some(_)) | Err(_) => {}
            Ok(None) => return Err("observer gone".to_owned()),
        }
        if Instant::now() > deadline {
            return Err("the contender example did not publish within 20 s".to_owned());
        }
    }
    // Let start-up work (first publish, cache reads) finish before the window opens.
    tokio::time::sleep(SECOND).await;
    let ticks = clock_ticks_per_second();
    let before = cpu_ticks(pid)?;
    let precise_before = threads_on_cpu_seconds(pid);
    let start = Instant::now();
    tokio::time::sleep(IDLE_WINDOW).await;
    let after = cpu_ticks(pid)?;
    let precise_after = threads_on_cpu_seconds(pid);
    let window = start.elapsed().as_secs_f64();
    let cpu_seconds = (after - before) as f64 / ticks;
    let precise = precise_after - precise_before;
    let rss_kib = status_kib(pid, "VmHWM:")?;
    let threads = status_kib(pid, "Threads:").unwrap_or(0);
    Ok(Idle {
        stat_pct: 100.0 * cpu_seconds / window,
        stat_cpu_s: cpu_seconds,
        schedstat_pct: 100.0 * precise / window,
        schedstat_cpu_s: precise,
        rss_mib: rss_kib as f64 / 1024.0,
        threads,
    })
}

async fn wait_exit(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// utime + stime of `pid`, in clock ticks (fields 14 and 15 of /proc/<pid>/stat).
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // The command name may contain spaces; fields are counted after its closing parenthesis.
    let rest = &stat[stat.rfind(')').ok_or("malformed stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok()).ok_or("malformed stat");
    Ok(field(14)? + field(15)?)
}

/// A `kB` value from /proc/<pid>/status.
fn status_kib(pid: u32, key: &str) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no {key} in /proc/{pid}/status"))
}

/// CPU time used so far by this process's threads, split into the main thread (the bench's
/// arbiter: supervisors, latches, caches, contenders, observers) and the others (one arbiter
/// per session, each running its ZooKeeper client), and by the ZooKeeper server.
#[derive(Clone, Copy, Debug)]
struct CpuClock {
    at: Instant,
    main_s: f64,
    others_s: f64,
    zookeeper_s: Option<f64>,
}

impl CpuClock {
    fn now(zk_pid: Option<u32>) -> CpuClock {
        let me = std::process::id().to_string();
        let (mut main_s, mut others_s) = (0.0, 0.0);
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                // schedstat: nanoseconds on CPU, first field.
                let ns = std::fs::read_to_string(task.path().join("schedstat"))
                    .ok()
                    .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
                    .unwrap_or(0.0);
                if task.file_name().to_str() == Some(me.as_str()) {
                    main_s += ns / 1e9;
                } else {
                    others_s += ns / 1e9;
                }
            }
        }
        let zookeeper_s = zk_pid.and_then(|pid| cpu_ticks(pid).ok()).map(|t| t as f64 / clock_ticks_per_second());
        CpuClock { at: Instant::now(), main_s, others_s, zookeeper_s }
    }

    /// CPU seconds used since `earlier`, by part, with the wall time between.
    fn since(&self, earlier: &CpuClock) -> Value {
        json!({
            "wall_s": round3(self.at.duration_since(earlier.at).as_secs_f64()),
            "bench_main_thread_s": round3(self.main_s - earlier.main_s),
            "bench_session_threads_s": round3(self.others_s - earlier.others_s),
            "zookeeper_server_s": self.zookeeper_s.zip(earlier.zookeeper_s).map(|(a, b)| round3(a - b)),
        })
    }
}

/// Milliseconds since local midnight of a wall-clock time (the server logs local times).
fn local_ms_of_day(time: std::time::SystemTime) -> Option<f64> {
    let since_epoch = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    let secs = since_epoch.as_secs() as libc::time_t;
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: localtime_r writes the struct it is given and reads only `secs`.
    let tm = unsafe {
        if libc::localtime_r(&secs, tm.as_mut_ptr()).is_null() {
            return None;
        }
        tm.assume_init()
    };
    let seconds = tm.tm_hour as f64 * 3600.0 + tm.tm_min as f64 * 60.0 + tm.tm_sec as f64;
    Some(seconds * 1000.0 + since_epoch.subsec_nanos() as f64 / 1e6)
}

/// Milliseconds since midnight at which the server logged `Expiring session 0x{session_id}`.
fn logged_expiry_ms_of_day(log: &Path, session_id: i64) -> Option<f64> {
    let needle = format!("Expiring session 0x{session_id:x},");
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.contains(&needle))?;
    // slf4j-simple with showDateTime: "HH:mm:ss.SSS [thread] INFO ..."
    let stamp = line.split_whitespace().next()?;
    let (hms, millis) = stamp.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<f64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    Some(((h * 60.0 + m) * 60.0 + s) * 1000.0 + millis.parse::<f64>().ok()?)
}

/// Stops an [`Observer`].
#[derive(Message)]
#[rtype(result = "()")]
struct StopObserver;

impl Handler<StopObserver> for Observer {
    type Result = ();

    fn handle(&mut self, _msg: StopObserver, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// Machine, example binary, output

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("bench")
}

/// Builds the `contender` example in release (as a user would run it) and answers its path.
fn build_contender_example() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
    let mut child = Command::new(&cargo)
        .args(["build", "--release", "--example", "contender", "--message-format=json-render-diagnostics"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("running {cargo}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no cargo stdout")?;
    let reader = std::thread::spawn(move || {
        let mut executable = None;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(message) = serde_json::from_str::<Value>(&line) else { continue };
            if message["reason"] == "compiler-artifact" && message["target"]["name"] == "contender" {
                if let Some(path) = message["executable"].as_str() {
                    executable = Some(PathBuf::from(path));
                }
            }
        }
        executable
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("building the contender example took over 300 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let executable = reader.join().ok().flatten();
    match (status.success(), executable) {
        (true, Some(path)) => Ok(path),
        (true, None) => Err("cargo built no `contender` example executable".to_owned()),
        (false, _) => Err(format!("`cargo build --release --example contender` failed ({status})")),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// `tickTime` from the server's `conf` four-letter word.
fn server_tick(server: &ZkServer) -> Option<Duration> {
    let conf = server.four_letter("conf").ok()?;
    conf.lines()
        .find_map(|l| l.trim().strip_prefix("tickTime="))
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_millis)
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from("| figure | value | target | |\n|---|---|---|---|\n");
    for r in rows {
        let verdict = match r.verdict {
            Verdict::Met => "met",
            Verdict::Missed => "**missed**",
            Verdict::Info => "",
        };
        let _ = writeln!(out, "| `{}` | {} | {} | {} |", r.figure, r.value, r.target, verdict);
    }
    out
}

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not, and must
    // stay fast. Other arguments select figures by substring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("election benchmark: skipped (run it with `cargo bench --features testkit --bench election`)");
        return;
    }
    // Figures write into it as they go (the contender's log), not only the report at the end.
    let dir = bench_dir();
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {err}", dir.display());
        std::process::exit(1);
    }
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let selected = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let started = Instant::now();
    let load_before = load_average();

    // Built before anything is measured, so the compiler does not compete with the figures.
    let example = if selected("idle_cpu_pct") || selected("rss_mib") {
        eprintln!("building the contender example (release)...");
        build_contender_example()
    } else {
        Err("not selected".to_owned())
    };

    // Extra JVM flags for the server, e.g. ZK_BENCH_JVM_ARGS="-XX:TieredStopAtLevel=4" to give
    // it the optimising JIT the testkit turns off for fast test start-up.
    let jvm_args: Vec<String> =
        std::env::var("ZK_BENCH_JVM_ARGS").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    let mut builder = ZkServer::builder().force_sync(false);
    for arg in &jvm_args {
        builder = builder.jvm_arg(arg.clone());
    }
    let server = match builder.start() {
        Ok(server) => server,
        Err(err) => {
            eprintln!("cannot start ZooKeeper: {err}");
            std::process::exit(1);
        }
    };
    let version = server.version().unwrap_or_else(|e| format!("unknown ({e})"));
    let tick = server_tick(&server);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let machine = json!({
        "cores": cores,
        "cpu_model": cpu_model(),
        "kernel": kernel(),
        "zookeeper_version": version,
        "zookeeper_tick_ms": tick.map(|t| t.as_millis() as u64),
        "zookeeper_force_sync": false,
        "zookeeper_extra_jvm_args": jvm_args,
        "load_average_before": load_before,
    });
    println!("# zk-election benchmarks\n");
    println!(
        "machine: {cores} cores, {} · Linux {} · ZooKeeper {version} (standalone, forceSync=no, tickTime={} ms) · load average {load_before}\n",
        cpu_model(),
        kernel(),
        tick.map_or("?".to_owned(), |t| t.as_millis().to_string()),
    );

    let connect = server.connect_string();
    let zk_pid = server.pid();
    let zk_log = server.log_path().to_owned();
    let zk_addr = server.addr();
    let system = System::new();
    let (rows, figures) = system.block_on(async move {
        let mut rows = Vec::new();
        let mut figures = serde_json::Map::new();
        let observer = match connect_observer(&connect).await {
            Ok(o) => o,
            Err(err) => {
                eprintln!("cannot connect the observer session: {err}");
                return (rows, figures);
            }
        };
        let bench = Bench { connect, observer, tick, zk_pid, zk_log, zk_addr };
        type Figure<'a> = (&'a str, std::pin::Pin<Box<dyn Future<Output = Result<Outcome, String>> + 'a>>, Duration);
        let list: Vec<Figure> = vec![
            ("zk_rtt", Box::pin(zk_round_trip(&bench)), 60 * SECOND),
            ("first_leader_ms", Box::pin(first_leader(&bench)), 60 * SECOND),
            ("clean_failover_ms", Box::pin(clean_failover(&bench)), 90 * SECOND),
            ("elections_1000_ms", Box::pin(elections_1000(&bench)), 120 * SECOND),
            ("herd_requests_per_failover", Box::pin(herd(&bench)), 120 * SECOND),
            ("crash_failover_over_timeout_ms", Box::pin(crash_failover(&bench)), 120 * SECOND),
            ("idle_cpu_pct+rss_mib", Box::pin(footprint(&bench, &example)), 60 * SECOND),
        ];
        for (name, figure, limit) in list {
            if !name.split('+').any(&selected) {
                continue;
            }
            let start = Instant::now();
            eprintln!("[{:6.1} s] {name}...", since(started));
            match tokio::time::timeout(limit, figure).await {
                Ok(Ok(outcome)) => {
                    rows.extend(outcome.rows);
                    let mut record = outcome.json;
                    record["wall_s"] = round3(since(start));
                    figures.insert(name.to_owned(), record);
                }
                Ok(Err(err)) => {
                    eprintln!("FIGURE FAILED: {name}: {err}");
                    rows.push(row(name, format!("failed: {err}"), "", Some(false)));
                    figures.insert(name.to_owned(), json!({ "error": err }));
                }
                Err(_) => {
                    let err = format!("did not finish within {limit:?}");
                    eprintln!("FIGURE FAILED: {name}: {err}");
                    rows.push(row(name, format!("failed: {err}"), "", Some(false)));
                    figures.insert(name.to_owned(), json!({ "error": err }));
                }
            }
        }
        close_sessions([bench.observer.clone()]).await;
        (rows, figures)
    });
    drop(server);

    let load_after = load_average();
    let mut machine = machine;
    machine["load_average_after"] = json!(load_after);
    println!("{}", table(&rows));
    println!("\nload average after: {load_after} · total {:.1} s", since(started));

    let report = json!({
        "command": "cargo bench --features testkit --bench election",
        "machine": machine,
        "total_s": round3(since(started)),
        "figures": figures,
        "table_markdown": table(&rows),
    });
    let path = dir.join("election.json");
    let written = std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap_or_default());
    match written {
        Ok(()) => println!("wrote {}", path.display()),
        Err(err) => eprintln!("cannot write {}: {err}", path.display()),
    }
}

async fn connect_observer(connect_string: &str) -> Result<Addr<ZkSession>, String> {
    connect(connect_string, 6 * SECOND).await
}
