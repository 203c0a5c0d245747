//! The failover demo: three contenders, one leader at a time, two failovers, one timeline.
//!
//! ```sh
//! cargo run --release --features testkit --example failover_demo            # embedded ZooKeeper
//! cargo run --release --features testkit --example failover_demo -- HOST:PORT  # your own
//! ```
//!
//! Without a connect string it starts a ZooKeeper server of its own ([`ZkServer`]). Three
//! contenders, "alpha", "bravo" and "charlie", each get their own ZooKeeper session (2 s session
//! timeout) through their own [`FaultProxy`], so any one of them can be cut off from ZooKeeper
//! alone; an observer session watches the latch and the leader node. The script:
//!
//! 1. the first leader is granted, confirms, and its address appears in the leader node;
//! 2. it stops cleanly (`Stop`, then `StopSession`), and the next in line takes over at once;
//! 3. the new leader is partitioned (its proxy blackholes: to ZooKeeper it looks crashed). It
//!    revokes itself when its connection is suspended; the third takes over once ZooKeeper
//!    expires the partitioned session;
//! 4. the partition heals and the partitioned contender rejoins, as a follower;
//! 5. everything stops, and a summary gives both failover times and checks, from the recorded
//!    confirmed-leadership intervals, that no two contenders ever led at the same time.
//!
//! Every wait has a deadline; a missed one prints what was expected and exits with status 1.
//! Set `RUST_LOG` (e.g. `RUST_LOG=zk_election=debug`) to see the library's own logs on stderr.

mod support;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use actix::prelude::*;
use clap::Parser;
use tokio::sync::mpsc;
use uuid::Uuid;
use zk_election::latch::participants_in_order;
use zk_election::node_cache::{LeaderNodeCache, NodeChanged, NodeView};
use zk_election::session::{
    Delete, Exists, GetChildren, GetData, GetStatus, SubscribeConnection, WatchEvent, WatchFired,
};
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::{
    Confirm, ConnectionState, ConnectionStateChanged, ElectionConfig, ElectionError, ElectionSupervisor, LeaderInfo,
    LeaderInfoCodec, LeadershipEvent, SessionConfig, Stop, StopSession, Subscribe, ZkError, ZkSession,
};

/// The contenders, in the order they join (and so, the order they lead in).
const CAST: [(&str, &str); 3] =
    [("alpha", "alpha.example:6123"), ("bravo", "bravo.example:6123"), ("charlie", "charlie.example:6123")];
/// The observer's name in the timeline.
const OBSERVER: &str = "observer";
/// The component name every contender subscribes under.
const COMPONENT: &str = "jobmanager";
/// Where the election lives (a run-specific node below it on an external ZooKeeper).
const BASE_PATH: &str = "/zk-election/failover-demo";
/// Session timeout asked of ZooKeeper: short, so the partition step is quick.
const SESSION_TIMEOUT: Duration = Duration::from_secs(2);
/// Deadline of every ZooKeeper request; bounds what a partitioned contender waits for.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Deadline of the steps that need nothing but a working ZooKeeper.
const STEP_DEADLINE: Duration = Duration::from_secs(10);
/// What every wait of the script together may take (a run takes about 5 s).
const BUDGET: Duration = Duration::from_secs(25);
/// How long the script lets things run after each step, so every leader leads for a moment.
const HOLD: Duration = Duration::from_millis(500);

/// Leader election failover demo: three contenders, a clean stop, a partition, a heal.
#[derive(Debug, Parser)]
#[command(name = "failover_demo")]
struct Args {
    /// ZooKeeper connect string of an existing ensemble; without it an embedded ZooKeeper is
    /// started (needs Java and ZooKeeper's jars, see scripts/install-zookeeper.sh).
    #[arg(value_name = "CONNECT")]
    connect: Option<String>,
    /// Same as the positional CONNECT.
    #[arg(long = "connect", value_name = "CONNECT", conflicts_with = "connect")]
    connect_flag: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    support::init_logs();
    // Declared before the proxies, so it is dropped (and its JVM killed) after them.
    let server;
    let (connect, base_path) = match args.connect.or(args.connect_flag) {
        Some(connect) => {
            println!("ZooKeeper: {connect} (external)");
            // A path of its own, so parallel runs against one ensemble do not meet.
            (connect, format!("{BASE_PATH}/run-{}", &Uuid::new_v4().simple().to_string()[..8]))
        }
        None => {
            let started = Instant::now();
            server = match ZkServer::start() {
                Ok(server) => server,
                Err(err) => {
                    eprintln!("error: cannot start an embedded ZooKeeper: {err}");
                    eprintln!("(or pass the connect string of a running ZooKeeper as the first argument)");
                    return ExitCode::FAILURE;
                }
            };
            let version = server.version().unwrap_or_else(|_| "?".to_owned());
            let version = version.split('-').next().unwrap_or_default().to_owned();
            println!(
                "ZooKeeper {version}: embedded server on {} (started in {} ms)",
                server.connect_string(),
                started.elapsed().as_millis()
            );
            (server.connect_string(), BASE_PATH.to_owned())
        }
    };
    let mut proxies = Vec::new();
    for _ in CAST {
        match FaultProxy::for_connect_string(&connect) {
            Ok(proxy) => proxies.push(proxy),
            Err(err) => {
                eprintln!("error: cannot start a fault proxy in front of {connect}: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let paths = Paths { latch: format!("{base_path}/latch"), leader: format!("{base_path}/leader"), base: base_path };
    System::new().block_on(run(&connect, &proxies, &paths))
}

/// The znodes of this run.
struct Paths {
    base: String,
    latch: String,
    leader: String,
}

async fn run(connect: &str, proxies: &[FaultProxy], paths: &Paths) -> ExitCode {
    let (sender, receiver) = mpsc::unbounded_channel();
    let mut demo = Demo { t0: Instant::now(), receiver, log: Log(sender), state: State::default(), cast: Vec::new() };
    println!(
        "three contenders, each with its own ZooKeeper session (timeout {} ms) through its own fault proxy",
        SESSION_TIMEOUT.as_millis()
    );
    println!("latch {}, leader node {}\n", paths.latch, paths.leader);
    let observer = match demo.start_observer(connect, paths).await {
        Ok(observer) => observer,
        Err(err) => {
            println!("\nFAILED: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = demo.script(connect, proxies, paths).await;
    if let Err(err) = &outcome {
        demo.narrate(&format!("FAILED: {err}"));
    }
    // Whatever happened: heal, stop everyone, close the observer last.
    for proxy in proxies {
        proxy.pass();
    }
    demo.stop_all().await;
    if outcome.is_ok() {
        let emptied = demo
            .wait_until(STEP_DEADLINE, "the leader node and the latch to be empty", |state| {
                (state.leader_node.is_none() && state.queue.as_ref().is_some_and(Vec::is_empty)).then_some(())
            })
            .await;
        if let Err(err) = emptied {
            demo.narrate(&format!("warning: {err}"));
        }
    }
    clean_up_run_nodes(&observer, paths).await;
    let _ = observer.send(StopSession).timeout(STEP_DEADLINE).await;
    demo.drain();
    match outcome {
        Ok(summary) => {
            let overlaps = summary.print(&demo);
            if overlaps == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            println!("\nFAILED: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Removes the run's (now empty) latch and base nodes on an external ZooKeeper; best effort.
async fn clean_up_run_nodes(session: &Addr<ZkSession>, paths: &Paths) {
    if paths.base == BASE_PATH {
        return; // the embedded server's data dir goes away with it
    }
    for path in [&paths.latch, &paths.base] {
        let _ = session.send(Delete { path: path.clone(), version: None }).timeout(REQUEST_TIMEOUT).await;
    }
}

/// One contender of the demo: its session (through its own proxy) and its supervisor.
struct Member {
    name: &'static str,
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
    /// Set once it has been stopped, so it is stopped only once.
    stopped: bool,
}

/// The script and its timeline: every event of every actor arrives here, is printed in order
/// and folded into [`State`], which the script's waits look at.
struct Demo {
    t0: Instant,
    receiver: mpsc::UnboundedReceiver<Event>,
    log: Log,
    state: State,
    cast: Vec<Member>,
}

impl Demo {
    /// Starts the observer on a session straight to ZooKeeper (no proxy); answers that session.
    async fn start_observer(&mut self, connect: &str, paths: &Paths) -> Result<Addr<ZkSession>, String> {
        let session = start_session(connect)?;
        let (log, latch, leader) = (self.log.clone(), paths.latch.clone(), paths.leader.clone());
        let session_for_actor = session.clone();
        Observer::create(move |ctx| {
            // The leader-node cache is the one the supervisor uses; here it only reports.
            LeaderNodeCache::new(session_for_actor.clone(), leader, ctx.address().recipient()).start();
            Observer { session: session_for_actor, latch_path: latch, log, reads: 0, queue: None }
        });
        self.wait_until(STEP_DEADLINE, "the observer's ZooKeeper session", |state| {
            state.observer_connected.then_some(())
        })
        .await?;
        // ZooKeeper does not create a chroot; under a missing one every create fails.
        if let Some(chroot) = connect.find('/').map(|i| &connect[i..]) {
            let root = session.send(Exists { path: "/".into(), watch: None }).await;
            if !matches!(root, Ok(Ok(Some(_)))) {
                let _ = session.send(StopSession).await;
                return Err(format!("the chroot {chroot} does not exist on the server; create it first"));
            }
        }
        Ok(session)
    }

    async fn script(&mut self, connect: &str, proxies: &[FaultProxy], paths: &Paths) -> Result<Summary, String> {
        // Joining one after the other makes the order in the latch, and so the story, the same
        // every run; nothing below depends on it.
        self.narrate("== alpha, bravo and charlie join the election, in that order");
        for (i, (name, address)) in CAST.into_iter().enumerate() {
            let member = self.join(name, address, &proxies[i], connect, paths).await?;
            self.cast.push(member);
            self.wait_until(STEP_DEADLINE, &format!("{name} in the latch"), |state| {
                state.queue.as_ref().is_some_and(|queue| queue.iter().any(|id| id == address)).then_some(())
            })
            .await?;
        }
        let (first, _) = self
            .wait_until(STEP_DEADLINE, "a leader granted, published and seen in the leader node", |state| {
                state.visible_leader(&[])
            })
            .await?;
        self.hold(HOLD).await;

        // Failover 1: the leader leaves cleanly.
        self.narrate(&format!("== stopping {first} (clean shutdown: Stop, then StopSession)"));
        let step = Instant::now();
        self.stop_member(first).await;
        let (second, seen) = self
            .wait_until(STEP_DEADLINE, "a successor granted, published and seen in the leader node", |state| {
                state.visible_leader(&[first])
            })
            .await?;
        let clean = Failover {
            cause: "clean stop",
            from: first,
            to: second,
            took: seen.saturating_duration_since(step),
            detail: String::new(),
        };
        self.hold(HOLD).await;

        // Failover 2: the leader is partitioned from ZooKeeper.
        let partitioned = self.member(second);
        let negotiated = partitioned
            .session
            .send(GetStatus)
            .await
            .ok()
            .and_then(|status| status.negotiated_timeout)
            .unwrap_or(SESSION_TIMEOUT);
        let index = CAST.iter().position(|(name, _)| *name == second).expect("a cast member");
        self.narrate(&format!(
            "== partitioning {second} (blackhole: its ZooKeeper traffic is held, no connection is closed)"
        ));
        let step = Instant::now();
        proxies[index].blackhole();
        let takeover = 3 * negotiated + Duration::from_secs(5);
        let (third, seen) = self
            .wait_until(takeover, "the third contender to take over after the session timeout", |state| {
                state.visible_leader(&[first, second])
            })
            .await?;
        let revoked_after = self
            .wait_until(STEP_DEADLINE, &format!("{second} to be revoked"), |state| {
                state.contenders.get(second).and_then(|c| c.revoked_at).filter(|at| *at >= step)
            })
            .await?
            .saturating_duration_since(step);
        let partition = Failover {
            cause: "partition",
            from: second,
            to: third,
            took: seen.saturating_duration_since(step),
            detail: format!(
                "({second} revoked itself after {} ms; session timeout {} ms)",
                revoked_after.as_millis(),
                negotiated.as_millis()
            ),
        };
        self.hold(HOLD).await;

        // The partition heals: the old leader comes back as a follower.
        self.narrate(&format!("== healing {second} (pass)"));
        proxies[index].pass();
        let expected_queue = [address_of(third), address_of(second)];
        self.wait_until(
            4 * negotiated + STEP_DEADLINE,
            &format!("{second} back in the latch behind {third}"),
            |state| {
                let back = state.queue.as_ref().is_some_and(|queue| queue.as_slice() == expected_queue);
                let connected = state.contenders.get(second).is_some_and(|c| c.connected);
                (back && connected).then_some(())
            },
        )
        .await?;
        self.hold(HOLD).await;
        if self.state.contenders.get(second).is_some_and(|c| c.granted.is_some()) {
            return Err(format!("{second} was granted leadership again after rejoining"));
        }
        if self.state.visible_leader(&[first, second]).is_none_or(|(leader, _)| leader != third) {
            return Err(format!("{third} lost the leader node when {second} rejoined"));
        }
        self.narrate(&format!("== {second} rejoined as a follower; {third} still leads"));
        Ok(Summary { failovers: vec![clean, partition] })
    }

    /// Starts a contender: its session through `proxy`, its supervisor, its contender actor.
    async fn join(
        &mut self,
        name: &'static str,
        address: &'static str,
        proxy: &FaultProxy,
        connect: &str,
        paths: &Paths,
    ) -> Result<Member, String> {
        // The proxy forwards to the servers; a chroot stays with the client.
        let chroot = connect.find('/').map_or("", |i| &connect[i..]);
        let session = start_session(&format!("{}{chroot}", proxy.connect_string()))?;
        let config = ElectionConfig::builder(&paths.latch).build().map_err(|err| err.to_string())?;
        let supervisor = ElectionSupervisor::start(session.clone(), config);
        let contender = DemoContender { name, supervisor: supervisor.clone(), log: self.log.clone() }.start();
        self.state.contenders.insert(name, ContenderState::default());
        subscribe_connection(&session, contender.clone().recipient(), &self.log, name).await;
        let subscribe = Subscribe::new(COMPONENT, address, &paths.leader, contender.recipient());
        match supervisor.send(subscribe).await {
            Ok(Ok(())) => Ok(Member { name, session, supervisor, stopped: false }),
            Ok(Err(err)) => Err(format!("{name} could not subscribe: {err}")),
            Err(err) => Err(format!("{name} could not subscribe: {err}")),
        }
    }

    fn member(&self, name: &str) -> &Member {
        self.cast.iter().find(|m| m.name == name).expect("a cast member")
    }

    /// Stops one contender the way a process shuts down: the election first (it stops acting
    /// as leader as it asks), then the session.
    async fn stop_member(&mut self, name: &'static str) {
        let Some(member) = self.cast.iter_mut().find(|m| m.name == name && !m.stopped) else { return };
        member.stopped = true;
        let (supervisor, session) = (member.supervisor.clone(), member.session.clone());
        self.log.send(name, What::Stopping);
        match supervisor.send(Stop).timeout(STEP_DEADLINE).await {
            Ok(Ok(())) => {
                self.log.send(name, What::Note("election stopped (its latch and leader nodes deleted)".into()))
            }
            Ok(Err(err)) => self.log.send(name, What::Note(format!("election stopped with errors: {err}"))),
            Err(err) => self.log.send(name, What::Note(format!("election did not stop: {err}"))),
        }
        let _ = session.send(StopSession).timeout(STEP_DEADLINE).await;
        self.log.send(name, What::Note("session closed".into()));
    }

    /// Stops every contender still running, the leader first.
    async fn stop_all(&mut self) {
        let mut running: Vec<&'static str> = self.cast.iter().filter(|m| !m.stopped).map(|m| m.name).collect();
        if running.is_empty() {
            return;
        }
        // Followers first: stopping the leader first would hand leadership to a follower that is
        // about to stop too.
        running.sort_by_key(|name| self.state.contenders.get(name).and_then(|c| c.granted).is_some());
        self.narrate(&format!("== stopping {}", running.join(" and ")));
        for name in running {
            self.stop_member(name).await;
        }
    }

    /// Lets the timeline run for `duration` (a leader leads for a moment before the next step).
    async fn hold(&mut self, duration: Duration) {
        let until = tokio::time::Instant::now() + duration;
        while let Ok(Some(event)) = tokio::time::timeout_at(until, self.receiver.recv()).await {
            self.apply(event);
        }
    }

    /// Prints a narration line, after every event that happened before it.
    fn narrate(&mut self, line: &str) {
        self.drain();
        println!("{}  {line}", self.stamp(Instant::now()));
    }

    /// Prints and applies every event already queued.
    fn drain(&mut self) {
        while let Ok(event) = self.receiver.try_recv() {
            self.apply(event);
        }
    }

    /// Prints and applies events until `check` finds what it looks for in the state; an error
    /// naming `what` when `within` passes first.
    async fn wait_until<T>(
        &mut self,
        within: Duration,
        what: &str,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T, String> {
        let started = Instant::now();
        // Each wait has its own deadline, and all of them together stay within the budget.
        let deadline = tokio::time::Instant::from_std((started + within).min(self.t0 + BUDGET));
        loop {
            self.drain();
            if let Some(found) = check(&self.state) {
                return Ok(found);
            }
            match tokio::time::timeout_at(deadline, self.receiver.recv()).await {
                Ok(Some(event)) => self.apply(event),
                Ok(None) => return Err(format!("event channel closed while waiting for {what}")),
                Err(_) => {
                    return Err(format!("timed out after {} ms waiting for {what}", started.elapsed().as_millis()))
                }
            }
        }
    }

    fn apply(&mut self, event: Event) {
        if let Some(line) = self.describe(&event) {
            println!("{}  {:<9} {line}", self.stamp(event.at), event.who);
        }
        self.state.apply(event);
    }

    fn stamp(&self, at: Instant) -> String {
        format!("+{:>6} ms", at.saturating_duration_since(self.t0).as_millis())
    }

    fn describe(&self, event: &Event) -> Option<String> {
        Some(match &event.what {
            What::Connection(state, leader_session) => {
                let session = leader_session.map(|id| format!("zk session {id:#x}")).unwrap_or_default();
                match state {
                    ConnectionState::Connected => format!("connected    {session}"),
                    ConnectionState::Suspended => "suspended    (connection lost; the session may still live)".into(),
                    ConnectionState::Lost => "lost         (session expired or timed out)".into(),
                    ConnectionState::Reconnected { same_session: true } => format!("reconnected  {session} (same)"),
                    ConnectionState::Reconnected { same_session: false } => format!("reconnected  {session} (new)"),
                }
            }
            What::Leadership(LeadershipEvent::Granted { leader_session, .. }) => {
                format!("granted      session={leader_session}")
            }
            What::Confirmed(leader_session) => format!("confirmed    session={leader_session}"),
            What::ConfirmRefused(err) => format!("confirm refused: {err}"),
            What::Leadership(LeadershipEvent::Published { leader_session, .. }) => {
                format!("published    session={leader_session}")
            }
            What::Leadership(LeadershipEvent::Revoked { .. }) => "revoked".into(),
            What::Leadership(LeadershipEvent::Error { error, .. }) => format!("error        {error}"),
            What::Leadership(other) => format!("{other:?}"),
            What::LeaderNode(NodeView::Unknown) => return None,
            What::LeaderNode(NodeView::Absent) => "leader node absent".into(),
            What::LeaderNode(NodeView::Unreadable(err)) => format!("leader node unreadable ({err})"),
            What::LeaderNode(NodeView::Present { data, .. }) => match LeaderInfoCodec::Bincode.decode(data) {
                Ok(info) => format!("leader node = {} / {}", info.address, info.leader_session),
                Err(err) => format!("leader node undecodable ({} bytes: {err})", data.len()),
            },
            What::Queue(ids) if ids.is_empty() => "latch queue empty".into(),
            What::Queue(ids) => {
                let names: Vec<&str> = ids.iter().map(|id| name_of(id)).collect();
                format!("latch queue: {}", names.join(" ← "))
            }
            What::Stopping => "stopping".into(),
            What::Note(note) => note.clone(),
        })
    }
}

/// A session to `connect` with the demo's timeouts.
fn start_session(connect: &str) -> Result<Addr<ZkSession>, String> {
    let config = SessionConfig::builder(connect)
        .session_timeout(SESSION_TIMEOUT)
        .request_timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|err| format!("invalid connect string {connect:?}: {err}"))?;
    Ok(ZkSession::start(config))
}

/// Subscribes `recipient` to `session`'s connection states; reports the current one if the
/// session connected before the subscription.
async fn subscribe_connection(
    session: &Addr<ZkSession>,
    recipient: Recipient<ConnectionStateChanged>,
    log: &Log,
    who: &'static str,
) {
    if let Ok(status) = session.send(SubscribeConnection(recipient)).await {
        if let Some(state) = status.state {
            log.send(who, What::Connection(state, status.zk_session));
        }
    }
}

fn address_of(name: &str) -> &'static str {
    CAST.iter().find(|(n, _)| *n == name).map_or("?", |(_, address)| address)
}

fn name_of(address: &str) -> &str {
    CAST.iter().find(|(_, a)| *a == address).map_or(address, |(name, _)| name)
}

/// One line of the timeline.
struct Event {
    at: Instant,
    who: &'static str,
    what: What,
}

enum What {
    Connection(ConnectionState, Option<i64>),
    Leadership(LeadershipEvent),
    /// The supervisor accepted the contender's confirm: from here it leads.
    Confirmed(Uuid),
    ConfirmRefused(ElectionError),
    /// The observer's view of the leader node.
    LeaderNode(NodeView),
    /// The latch participants' IDs (addresses), leader first, as the observer sees them.
    Queue(Vec<String>),
    /// The script asks the contender to stop: it stops acting as leader now.
    Stopping,
    Note(String),
}

/// Where actors put their events.
#[derive(Clone)]
struct Log(mpsc::UnboundedSender<Event>);

impl Log {
    fn send(&self, who: &'static str, what: What) {
        let _ = self.0.send(Event { at: Instant::now(), who, what });
    }
}

/// What the timeline has shown so far.
#[derive(Default)]
struct State {
    contenders: BTreeMap<&'static str, ContenderState>,
    observer_connected: bool,
    /// The decoded leader node and when the observer saw it.
    leader_node: Option<(LeaderInfo, Instant)>,
    queue: Option<Vec<String>>,
    /// Closed confirmed-leadership intervals: who, from confirm to revoke or stop.
    intervals: Vec<(&'static str, Instant, Instant)>,
}

#[derive(Default)]
struct ContenderState {
    connected: bool,
    granted: Option<Uuid>,
    published: Option<Uuid>,
    /// Start of the current confirmed-leadership interval.
    leading_since: Option<Instant>,
    revoked_at: Option<Instant>,
}

impl State {
    fn apply(&mut self, Event { at, who, what }: Event) {
        if who == OBSERVER {
            match what {
                What::Connection(state, _) => self.observer_connected = is_up(state),
                What::LeaderNode(NodeView::Present { data, .. }) => {
                    self.leader_node = LeaderInfoCodec::Bincode.decode(&data).ok().map(|info| (info, at));
                }
                What::LeaderNode(NodeView::Absent) => self.leader_node = None,
                What::Queue(ids) => self.queue = Some(ids),
                _ => {}
            }
            return;
        }
        let Some(contender) = self.contenders.get_mut(who) else { return };
        match what {
            What::Connection(state, _) => contender.connected = is_up(state),
            What::Leadership(LeadershipEvent::Granted { leader_session, .. }) => {
                contender.granted = Some(leader_session);
                contender.published = None;
            }
            What::Confirmed(leader_session) if contender.granted == Some(leader_session) => {
                contender.leading_since.get_or_insert(at);
            }
            What::Leadership(LeadershipEvent::Published { leader_session, .. }) => {
                contender.published = Some(leader_session)
            }
            What::Leadership(LeadershipEvent::Revoked { .. }) | What::Stopping => {
                if matches!(what, What::Leadership(_)) {
                    contender.revoked_at = Some(at);
                }
                contender.granted = None;
                contender.published = None;
                if let Some(since) = contender.leading_since.take() {
                    self.intervals.push((who, since, at));
                }
            }
            _ => {}
        }
    }

    /// The contender (not in `except`) whose published leadership the observer sees in the
    /// leader node, and when the observer saw it.
    fn visible_leader(&self, except: &[&str]) -> Option<(&'static str, Instant)> {
        let (info, seen) = self.leader_node.as_ref()?;
        self.contenders
            .iter()
            .find(|(name, c)| {
                !except.contains(name) && address_of(name) == info.address && c.published == Some(info.leader_session)
            })
            .map(|(name, _)| (*name, *seen))
    }
}

fn is_up(state: ConnectionState) -> bool {
    matches!(state, ConnectionState::Connected | ConnectionState::Reconnected { .. })
}

/// A leadership change the script caused.
struct Failover {
    cause: &'static str,
    from: &'static str,
    to: &'static str,
    /// From the step to the successor's leader node being visible to the observer.
    took: Duration,
    /// Anything else worth saying about it.
    detail: String,
}

struct Summary {
    failovers: Vec<Failover>,
}

impl Summary {
    /// Prints the summary; answers the number of overlapping confirmed-leadership intervals.
    fn print(&self, demo: &Demo) -> usize {
        println!("\nsummary");
        println!("  failovers (from the step to the successor's leader node seen by the observer):");
        for (i, f) in self.failovers.iter().enumerate() {
            let route = format!("{} → {}", f.from, f.to);
            let line = format!("    {}. {:<11} {route:<16} {:>5} ms  {}", i + 1, f.cause, f.took.as_millis(), f.detail);
            println!("{}", line.trim_end());
        }
        let intervals = &demo.state.intervals;
        println!("  confirmed leadership (confirm → revoke/stop):");
        for (who, from, to) in intervals {
            println!("    {who:<8} {} .. {}", demo.stamp(*from), demo.stamp(*to));
        }
        let mut overlaps = 0;
        for (i, (a, a_from, a_to)) in intervals.iter().enumerate() {
            for (b, b_from, b_to) in &intervals[i + 1..] {
                if a != b && a_from < b_to && b_from < a_to {
                    overlaps += 1;
                    println!("    OVERLAP: {a} and {b}");
                }
            }
        }
        println!("  overlaps of confirmed leaders: {overlaps}");
        overlaps
    }
}

/// A contender that confirms every grant at once and reports everything to the timeline.
struct DemoContender {
    name: &'static str,
    supervisor: Addr<ElectionSupervisor>,
    log: Log,
}

impl Actor for DemoContender {
    type Context = Context<Self>;
}

impl Handler<LeadershipEvent> for DemoContender {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, ctx: &mut Context<Self>) {
        if let LeadershipEvent::Granted { component, leader_session, .. } = &event {
            let (component, leader_session) = (component.clone(), *leader_session);
            let confirm = self.supervisor.send(Confirm { component, leader_session });
            ctx.spawn(confirm.into_actor(self).map(move |result, act, _ctx| match result {
                Ok(Ok(())) => act.log.send(act.name, What::Confirmed(leader_session)),
                Ok(Err(err)) => act.log.send(act.name, What::ConfirmRefused(err)),
                Err(err) => act.log.send(act.name, What::ConfirmRefused(err.into())),
            }));
        }
        self.log.send(self.name, What::Leadership(event));
    }
}

impl Handler<ConnectionStateChanged> for DemoContender {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, _ctx: &mut Context<Self>) {
        self.log.send(self.name, What::Connection(msg.state, msg.zk_session));
    }
}

/// Watches the leader node (through a [`LeaderNodeCache`]) and the latch queue, straight from
/// ZooKeeper, and reports both to the timeline.
struct Observer {
    session: Addr<ZkSession>,
    latch_path: String,
    log: Log,
    /// Bumped by every queue read; only the newest may report.
    reads: u64,
    queue: Option<Vec<String>>,
}

impl Observer {
    /// Lists the latch with a watch (or watches for its creation) and reads each participant's
    /// ID, in leadership order.
    fn read_queue(&mut self, ctx: &mut Context<Self>) {
        self.reads += 1;
        let read = self.reads;
        let (session, path, me) = (self.session.clone(), self.latch_path.clone(), ctx.address().recipient());
        let fetch = async move {
            loop {
                match session.send(GetChildren { path: path.clone(), watch: Some(me.clone()) }).await {
                    Ok(Ok(children)) => {
                        let mut ids = Vec::new();
                        for name in participants_in_order(&children) {
                            let node = GetData { path: format!("{path}/{name}"), watch: None };
                            // A participant that left meanwhile is simply not listed.
                            if let Ok(Ok((data, _))) = session.send(node).await {
                                ids.push(String::from_utf8_lossy(&data).into_owned());
                            }
                        }
                        return Some(ids);
                    }
                    Ok(Err(ZkError::NoNode)) => {
                        match session.send(Exists { path: path.clone(), watch: Some(me.clone()) }).await {
                            Ok(Ok(None)) => return Some(Vec::new()),
                            Ok(Ok(Some(_))) => continue, // created meanwhile
                            _ => return None,
                        }
                    }
                    _ => return None,
                }
            }
        };
        ctx.spawn(fetch.into_actor(self).map(move |ids, act, _ctx| {
            if let Some(ids) = ids.filter(|ids| read == act.reads && act.queue.as_ref() != Some(ids)) {
                act.queue = Some(ids.clone());
                act.log.send(OBSERVER, What::Queue(ids));
            }
        }));
    }
}

impl Actor for Observer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let subscribe = self.session.send(SubscribeConnection(ctx.address().recipient()));
        ctx.wait(subscribe.into_actor(self).map(|status, act, ctx| {
            if let Ok(status) = status {
                if let Some(state) = status.state {
                    act.log.send(OBSERVER, What::Connection(state, status.zk_session));
                }
                if status.is_connected() {
                    act.read_queue(ctx);
                }
            }
        }));
    }
}

impl Handler<ConnectionStateChanged> for Observer {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, ctx: &mut Context<Self>) {
        self.log.send(OBSERVER, What::Connection(msg.state, msg.zk_session));
        if is_up(msg.state) {
            self.read_queue(ctx);
        }
    }
}

impl Handler<WatchFired> for Observer {
    type Result = ();

    fn handle(&mut self, msg: WatchFired, ctx: &mut Context<Self>) {
        if msg.event != WatchEvent::SessionEnded && msg.path == self.latch_path {
            self.read_queue(ctx);
        }
    }
}

impl Handler<NodeChanged> for Observer {
    type Result = ();

    fn handle(&mut self, msg: NodeChanged, _ctx: &mut Context<Self>) {
        self.log.send(OBSERVER, What::LeaderNode(msg.view));
    }
}
