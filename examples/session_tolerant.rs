//! The connection-loss policies side by side: what a `Standard` leader and a `SessionTolerant`
//! leader do when their connection to ZooKeeper blips, and when it is partitioned for good.
//!
//! ```sh
//! cargo run --features testkit --example session_tolerant
//! ```
//!
//! It starts an embedded ZooKeeper ([`ZkServer`]) and two elections, "standard"
//! ([`ConnectionLossPolicy::Standard`]) and "tolerant" ([`ConnectionLossPolicy::SessionTolerant`]),
//! each with one contender whose session (2 s session timeout) goes through its own
//! [`FaultProxy`]. Every leadership and connection event is printed with the milliseconds since
//! start. The script:
//!
//! 1. **a blip**: both proxies cut every connection and let traffic pass again 200 ms later, well
//!    within the session timeout. Both sessions survive. The standard leader is revoked at
//!    `Suspended` and granted again after `Reconnected` with a new leader session (its latch node
//!    survived with the session, and with it the fencing token): a failover to itself, which its
//!    clients see. The tolerant leader keeps its leadership and its leader session;
//! 2. **a partition**: both proxies blackhole traffic past the session timeout. Both step down:
//!    the standard leader at `Suspended`, the tolerant one when its session lease ends, a little
//!    before `Lost` and before the server may expire the session;
//! 3. the partition heals: each builds a new session and leads again with a new leader session.
//!
//! Every wait has a deadline; a missed one, or a leader that behaves otherwise, prints what was
//! expected and exits with status 1. Takes about three seconds.

mod support;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::mpsc;
use uuid::Uuid;
use zk_election::session::SubscribeConnection;
use zk_election::testkit::{FaultProxy, RecordingContender};
use zk_election::{
    ConnectionLossPolicy, ConnectionState, ConnectionStateChanged, ElectionConfig, ElectionSupervisor, LeadershipEvent,
    SessionConfig, Stop, StopSession, Subscribe, ZkSession,
};

/// Session timeout asked of ZooKeeper (the embedded server grants it).
const SESSION_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the blip keeps the proxies cut.
const BLIP: Duration = Duration::from_millis(200);
/// How long the script watches for more events after the blip.
const SETTLE: Duration = Duration::from_millis(500);
/// Deadline of every wait.
const DEADLINE: Duration = Duration::from_secs(8);
const STANDARD: &str = "standard";
const TOLERANT: &str = "tolerant";

fn main() -> ExitCode {
    support::init_logs();
    let server = match support::start_zookeeper() {
        Ok(server) => server,
        Err(code) => return code,
    };
    support::finish(System::new().block_on(run(server.connect_string())))
}

async fn run(connect: String) -> Result<(), String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let mut story = Story { t0: Instant::now(), receiver, seen: Vec::new() };
    story.say("two elections, one contender each; each session (timeout 2 s) goes through its own fault proxy");
    let standard = Election::start(STANDARD, ConnectionLossPolicy::Standard, &connect, &sender).await?;
    let tolerant = Election::start(TOLERANT, ConnectionLossPolicy::SessionTolerant, &connect, &sender).await?;
    let both = [&standard, &tolerant];

    let (mut standard_session, mut tolerant_session) = (None, None);
    story
        .until(DEADLINE, "both leaders published", |event| {
            match (event.side, published(event)) {
                (STANDARD, Some(session)) => standard_session = Some(session),
                (TOLERANT, Some(session)) => tolerant_session = Some(session),
                _ => {}
            }
            standard_session.is_some() && tolerant_session.is_some()
        })
        .await?;
    let (Some(standard_before), Some(tolerant_before)) = (standard_session, tolerant_session) else {
        unreachable!("waited for both");
    };

    // 1. A blip: every connection is closed, and comes back within the session timeout.
    story.say(&format!("== blip: both proxies cut every connection, and pass again {} ms later", BLIP.as_millis()));
    let mark = story.seen.len();
    cut(&both).await;
    tokio::time::sleep(BLIP).await;
    story.say("== both proxies pass again");
    for election in both {
        election.proxy.pass();
    }
    let (mut standard_after, mut tolerant_back) = (None, false);
    story
        .until(DEADLINE, "the standard leader republished and the tolerant session back", |event| {
            match (event.side, &event.what) {
                (STANDARD, _) => standard_after = published(event).filter(|s| *s != standard_before).or(standard_after),
                (TOLERANT, What::Connection(ConnectionState::Reconnected { same_session: true }, _)) => {
                    tolerant_back = true
                }
                _ => {}
            }
            standard_after.is_some() && tolerant_back
        })
        .await?;
    story.settle(SETTLE).await;
    let since_blip = &story.seen[mark..];
    let standard_revoked = since_blip.iter().any(|e| e.side == STANDARD && e.is_revoke());
    let tolerant_revoked = since_blip.iter().any(|e| e.side == TOLERANT && e.is_revoke());
    if !standard_revoked || tolerant_revoked {
        return Err(format!(
            "after the blip: standard revoked {standard_revoked}, tolerant revoked {tolerant_revoked}"
        ));
    }
    let standard_after = standard_after.expect("waited for it");
    story.say(&format!(
        "=> standard: revoked and granted again, leader session {} → {}",
        short(standard_before),
        short(standard_after)
    ));
    story.say(&format!("=> tolerant: still leading, leader session {} unchanged", short(tolerant_before)));

    // 2. A partition that outlasts the session timeout.
    story.say(&format!(
        "== partition: both proxies blackhole (nothing passes, no connection closes) past the {} ms session timeout",
        SESSION_TIMEOUT.as_millis()
    ));
    let partitioned = Instant::now();
    for election in both {
        election.proxy.blackhole();
    }
    let (mut standard_down, mut tolerant_down, mut lost) = (None, None, 0);
    story
        .until(SESSION_TIMEOUT + DEADLINE, "both leaders revoked and both sessions lost", |event| {
            match (event.side, &event.what) {
                (STANDARD, _) if event.is_revoke() => standard_down = Some(event.at),
                (TOLERANT, _) if event.is_revoke() => tolerant_down = Some(event.at),
                (_, What::Connection(ConnectionState::Lost, _)) => lost += 1,
                _ => {}
            }
            standard_down.is_some() && tolerant_down.is_some() && lost == 2
        })
        .await?;
    let after = |at: Option<Instant>| at.map_or(0, |at| at.saturating_duration_since(partitioned).as_millis());
    story.say(&format!(
        "=> both stepped down: standard {} ms into the partition (at Suspended), tolerant {} ms (its session lease ended)",
        after(standard_down),
        after(tolerant_down)
    ));

    // 3. The partition heals: new sessions, new leaderships.
    story.say("== healing: both proxies pass");
    for election in both {
        election.proxy.pass();
    }
    let (mut standard_again, mut tolerant_again) = (false, false);
    story
        .until(DEADLINE, "both leaders published again", |event| {
            match (event.side, published(event)) {
                (STANDARD, Some(_)) => standard_again = true,
                (TOLERANT, Some(_)) => tolerant_again = true,
                _ => {}
            }
            standard_again && tolerant_again
        })
        .await?;

    story.say("stopping both elections");
    for election in both {
        let _ = election.supervisor.send(Stop).await;
        let _ = election.session.send(StopSession).await;
    }
    Ok(())
}

/// One election: its proxy, its session through it, its supervisor.
struct Election {
    proxy: Arc<FaultProxy>,
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
}

impl Election {
    async fn start(
        name: &'static str,
        policy: ConnectionLossPolicy,
        connect: &str,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Result<Election, String> {
        let proxy = Arc::new(FaultProxy::for_connect_string(connect).map_err(|err| err.to_string())?);
        let config = SessionConfig::builder(proxy.connect_string())
            .session_timeout(SESSION_TIMEOUT)
            .request_timeout(Duration::from_secs(1))
            .build()
            .map_err(|err| err.to_string())?;
        let session = ZkSession::start(config);
        let watcher = ConnectionWatcher { side: name, events: events.clone() }.start();
        let status = session.send(SubscribeConnection(watcher.recipient())).await.map_err(|err| err.to_string())?;
        if let Some(state) = status.state {
            let _ =
                events.send(Event { at: Instant::now(), side: name, what: What::Connection(state, status.zk_session) });
        }
        let election = ElectionConfig::builder(format!("/{name}/latch")).policy(policy).build();
        let supervisor = ElectionSupervisor::start(session.clone(), election.map_err(|err| err.to_string())?);
        let sender = events.clone();
        let contender = RecordingContender::new(supervisor.clone(), move |at, event| {
            let _ = sender.send(Event { at, side: name, what: What::Leadership(event) });
        })
        .start();
        let subscribe =
            Subscribe::new("jobmanager", format!("{name}:6123"), format!("/{name}/leader"), contender.recipient());
        supervisor.send(subscribe).await.map_err(|err| err.to_string())?.map_err(|err| err.to_string())?;
        Ok(Election { proxy, session, supervisor })
    }
}

/// Cuts every proxy's connections (blocking until they are closed, off the actors' thread).
async fn cut(elections: &[&Election]) {
    let cuts: Vec<_> = elections
        .iter()
        .map(|election| {
            let proxy = Arc::clone(&election.proxy);
            tokio::task::spawn_blocking(move || proxy.cut())
        })
        .collect();
    for cut in cuts {
        let _ = cut.await;
    }
}

/// Something that happened to one election.
struct Event {
    at: Instant,
    side: &'static str,
    what: What,
}

enum What {
    Leadership(LeadershipEvent),
    Connection(ConnectionState, Option<i64>),
}

impl Event {
    fn is_revoke(&self) -> bool {
        matches!(self.what, What::Leadership(LeadershipEvent::Revoked { .. }))
    }

    fn describe(&self) -> String {
        match &self.what {
            What::Leadership(LeadershipEvent::Granted { leader_session, fencing_token, .. }) => {
                format!("granted      leader session {}, fencing token {fencing_token}", short(*leader_session))
            }
            What::Leadership(LeadershipEvent::Published { leader_session, .. }) => {
                format!("published    leader session {}", short(*leader_session))
            }
            What::Leadership(LeadershipEvent::Revoked { .. }) => "REVOKED".to_owned(),
            What::Leadership(LeadershipEvent::Error { error, .. }) => format!("error        {error}"),
            What::Leadership(other) => format!("{other:?}"),
            What::Connection(state, zk_session) => {
                let session = zk_session.map_or(String::new(), |id| format!(", ZooKeeper session {id:#x}"));
                format!("connection   {state:?}{session}")
            }
        }
    }
}

/// The leader session of a `Published` event.
fn published(event: &Event) -> Option<Uuid> {
    match event.what {
        What::Leadership(LeadershipEvent::Published { leader_session, .. }) => Some(leader_session),
        _ => None,
    }
}

/// The first eight hex digits of a leader session: enough to tell them apart.
fn short(session: Uuid) -> String {
    session.simple().to_string()[..8].to_owned()
}

/// Passes a session's connection states on as events.
struct ConnectionWatcher {
    side: &'static str,
    events: mpsc::UnboundedSender<Event>,
}

impl Actor for ConnectionWatcher {
    type Context = Context<Self>;
}

impl Handler<ConnectionStateChanged> for ConnectionWatcher {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, _ctx: &mut Context<Self>) {
        let what = What::Connection(msg.state, msg.zk_session);
        let _ = self.events.send(Event { at: Instant::now(), side: self.side, what });
    }
}

/// The timeline: prints every event as the script takes it in, in the order it happened.
struct Story {
    t0: Instant,
    receiver: mpsc::UnboundedReceiver<Event>,
    seen: Vec<Event>,
}

impl Story {
    fn stamp(&self, at: Instant) -> String {
        format!("[{:>5} ms]", at.saturating_duration_since(self.t0).as_millis())
    }

    fn take(&mut self, event: Event) {
        println!("{}   {:<8} {}", self.stamp(event.at), event.side, event.describe());
        self.seen.push(event);
    }

    /// Prints a line of the script, after the events that came before it.
    fn say(&mut self, what: &str) {
        while let Ok(event) = self.receiver.try_recv() {
            self.take(event);
        }
        println!("{} {what}", self.stamp(Instant::now()));
    }

    /// Takes events in until `done` says so.
    async fn until(
        &mut self,
        deadline: Duration,
        what: &str,
        mut done: impl FnMut(&Event) -> bool,
    ) -> Result<(), String> {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            match tokio::time::timeout_at(end, self.receiver.recv()).await {
                Ok(Some(event)) => {
                    let finished = done(&event);
                    self.take(event);
                    if finished {
                        return Ok(());
                    }
                }
                Ok(None) => return Err(format!("the event channel closed while waiting for {what}")),
                Err(_) => return Err(format!("no {what} within {deadline:?}")),
            }
        }
    }

    /// Takes events in for `period`.
    async fn settle(&mut self, period: Duration) {
        let end = tokio::time::Instant::now() + period;
        while let Ok(Some(event)) = tokio::time::timeout_at(end, self.receiver.recv()).await {
            self.take(event);
        }
    }
}
