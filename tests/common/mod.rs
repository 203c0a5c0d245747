//! Helpers shared by the integration tests: probes that turn actor messages into awaitable
//! channels, subscribing the testkit's recording contender, and deadlines instead of sleeps.
#![allow(dead_code)] // each test binary uses a different subset

pub mod example;
pub mod http;
pub mod zk_elect;
#[allow(unused_imports)] // only the CLI tests drive processes
pub use zk_elect::*;

use std::future::Future;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::mpsc;
use zk_election::testkit::RecordingContender;
#[allow(unused_imports)] // not every test watches
pub use zk_election::testkit::{Operator, Watched};
use zk_election::zk::{Create, Exists, GetChildren, GetData, NodeMode, Stat};
use zk_election::{
    ConnectionState, ConnectionStateChanged, ElectionSupervisor, LeadershipEvent, SessionConfig, ZkSession,
};

/// Logs to the test output when `RUST_LOG` is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// An actor that forwards every `M` it receives, with the time it arrived, into a channel.
pub struct Probe<M: Message<Result = ()> + Send + 'static> {
    sender: mpsc::UnboundedSender<(Instant, M)>,
}

impl<M: Message<Result = ()> + Send + 'static> Actor for Probe<M> {
    type Context = Context<Self>;
}

impl<M: Message<Result = ()> + Send + 'static> Handler<M> for Probe<M> {
    type Result = ();

    fn handle(&mut self, msg: M, _ctx: &mut Context<Self>) {
        let _ = self.sender.send((Instant::now(), msg));
    }
}

/// The receiving end of a [`Probe`].
pub struct Received<M> {
    receiver: mpsc::UnboundedReceiver<(Instant, M)>,
}

/// A probe recipient and the channel that receives what it is sent.
pub fn probe<M: Message<Result = ()> + Send + 'static>() -> (Recipient<M>, Received<M>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (Probe { sender }.start().recipient(), Received { receiver })
}

impl<M: std::fmt::Debug> Received<M> {
    /// The next message, or a panic after `within`.
    pub async fn next(&mut self, within: Duration) -> (Instant, M) {
        match tokio::time::timeout(within, self.receiver.recv()).await {
            Ok(Some(item)) => item,
            Ok(None) => panic!("probe channel closed"),
            Err(_) => panic!("nothing received within {within:?}"),
        }
    }

    /// Skips messages until one satisfies `wanted`; panics after `within`.
    pub async fn until(&mut self, within: Duration, mut wanted: impl FnMut(&M) -> bool) -> (Instant, M) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, msg) = self.next(left).await;
            if wanted(&msg) {
                return (at, msg);
            }
        }
    }

    /// Everything that arrives within `window` (for "nothing else happened" checks).
    pub async fn drain_for(&mut self, window: Duration) -> Vec<M> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Some((_, msg))) = tokio::time::timeout_at(deadline, self.receiver.recv()).await {
            seen.push(msg);
        }
        seen
    }

    /// Whatever is already queued.
    pub fn try_drain(&mut self) -> Vec<M> {
        self.try_drain_timed().into_iter().map(|(_, msg)| msg).collect()
    }

    /// What has arrived so far, with the moment each arrived, without waiting.
    pub fn try_drain_timed(&mut self) -> Vec<(Instant, M)> {
        let mut seen = Vec::new();
        while let Ok(item) = self.receiver.try_recv() {
            seen.push(item);
        }
        seen
    }
}

/// Runs a blocking testkit call (start, kill, restart a server) off the actor thread.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("testkit call panicked")
}

/// Connection states, in arrival order.
pub type States = Received<ConnectionStateChanged>;

/// Waits for `state` and returns when it arrived.
pub async fn expect_state(states: &mut States, state: ConnectionState, within: Duration) -> Instant {
    states.until(within, |event| event.state == state).await.0
}

/// A session with `timeout` to `connect`, its connection-state probe, once connected.
pub async fn connected_session(connect: &str, timeout: Duration) -> (Addr<ZkSession>, States) {
    let config = SessionConfig::builder(connect)
        .session_timeout(timeout)
        .request_timeout(Duration::from_secs(5))
        .build()
        .expect("valid test config");
    session_with(config).await
}

/// A session with `config`, its connection-state probe, once connected.
pub async fn session_with(config: SessionConfig) -> (Addr<ZkSession>, States) {
    let session = ZkSession::start(config);
    let (recipient, mut states) = probe::<ConnectionStateChanged>();
    let status = session.send(zk_election::session::SubscribeConnection(recipient)).await.expect("session alive");
    if !status.is_connected() {
        expect_state(&mut states, ConnectionState::Connected, Duration::from_secs(15)).await;
    }
    (session, states)
}

/// An [`Operator`] on `session`, for what the test itself reads and writes.
pub fn ops(session: &Addr<ZkSession>) -> Addr<Operator> {
    Operator::start(session)
}

/// Waits until `path` has exactly `count` children (e.g. participants queued in a latch), and
/// answers them.
pub async fn await_children(observer: &Addr<ZkSession>, path: &str, count: usize, within: Duration) -> Vec<String> {
    let observer = ops(observer);
    eventually(within, &format!("{count} children of {path}"), || async {
        let children = observer.send(GetChildren { path: path.to_owned() }).await.unwrap().ok()?;
        (children.len() == count).then_some(children)
    })
    .await
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `within` with `what`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Data and stat of `path`, or `None` if it does not exist.
pub async fn read(session: &Addr<ZkSession>, path: &str) -> Option<(Vec<u8>, Stat)> {
    match ops(session).send(GetData { path: path.to_owned() }).await.expect("session alive") {
        Ok(found) => Some(found),
        Err(zk_election::ZkError::NoNode) => None,
        Err(err) => panic!("reading {path}: {err}"),
    }
}

/// Whether `path` exists.
pub async fn exists(session: &Addr<ZkSession>, path: &str) -> bool {
    ops(session).send(Exists { path: path.to_owned() }).await.expect("session alive").expect("exists").is_some()
}

/// Creates a persistent node (and its parents).
pub async fn create_persistent(session: &Addr<ZkSession>, path: &str, data: &[u8]) {
    ops(session)
        .send(Create::new(path, data, NodeMode::Persistent).parents(zk_election::zk::Parents::Persistent))
        .await
        .expect("session alive")
        .expect("create");
}

/// Leadership events of one contender.
pub type Events = Received<LeadershipEvent>;

/// Starts a recording contender for `supervisor` (confirming every grant if `auto_confirm`) and
/// subscribes it.
pub async fn subscribe(
    supervisor: &Addr<ElectionSupervisor>,
    component: &str,
    address: &str,
    leader_path: &str,
    auto_confirm: bool,
) -> Events {
    let (contender, receiver) = RecordingContender::channel(supervisor.clone());
    let contender = contender.confirm_grants(auto_confirm).start();
    supervisor
        .send(zk_election::Subscribe::new(component, address, leader_path, contender.recipient()))
        .await
        .expect("supervisor alive")
        .expect("subscribe accepted");
    Received { receiver }
}

/// Waits for the next grant and returns its session ID.
pub async fn expect_grant(events: &mut Events, within: Duration) -> uuid::Uuid {
    match events.until(within, |e| matches!(e, LeadershipEvent::Granted { .. })).await.1 {
        LeadershipEvent::Granted { leader_session, .. } => leader_session,
        _ => unreachable!(),
    }
}

/// Waits for the next publish and returns its session ID.
pub async fn expect_published(events: &mut Events, within: Duration) -> uuid::Uuid {
    expect_publication(events, within).await.0
}

/// Waits for `Published`; returns its leader session and fencing token.
pub async fn expect_publication(events: &mut Events, within: Duration) -> (uuid::Uuid, i64) {
    match events.until(within, |e| matches!(e, LeadershipEvent::Published { .. })).await.1 {
        LeadershipEvent::Published { leader_session, fencing_token, .. } => (leader_session, fencing_token),
        _ => unreachable!(),
    }
}

/// CPU time (user + system) this process has used so far.
pub fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// One contender process in an election: its own session, supervisor and recording contender.
pub struct Participant {
    pub address: String,
    pub session: Addr<ZkSession>,
    pub supervisor: Addr<ElectionSupervisor>,
    pub events: Events,
}

impl Participant {
    /// Connects a session with `timeout`, starts a supervisor for `config` and subscribes a
    /// recording contender as `component` publishing `address` at `leader_path`.
    pub async fn start(
        connect: &str,
        config: zk_election::ElectionConfig,
        component: &str,
        address: &str,
        leader_path: &str,
        auto_confirm: bool,
        timeout: Duration,
    ) -> Participant {
        let (session, _states) = connected_session(connect, timeout).await;
        let supervisor = ElectionSupervisor::start(session.clone(), config);
        let events = subscribe(&supervisor, component, address, leader_path, auto_confirm).await;
        Participant { address: address.to_owned(), session, supervisor, events }
    }

    /// Whether this participant's supervisor holds the latch.
    pub async fn is_leader(&self) -> bool {
        self.supervisor.send(zk_election::GetElectionMetrics).await.expect("supervisor alive").is_leader
    }
}
