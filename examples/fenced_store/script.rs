//! The script: starts the two contender processes, freezes A past its session timeout, and
//! gives the verdict on its late write.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::{mpsc, oneshot};
use zk_election::testkit::FaultProxy;
use zk_election::{ElectionConfig, ElectionSupervisor, StopElection, StopSession, Subscribe, ZkSession};

use crate::report::{Rejected, Report};
use crate::store::Store;
use crate::support;
use crate::timeline::Timeline;
use crate::writer::{Freeze, Writer};

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
/// Deadline of each step that needs only a working ZooKeeper.
const STEP_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline of each shutdown request; the embedded server goes away with us anyway.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

/// One contender process: its session, and its supervisor and writer on an arbiter of their own.
#[derive(Clone)]
struct Member {
    name: &'static str,
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
    writer: Addr<Writer>,
}

/// The scenario's driver: waits on the actors' reports, step by step.
pub struct Script {
    timeline: Timeline,
    reports: mpsc::UnboundedReceiver<Report>,
    members: Vec<Member>,
    /// Who has been revoked so far: a revoke may arrive while the script waits for another report.
    revoked: Vec<&'static str>,
}

impl Script {
    /// A script that has started nobody yet; `reports` is where the actors report to.
    pub fn new(timeline: Timeline, reports: mpsc::UnboundedReceiver<Report>) -> Script {
        Script { timeline, reports, members: Vec::new(), revoked: Vec::new() }
    }

    /// Plays the scenario; answers the verdict on A's late write, or why there is none.
    pub async fn play(
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
        support::wait_for_participants(&b.session, LATCH_PATH, 2, STEP_DEADLINE).await.map_err(|_| {
            format!("timed out after {} ms waiting for A and B in the latch", STEP_DEADLINE.as_millis())
        })?;
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
        let session = support::start_session(connect, SESSION_TIMEOUT, REQUEST_TIMEOUT)
            .map_err(|err| format!("invalid session config for {name}: {err}"))?;
        let election =
            ElectionConfig::builder(LATCH_PATH).build().map_err(|err| format!("invalid election config: {err}"))?;
        let (started, addrs) = oneshot::channel();
        let (session_for_arbiter, store, timeline, report) =
            (session.clone(), store.clone(), self.timeline, report.clone());
        // Its own arbiter, so freezing A's thread freezes A's supervisor too, and nothing else.
        let spawned = Arbiter::new().spawn_fn(move || {
            let supervisor = ElectionSupervisor::start(session_for_arbiter, election);
            let writer = Writer::new(name, supervisor.clone(), store, timeline, report).start();
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
        support::subscribe(&supervisor, subscribe, name).await?;
        Ok(member)
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
    pub async fn shut_down(&mut self) {
        for member in self.members.drain(..).rev() {
            let _ = member.supervisor.send(StopElection).timeout(SHUTDOWN_DEADLINE).await;
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
