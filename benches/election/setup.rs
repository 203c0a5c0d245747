//! Shared set-up of the figures: the bench's context, sessions, supervisors with one recording
//! contender each, and bounded waits.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use zk_election::testkit::Operator;

use actix::prelude::*;
use tokio::sync::mpsc;
use zk_election::secure::TlsConfig;
use zk_election::session::{GetSessionMetrics, GetStatus, SessionMetrics};
use zk_election::testkit::RecordingContender;
use zk_election::zk::GetChildren;
use zk_election::{
    ElectionConfig, ElectionSupervisor, LeadershipEvent, SessionConfig, StopElection, StopSession, Subscribe, ZkSession,
};

use crate::stats::Samples;

pub(crate) const SECOND: Duration = Duration::from_secs(1);
/// Deadline of any single wait for an election event.
pub(crate) const EVENT_DEADLINE: Duration = Duration::from_secs(5);
/// Runs before the measured ones (JIT warm-up of the server, first-use allocations).
pub(crate) const WARMUP: usize = 5;

/// Context every figure gets.
pub(crate) struct Bench {
    pub(crate) connect: String,
    /// The observer session, shared by every figure.
    pub(crate) observer: Addr<ZkSession>,
    pub(crate) tick: Option<Duration>,
    /// The server JVM, for its CPU time.
    pub(crate) zk_pid: Option<u32>,
    /// The server's log, for the time it expired a session.
    pub(crate) zk_log: PathBuf,
    /// The server's client port, for its packet counters.
    pub(crate) zk_addr: std::net::SocketAddr,
    /// The `contender` example built in release, for the footprint figure.
    pub(crate) example: Result<PathBuf, String>,
    /// TLS for the contenders' sessions of the figures that honour it (clean failover), when
    /// `connect` names TLS ports.
    pub(crate) tls: Option<TlsConfig>,
}

/// A leadership event, tagged with the contender it went to and when it arrived.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) at: Instant,
    pub(crate) tag: usize,
    pub(crate) event: LeadershipEvent,
}

/// Empties `events`, adding to `into` the time since `start` of each event that is `wanted`.
pub(crate) fn drain_into(
    events: &mut mpsc::UnboundedReceiver<Event>,
    start: Instant,
    wanted: impl Fn(&Event) -> bool,
    into: &mut Samples,
) {
    while let Ok(event) = events.try_recv() {
        if wanted(&event) {
            into.push(event.at.saturating_duration_since(start));
        }
    }
}

const COMPONENT: &str = "bench";

/// Starts a supervisor for `latch` over `session` with one contender that confirms every grant
/// at once and reports each event as an [`Event`] tagged `tag`.
/// The subscribe is sent but not awaited; the returned request tells whether it was accepted.
pub(crate) fn join(
    session: &Addr<ZkSession>,
    latch: &str,
    leader: &str,
    address: &str,
    tag: usize,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<(Addr<ElectionSupervisor>, actix::dev::Request<ElectionSupervisor, Subscribe>), String> {
    let config = ElectionConfig::builder(latch).build().map_err(|e| e.to_string())?;
    Ok(join_with(session, config, leader, address, tag, events))
}

/// [`join`] with an election configuration of the caller's.
pub(crate) fn join_with(
    session: &Addr<ZkSession>,
    config: ElectionConfig,
    leader: &str,
    address: &str,
    tag: usize,
    events: &mpsc::UnboundedSender<Event>,
) -> (Addr<ElectionSupervisor>, actix::dev::Request<ElectionSupervisor, Subscribe>) {
    let supervisor = ElectionSupervisor::start(session.clone(), config);
    let events = events.clone();
    let contender = RecordingContender::new(supervisor.clone(), move |at, event| {
        let _ = events.send(Event { at, tag, event });
    })
    .start();
    let subscribe = supervisor.send(Subscribe::new(COMPONENT, address, leader, contender.recipient()));
    (supervisor, subscribe)
}

/// [`join`], awaiting the subscribe.
pub(crate) async fn join_now(
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
pub(crate) async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(limit, fut).await.map_err(|_| format!("{what}: no answer within {limit:?}"))
}

/// Stops a supervisor and waits (bounded) for its teardown.
pub(crate) async fn stop(supervisor: &Addr<ElectionSupervisor>) -> Result<(), String> {
    within(EVENT_DEADLINE, "stop", supervisor.send(StopElection))
        .await?
        .map_err(|e| format!("stop: {e}"))?
        .map_err(|e| format!("stop failed: {e}"))
}

/// Closes sessions, bounded (a session behind a blackhole waits at most 2 s for its close).
pub(crate) async fn close_sessions(sessions: impl IntoIterator<Item = Addr<ZkSession>>) {
    let closing: Vec<_> = sessions.into_iter().map(|s| s.send(StopSession)).collect();
    for close in closing {
        let _ = tokio::time::timeout(3 * SECOND, close).await;
    }
}

/// Starts a session with `timeout` to `connect` (not waiting for it).
pub(crate) fn session(connect: &str, timeout: Duration) -> Result<Addr<ZkSession>, String> {
    let config = SessionConfig::builder(connect)
        .session_timeout(timeout)
        .request_timeout(10 * SECOND)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(ZkSession::start(config))
}

/// Waits until `session` is connected; answers its negotiated session timeout.
pub(crate) async fn connected(session: &Addr<ZkSession>, limit: Duration) -> Result<Duration, String> {
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
pub(crate) async fn connect(connect: &str, timeout: Duration) -> Result<Addr<ZkSession>, String> {
    let s = session(connect, timeout)?;
    connected(&s, 15 * SECOND).await?;
    Ok(s)
}

/// A connected session to the bench's servers, over TLS if the bench says so.
pub(crate) async fn connect_to(bench: &Bench, timeout: Duration) -> Result<Addr<ZkSession>, String> {
    let mut config = SessionConfig::builder(&bench.connect).session_timeout(timeout).request_timeout(10 * SECOND);
    if let Some(tls) = &bench.tls {
        config = config.tls(tls.clone());
    }
    let s = ZkSession::start(config.build().map_err(|e| e.to_string())?);
    connected(&s, 15 * SECOND).await?;
    Ok(s)
}

/// Polls (setup only, never in a measured path) until `path` has `count` latch children.
pub(crate) async fn await_children(
    observer: &Addr<ZkSession>,
    path: &str,
    count: usize,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    loop {
        let children = Operator::start(observer).send(GetChildren { path: path.to_owned() }).await;
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

pub(crate) async fn session_metrics(sessions: &[Addr<ZkSession>]) -> Result<Vec<SessionMetrics>, String> {
    let asks: Vec<_> = sessions.iter().map(|s| s.send(GetSessionMetrics)).collect();
    let mut all = Vec::with_capacity(asks.len());
    for ask in asks {
        all.push(within(EVENT_DEADLINE, "session metrics", ask).await?.map_err(|e| e.to_string())?);
    }
    Ok(all)
}

pub(crate) fn total_requests(metrics: &[SessionMetrics]) -> u64 {
    metrics.iter().map(SessionMetrics::total_requests).sum()
}
