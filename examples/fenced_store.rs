//! Fencing tokens: a leader that was frozen past its session timeout wakes up, still believes it
//! leads, and sends a write with its old token; the store refuses it because it has already
//! seen the successor's larger token.
//!
//! ```sh
//! cargo run --features testkit --example fenced_store
//! ```
//!
//! How fencing works: every leadership comes with a fencing token, the czxid of the leader's
//! latch node, which strictly increases from one leader to the next. A leader passes its token
//! with every write, and the store refuses any token lower than the highest it has seen, so a
//! deposed leader's late writes are refused however late it learns that it was deposed.
//!
//! The script: an embedded ZooKeeper ([`ZkServer`]), a store actor, and two contenders A and B,
//! each with its own session (2 s session timeout), supervisor and arbiter (as if each were a
//! process of its own); A reaches ZooKeeper through a [`FaultProxy`].
//!
//! 1. A is granted, writes to the store with its token X; B joins and queues behind A.
//! 2. A's connection is blackholed and A is frozen for 3 s with a write in hand, not yet sent
//!    (a GC pause, a stalled VM): its session expires and B is granted, with token Y > X, and
//!    writes.
//! 3. A wakes and sends its write, before it processes anything else: the store rejects it.
//!
//! Exits 0 when the late write was rejected, 1 with a message otherwise. Set `RUST_LOG` (e.g.
//! `RUST_LOG=zk_election=debug`) to see the library's logs on stderr.

mod support;

use std::fmt::Display;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::{mpsc, oneshot};
use zk_election::session::GetChildren;
use zk_election::testkit::{FaultProxy, ZkServer};
use zk_election::{
    Confirm, ElectionConfig, ElectionSupervisor, LeadershipEvent, SessionConfig, Stop, StopSession, Subscribe,
    ZkSession,
};

/// The component both contenders subscribe under.
const COMPONENT: &str = "writer";
/// The election both contenders join.
const LATCH_PATH: &str = "/fenced-store/latch";
/// Where the leader publishes its address and token.
const LEADER_PATH: &str = "/fenced-store/leader";
/// Session timeout asked of ZooKeeper: short, so A's session expires quickly.
const SESSION_TIMEOUT: Duration = Duration::from_secs(2);
/// Deadline of every ZooKeeper request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How long A is frozen at least: past its session timeout, so ZooKeeper expires it.
const FREEZE: Duration = Duration::from_secs(3);
/// How long A stays frozen at most, should the script never thaw it.
const MAX_FREEZE: Duration = Duration::from_secs(15);
/// Deadline of each step that needs only a working ZooKeeper.
const STEP_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline of each shutdown request; the embedded server goes away with us anyway.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    support::init_logs();
    let timeline = Timeline { t0: Instant::now() };
    // Declared before the proxy, so it is dropped (and its JVM killed) after it.
    let server = match ZkServer::start() {
        Ok(server) => server,
        Err(err) => return fail(&format!("cannot start an embedded ZooKeeper: {err}")),
    };
    let proxy = match FaultProxy::for_connect_string(&server.connect_string()) {
        Ok(proxy) => proxy,
        Err(err) => return fail(&format!("cannot start a fault proxy: {err}")),
    };
    timeline.log("script", format!("ZooKeeper on {}; A reaches it through a fault proxy", server.connect_string()));
    match System::new().block_on(run(timeline, &server.connect_string(), &proxy)) {
        Ok(verdict) => {
            println!("{verdict}");
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

fn fail(message: &str) -> ExitCode {
    println!("FAILED: {message}");
    ExitCode::FAILURE
}

/// Plays the scenario, then shuts everything down whatever happened.
async fn run(timeline: Timeline, connect: &str, proxy: &FaultProxy) -> Result<String, String> {
    let (report, reports) = mpsc::unbounded_channel();
    let store = Store { highest: None, timeline, report: report.clone() }.start();
    let mut script = Script { timeline, reports, members: Vec::new(), revoked: Vec::new() };
    let outcome = script.play(connect, proxy, &store, &report).await;
    // Heal first, so that A's session can close instead of waiting out its request timeout.
    proxy.pass();
    script.shut_down().await;
    outcome
}

/// The timeline's clock; every line goes to stdout.
#[derive(Clone, Copy)]
struct Timeline {
    t0: Instant,
}

impl Timeline {
    fn log(&self, who: &str, what: impl Display) {
        self.line(who, what, None);
    }

    fn log_token(&self, who: &str, what: impl Display, token: i64) {
        self.line(who, what, Some(token));
    }

    fn line(&self, who: &str, what: impl Display, token: Option<i64>) {
        // Stamped under stdout's lock: lines from the arbiters' threads come out in time order.
        let mut out = std::io::stdout().lock();
        let at = self.t0.elapsed().as_millis();
        let what = what.to_string();
        let _ = match token {
            Some(token) => writeln!(out, "+{at:>5} ms  {who:<6} {what:<48} token {token}"),
            None => writeln!(out, "+{at:>5} ms  {who:<6} {what}"),
        };
    }
}

/// What the actors tell the script, so it can wait for the scenario's steps.
#[derive(Debug)]
enum Report {
    /// The store decided on a write.
    Decided { writer: &'static str, token: i64, outcome: Result<(), Rejected> },
    /// A contender was revoked.
    Revoked { who: &'static str },
}

// ---------------------------------------------------------------------------------------------
// The store

/// A store that fences its writers: it keeps the highest token it has seen and refuses writes
/// with lower ones. It knows nothing of ZooKeeper; the token is all it needs.
struct Store {
    highest: Option<i64>,
    timeline: Timeline,
    report: mpsc::UnboundedSender<Report>,
}

impl Actor for Store {
    type Context = Context<Self>;
}

/// Store `value`, written by the leader holding fencing token `token`.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), Rejected>")]
struct Write {
    writer: &'static str,
    token: i64,
    value: String,
}

/// A refused write, with the highest token the store has seen.
#[derive(Clone, Copy, Debug)]
struct Rejected {
    highest: i64,
}

impl Handler<Write> for Store {
    type Result = Result<(), Rejected>;

    fn handle(&mut self, write: Write, _ctx: &mut Context<Self>) -> Result<(), Rejected> {
        let outcome = match self.highest {
            // Equal tokens are the same leadership writing again.
            Some(highest) if write.token < highest => Err(Rejected { highest }),
            _ => Ok(()),
        };
        match outcome {
            Ok(()) => {
                self.highest = Some(write.token);
                let what = format!("accepted {:?} from {}", write.value, write.writer);
                self.timeline.log_token("store", what, write.token);
            }
            Err(Rejected { highest }) => {
                let what = format!("REJECTED {:?} from {}: has seen token {highest}", write.value, write.writer);
                self.timeline.log_token("store", what, write.token);
            }
        }
        // The script may be gone while shutting down; nothing is waiting for the report then.
        let _ = self.report.send(Report::Decided { writer: write.writer, token: write.token, outcome });
        outcome
    }
}

// ---------------------------------------------------------------------------------------------
// The contenders

/// A contender that writes to the store with its fencing token once it leads.
struct Writer {
    name: &'static str,
    supervisor: Addr<ElectionSupervisor>,
    store: Addr<Store>,
    timeline: Timeline,
    report: mpsc::UnboundedSender<Report>,
    /// The token of the leadership this contender believes it holds.
    leading: Option<i64>,
    writes: u32,
}

impl Actor for Writer {
    type Context = Context<Self>;
}

impl Writer {
    /// Confirms a grant; a refusal only means the grant is already void (a revoke follows).
    fn confirm(&self, component: String, leader_session: uuid::Uuid, ctx: &mut Context<Self>) {
        let confirm = self.supervisor.send(Confirm { component, leader_session });
        ctx.spawn(confirm.into_actor(self).map(|answer, act, _ctx| match answer {
            Ok(Ok(())) => {}
            Ok(Err(err)) => act.timeline.log(act.name, format!("confirm refused: {err}")),
            Err(err) => act.timeline.log(act.name, format!("confirm not delivered: {err}")),
        }));
    }

    /// The next value this contender writes, e.g. `"A2"`.
    fn next_value(&mut self) -> String {
        self.writes += 1;
        format!("{}{}", self.name, self.writes)
    }

    /// Sends `value` with `token` now (before this handler returns) and acts on the answer.
    fn write(&mut self, value: String, token: i64, ctx: &mut Context<Self>) {
        self.timeline.log_token(self.name, format!("writes {value:?}"), token);
        let answer = self.store.send(Write { writer: self.name, token, value });
        ctx.spawn(answer.into_actor(self).map(move |answer, act, _ctx| match answer {
            Ok(Ok(())) => {}
            // A refusal proves a later leader exists: stop acting as leader before ZooKeeper says so.
            Ok(Err(Rejected { highest })) => {
                act.leading = None;
                act.timeline.log(act.name, format!("stands down: the store has seen token {highest}"));
            }
            Err(err) => act.timeline.log(act.name, format!("write not delivered: {err}")),
        }));
    }
}

impl Handler<LeadershipEvent> for Writer {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, ctx: &mut Context<Self>) {
        match event {
            LeadershipEvent::Granted { component, leader_session, fencing_token } => {
                self.timeline.log_token(self.name, "granted, confirms", fencing_token);
                self.confirm(component, leader_session, ctx);
            }
            LeadershipEvent::Published { fencing_token, .. } => {
                self.timeline.log_token(self.name, "leads (leader node published)", fencing_token);
                self.leading = Some(fencing_token);
                let value = self.next_value();
                self.write(value, fencing_token, ctx);
            }
            LeadershipEvent::Revoked { .. } => {
                self.leading = None;
                self.timeline.log(self.name, "revoked by its supervisor");
                let _ = self.report.send(Report::Revoked { who: self.name });
            }
            LeadershipEvent::Error { error, .. } => self.timeline.log(self.name, format!("election error: {error}")),
            // Events this example does not know of (the enum is non-exhaustive).
            _ => {}
        }
    }
}

/// Freeze the contender's thread, and with it everything on its arbiter, with a write in hand:
/// for `at_least`, and then until `thaw` says so (or its sender is dropped).
#[derive(Message)]
#[rtype(result = "()")]
struct Freeze {
    at_least: Duration,
    thaw: std_mpsc::Receiver<()>,
}

impl Handler<Freeze> for Writer {
    type Result = ();

    fn handle(&mut self, freeze: Freeze, ctx: &mut Context<Self>) {
        let Some(token) = self.leading else {
            self.timeline.log(self.name, "asked to freeze with a write in hand, but does not lead");
            return;
        };
        // The write is prepared while leading; the pause falls between preparing and sending it.
        let value = self.next_value();
        self.timeline.log_token(self.name, format!("FROZEN with write {value:?} in hand, not yet sent"), token);
        let frozen = Instant::now();
        // Blocking on purpose: this stops the arbiter's thread, so our supervisor (which lives on
        // it) hears nothing either, like a process in a long GC pause.
        std::thread::sleep(freeze.at_least);
        let _ = freeze.thaw.recv_timeout(MAX_FREEZE);
        let what = format!("wakes after {} ms, still believes it leads", frozen.elapsed().as_millis());
        self.timeline.log_token(self.name, what, token);
        // Sent from this handler, so it leaves before anything queued meanwhile (a revoke) is seen.
        self.write(value, token, ctx);
    }
}

// ---------------------------------------------------------------------------------------------
// The script

/// One contender process: its session, and its supervisor and writer on an arbiter of their own.
#[derive(Clone)]
struct Member {
    name: &'static str,
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
    writer: Addr<Writer>,
}

struct Script {
    timeline: Timeline,
    reports: mpsc::UnboundedReceiver<Report>,
    members: Vec<Member>,
    /// Who has been revoked so far: a revoke may arrive while the script waits for another report.
    revoked: Vec<&'static str>,
}

impl Script {
    async fn play(
        &mut self,
        connect: &str,
        proxy: &FaultProxy,
        store: &Addr<Store>,
        report: &mpsc::UnboundedSender<Report>,
    ) -> Result<String, String> {
        // A joins first, so it leads first.
        let a = self.join("A", &proxy.connect_string(), store, report).await?;
        let token_a = self.accepted_write_from("A", STEP_DEADLINE).await?;
        let b = self.join("B", connect, store, report).await?;
        self.queue_of_two(&b.session).await?;
        self.timeline.log("B", "queued behind A");

        self.timeline.log("script", "blackholes A's connection: its session will expire on the server");
        proxy.blackhole();
        // Dropping `thaw` (on any early return below) wakes A at once.
        let (thaw, thawed) = std_mpsc::channel();
        a.writer.do_send(Freeze { at_least: FREEZE, thaw: thawed });
        let token_b = self.accepted_write_from("B", FREEZE + STEP_DEADLINE).await?;
        if token_b <= token_a {
            return Err(format!("B's token {token_b} is not larger than A's {token_a}"));
        }
        // A may still be in its minimum freeze; it sends its late write once both are over.
        let _ = thaw.send(());
        let late = self.decision_on_write_from("A", STEP_DEADLINE).await?;
        // Not part of the verdict: shows the supervisor catching up with A after the fact.
        if !self.revoked.contains(&"A") {
            let _ = self.next(SHUTDOWN_DEADLINE, |r| matches!(r, Report::Revoked { who: "A" }).then_some(())).await;
        }
        verdict(late)
    }

    /// Starts a contender: its session to `connect`, then its supervisor and writer on a new
    /// arbiter, and subscribes it.
    async fn join(
        &mut self,
        name: &'static str,
        connect: &str,
        store: &Addr<Store>,
        report: &mpsc::UnboundedSender<Report>,
    ) -> Result<Member, String> {
        let config = SessionConfig::builder(connect)
            .session_timeout(SESSION_TIMEOUT)
            .request_timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|err| format!("invalid session config for {name}: {err}"))?;
        let session = ZkSession::start(config);
        let election =
            ElectionConfig::builder(LATCH_PATH).build().map_err(|err| format!("invalid election config: {err}"))?;
        let (started, addrs) = oneshot::channel();
        let (session_for_arbiter, store, timeline, report) =
            (session.clone(), store.clone(), self.timeline, report.clone());
        // Its own arbiter, so freezing A's thread freezes A's supervisor too, and nothing else.
        let spawned = Arbiter::new().spawn_fn(move || {
            let supervisor = ElectionSupervisor::start(session_for_arbiter, election);
            let writer =
                Writer { name, supervisor: supervisor.clone(), store, timeline, report, leading: None, writes: 0 }
                    .start();
            let _ = started.send((supervisor, writer));
        });
        let (supervisor, writer) = match addrs.await {
            Ok(addrs) if spawned => addrs,
            _ => return Err(format!("could not start {name}'s arbiter")),
        };
        let member = Member { name, session, supervisor: supervisor.clone(), writer: writer.clone() };
        self.members.push(member.clone());
        let subscribe =
            Subscribe::new(COMPONENT, format!("{name}.example:7000"), LEADER_PATH, writer.clone().recipient());
        match supervisor.send(subscribe).await {
            Ok(Ok(())) => Ok(member),
            Ok(Err(err)) => Err(format!("{name} could not subscribe: {err}")),
            Err(err) => Err(format!("{name} could not subscribe: {err}")),
        }
    }

    /// Waits until the latch holds two nodes (A's and B's), asking through `session`.
    async fn queue_of_two(&self, session: &Addr<ZkSession>) -> Result<(), String> {
        let deadline = Instant::now() + STEP_DEADLINE;
        while Instant::now() < deadline {
            let children = session.send(GetChildren { path: LATCH_PATH.to_owned(), watch: None }).await;
            if matches!(children, Ok(Ok(ref nodes)) if nodes.len() == 2) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!("timed out after {} ms waiting for A and B in the latch", STEP_DEADLINE.as_millis()))
    }

    /// Waits for the store to accept a write from `writer`; answers its token.
    async fn accepted_write_from(&mut self, writer: &'static str, within: Duration) -> Result<i64, String> {
        let picked = self
            .next(within, |r| match r {
                Report::Decided { writer: w, token, outcome: Ok(()) } if *w == writer => Some(*token),
                _ => None,
            })
            .await;
        picked.ok_or_else(|| format!("timed out after {} ms waiting for a write of {writer}", within.as_millis()))
    }

    /// Waits for the store's decision on the next write from `writer`: its token and outcome.
    async fn decision_on_write_from(
        &mut self,
        writer: &'static str,
        within: Duration,
    ) -> Result<(i64, Result<(), Rejected>), String> {
        let picked = self
            .next(within, |r| match r {
                Report::Decided { writer: w, token, outcome } if *w == writer => Some((*token, *outcome)),
                _ => None,
            })
            .await;
        picked
            .ok_or_else(|| format!("timed out after {} ms waiting for the late write of {writer}", within.as_millis()))
    }

    /// The first report `pick` picks within `within` (others are skipped: the timeline has them).
    async fn next<T>(&mut self, within: Duration, mut pick: impl FnMut(&Report) -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + within;
        while let Ok(Some(report)) = tokio::time::timeout_at(deadline, self.reports.recv()).await {
            if let Report::Revoked { who } = report {
                self.revoked.push(who);
            }
            if let Some(found) = pick(&report) {
                return Some(found);
            }
        }
        None
    }

    /// Stops the elections and closes the sessions, each within a short deadline.
    async fn shut_down(&mut self) {
        for member in self.members.drain(..).rev() {
            let _ = member.supervisor.send(Stop).timeout(SHUTDOWN_DEADLINE).await;
            let _ = member.session.send(StopSession).timeout(SHUTDOWN_DEADLINE).await;
            self.timeline.log(member.name, "stopped");
        }
    }
}

/// The scenario's verdict on A's late write (its token and the store's answer).
fn verdict((token, outcome): (i64, Result<(), Rejected>)) -> Result<String, String> {
    match outcome {
        Ok(()) => Err(format!("late write from A (token {token}) was ACCEPTED: the store was not fenced")),
        Err(Rejected { highest }) => {
            Ok(format!("late write from A (token {token}) rejected: store has seen {highest}"))
        }
    }
}
