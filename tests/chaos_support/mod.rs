//! The randomized fault suite's machinery: contenders that record what they are told, a
//! seeded fault schedule over a 3-node ensemble and per-contender proxies, and the checker that
//! turns the record into verdicts (safety, liveness, nobody stuck) and figures.
//!
//! All contenders live in this one test process, each with its own ZooKeeper session behind
//! its own [`FaultProxy`]. Their actors run on the test's arbiter, so every record is taken on
//! one thread with one monotonic clock and the record is in time order.
#![allow(dead_code)] // chaos.rs and guarded_publish.rs use different parts

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;
use zk_election::session::{GetChildren, GetData, GetStatus};
use zk_election::testkit::{FaultProxy, ZkEnsemble};
use zk_election::{
    Backoff, Confirm, ConnectionLossPolicy, ElectionConfig, ElectionSupervisor, HasLeadership, LeaderInfoCodec,
    LeadershipEvent, Resign, SessionConfig, Stop, StopSession, Subscribe, ZkSession,
};

pub const LATCH: &str = "/chaos/latch";
pub const LEADER: &str = "/chaos/leader";
pub const COMPONENT: &str = "jobmanager";

/// The seed of this run: `CHAOS_SEED` if set, else fresh. Printed so a failing run can be
/// replayed (the schedule replays; the timing of a real ensemble does not, exactly).
pub fn seed() -> u64 {
    match std::env::var("CHAOS_SEED") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("CHAOS_SEED={text:?} is not a u64")),
        Err(_) => rand::random(),
    }
}

/// How long the main fault mix runs: `CHAOS_SECS` if set, else `default`.
pub fn duration(default: Duration) -> Duration {
    match std::env::var("CHAOS_SECS") {
        Ok(text) => Duration::from_secs_f64(text.trim().parse().unwrap_or_else(|_| panic!("CHAOS_SECS={text:?}"))),
        Err(_) => default,
    }
}

/// Runs a blocking testkit control off the async thread, so the actors keep running.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("testkit call panicked")
}

// ---------------------------------------------------------------------------------------------
// The record

/// What happened to a contender incarnation (one session + supervisor + contender).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Happened {
    Granted(Uuid),
    /// The contender confirmed (sent at once on grant): from here it acts as leader.
    Confirmed(Uuid),
    /// The supervisor's answer to the confirm.
    ConfirmAnswered {
        session_id: Uuid,
        accepted: bool,
    },
    Published(Uuid),
    Revoked,
    /// The test stopped the incarnation (recorded before the stop is sent).
    Stopped,
    Error(String),
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub at: Instant,
    pub slot: usize,
    pub incarnation: usize,
    pub what: Happened,
}

/// A fault the schedule injected, and when it healed.
#[derive(Clone, Debug)]
pub struct FaultEntry {
    pub kind: FaultKind,
    pub target: String,
    pub at: Instant,
    pub healed: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    BlackholeContender,
    CutContender,
    KillMember,
    PauseMember,
    StopContender,
    Resign,
    QuorumLoss,
}

/// Shared, append-only record of a run.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Record>>,
}

#[derive(Default)]
struct Record {
    entries: Vec<Entry>,
    faults: Vec<FaultEntry>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder { inner: Arc::new(Mutex::new(Record::default())) }
    }
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn note(&self, slot: usize, incarnation: usize, what: Happened) {
        self.lock().entries.push(Entry { at: Instant::now(), slot, incarnation, what });
    }

    pub fn fault(&self, kind: FaultKind, target: impl Into<String>) -> usize {
        let mut record = self.lock();
        record.faults.push(FaultEntry { kind, target: target.into(), at: Instant::now(), healed: None });
        record.faults.len() - 1
    }

    pub fn healed(&self, fault: usize) {
        self.lock().faults[fault].healed = Some(Instant::now());
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.clone()
    }

    pub fn faults(&self) -> Vec<FaultEntry> {
        self.lock().faults.clone()
    }
}

/// A contender that confirms every grant at once and records everything it is told.
struct ChaosContender {
    slot: usize,
    incarnation: usize,
    supervisor: Addr<ElectionSupervisor>,
    recorder: Recorder,
}

impl Actor for ChaosContender {
    type Context = Context<Self>;
}

impl Handler<LeadershipEvent> for ChaosContender {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, ctx: &mut Context<Self>) {
        let (slot, incarnation) = (self.slot, self.incarnation);
        match event {
            LeadershipEvent::Granted { session_id, .. } => {
                self.recorder.note(slot, incarnation, Happened::Granted(session_id));
                self.recorder.note(slot, incarnation, Happened::Confirmed(session_id));
                let confirm = self.supervisor.send(Confirm { component: COMPONENT.into(), session_id });
                let recorder = self.recorder.clone();
                ctx.spawn(
                    async move {
                        let accepted = matches!(confirm.await, Ok(Ok(())));
                        recorder.note(slot, incarnation, Happened::ConfirmAnswered { session_id, accepted });
                    }
                    .into_actor(self),
                );
            }
            LeadershipEvent::Revoked { .. } => self.recorder.note(slot, incarnation, Happened::Revoked),
            LeadershipEvent::Published { session_id, .. } => {
                self.recorder.note(slot, incarnation, Happened::Published(session_id))
            }
            LeadershipEvent::Error { error, .. } => {
                self.recorder.note(slot, incarnation, Happened::Error(error.to_string()))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The cluster under test

/// One running contender process: its session, supervisor and incarnation number.
pub struct Live {
    pub incarnation: usize,
    pub session: Addr<ZkSession>,
    pub supervisor: Addr<ElectionSupervisor>,
}

/// A contender place: its address, its proxy, and the incarnation running in it (if any).
pub struct Slot {
    pub index: usize,
    pub address: String,
    pub proxy: Arc<FaultProxy>,
    pub live: Option<Live>,
}

/// A 3-node ensemble, K contenders each behind its own proxy, an observer straight to the
/// ensemble, and the record.
pub struct Cluster {
    pub ensemble: Arc<ZkEnsemble>,
    pub slots: Vec<Slot>,
    pub observer: Addr<ZkSession>,
    pub recorder: Recorder,
    pub policy: ConnectionLossPolicy,
    pub session_timeout: Duration,
    next_incarnation: usize,
}

impl Cluster {
    /// Starts the ensemble and `contenders` contenders with `policy`, and waits for a first
    /// confirmed leader.
    pub async fn start(contenders: usize, policy: ConnectionLossPolicy, session_timeout: Duration) -> Cluster {
        let ensemble = Arc::new(blocking(ZkEnsemble::start).await.expect("ensemble"));
        let observer_config = SessionConfig::builder(ensemble.connect_string())
            .session_timeout(Duration::from_secs(10))
            .request_timeout(Duration::from_secs(2))
            .build()
            .expect("observer config");
        let observer = ZkSession::start(observer_config);
        let mut slots = Vec::new();
        for index in 0..contenders {
            let proxy = FaultProxy::for_connect_string(&ensemble.connect_string()).expect("proxy");
            slots.push(Slot { index, address: format!("contender-{index}:6123"), proxy: Arc::new(proxy), live: None });
        }
        let mut cluster = Cluster {
            ensemble,
            slots,
            observer,
            recorder: Recorder::default(),
            policy,
            session_timeout,
            next_incarnation: 0,
        };
        for index in 0..contenders {
            cluster.launch(index).await;
        }
        let within = session_timeout + Duration::from_secs(10);
        cluster.await_single_leader(within).await;
        cluster
    }

    /// Starts a new incarnation in slot `index`.
    pub async fn launch(&mut self, index: usize) {
        let incarnation = self.next_incarnation;
        self.next_incarnation += 1;
        let slot = &mut self.slots[index];
        let config = SessionConfig::builder(slot.proxy.connect_string())
            .session_timeout(self.session_timeout)
            .request_timeout(Duration::from_secs(3))
            .backoff(Backoff { initial: Duration::from_millis(100), max: Duration::from_millis(800) })
            .build()
            .expect("session config");
        let session = ZkSession::start(config);
        let election = ElectionConfig::builder(LATCH).policy(self.policy).build().expect("election config");
        let supervisor = ElectionSupervisor::start(session.clone(), election);
        let contender = ChaosContender {
            slot: index,
            incarnation,
            supervisor: supervisor.clone(),
            recorder: self.recorder.clone(),
        }
        .start();
        supervisor
            .send(Subscribe::new(COMPONENT, slot.address.clone(), LEADER, contender.recipient()))
            .await
            .expect("supervisor alive")
            .expect("subscribe accepted");
        slot.live = Some(Live { incarnation, session, supervisor });
    }

    /// Stops the incarnation in slot `index` (recorded first: from the moment a contender
    /// decides to stop it no longer acts as leader).
    pub async fn halt(&mut self, index: usize) {
        let Some(live) = self.slots[index].live.take() else { return };
        self.recorder.note(index, live.incarnation, Happened::Stopped);
        // A stop while partitioned may fail to delete nodes; that is reported, not fatal.
        let _ = live.supervisor.send(Stop).await;
        let _ = live.session.send(StopSession).await;
    }

    pub async fn shutdown(mut self) {
        for index in 0..self.slots.len() {
            self.halt(index).await;
        }
        let _ = self.observer.send(StopSession).await;
        let ensemble = self.ensemble.clone();
        drop(self);
        blocking(move || drop(ensemble)).await;
    }

    /// The slot of the contender that holds an open, confirmed leadership right now (the first
    /// one if, wrongly, several do).
    pub fn current_leader(&self) -> Option<usize> {
        open_leaderships(&self.recorder.entries()).first().map(|i| i.slot)
    }

    /// Waits until exactly one contender holds a confirmed leadership, its supervisor agrees,
    /// and the leader node holds exactly its address and session ID in a node its session owns.
    /// Returns how long that took.
    pub async fn await_single_leader(&self, within: Duration) -> Duration {
        let what = format!("no single confirmed leader within {within:?}");
        self.await_check(within, Duration::from_millis(20), &what, || self.single_leader()).await
    }

    /// Polls `check` every `poll` until it passes, and answers how long that took; panics with
    /// `what`, the last reason and the timeline after `within`.
    async fn await_check<F, Fut>(&self, within: Duration, poll: Duration, what: &str, mut check: F) -> Duration
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let started = Instant::now();
        let deadline = started + within;
        loop {
            let last = match check().await {
                Ok(()) => return started.elapsed(),
                Err(why) => why,
            };
            if Instant::now() >= deadline {
                panic!("{what}: {last}\n{}", self.timeline());
            }
            tokio::time::sleep(poll).await;
        }
    }

    async fn single_leader(&self) -> Result<(), String> {
        let open = open_leaderships(&self.recorder.entries());
        let [leader] = open.as_slice() else {
            return Err(format!("{} open confirmed leaderships", open.len()));
        };
        if !leader.accepted {
            return Err("confirm not answered yet".into());
        }
        let slot = &self.slots[leader.slot];
        let Some(live) = slot.live.as_ref().filter(|l| l.incarnation == leader.incarnation) else {
            return Err("leader incarnation no longer live".into());
        };
        let holds = live
            .supervisor
            .send(HasLeadership { component: COMPONENT.into(), session_id: leader.session_id })
            .await
            .unwrap_or(false);
        if !holds {
            return Err(format!("supervisor of {} denies leadership", slot.address));
        }
        let owner = live.session.send(GetStatus).await.map_err(|e| e.to_string())?.session_id;
        let (data, stat) = match self.observer.send(GetData { path: LEADER.into(), watch: None }).await {
            Ok(Ok(found)) => found,
            other => return Err(format!("leader node unreadable: {other:?}")),
        };
        let info = LeaderInfoCodec::Bincode.decode(&data).map_err(|e| format!("leader node undecodable: {e}"))?;
        if info.address != slot.address || info.session_id != leader.session_id {
            return Err(format!("leader node holds {info:?}, leader is {} {}", slot.address, leader.session_id));
        }
        if Some(stat.ephemeral_owner) != owner {
            return Err("leader node owned by another session".into());
        }
        Ok(())
    }

    /// Waits until every live contender is connected and is either the leader or in the latch
    /// with exactly one node its current session owns, and no other node is in the latch.
    pub async fn await_nobody_stuck(&self, within: Duration) -> Duration {
        let what = format!("contender stuck after {within:?}");
        self.await_check(within, Duration::from_millis(50), &what, || self.nobody_stuck()).await
    }

    async fn nobody_stuck(&self) -> Result<(), String> {
        let children = match self.observer.send(GetChildren { path: LATCH.into(), watch: None }).await {
            Ok(Ok(children)) => children,
            other => return Err(format!("latch unreadable: {other:?}")),
        };
        let mut nodes: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for child in &children {
            let path = format!("{LATCH}/{child}");
            match self.observer.send(GetData { path, watch: None }).await {
                Ok(Ok((data, stat))) => {
                    nodes.entry(String::from_utf8_lossy(&data).into_owned()).or_default().push(stat.ephemeral_owner)
                }
                Ok(Err(zk_election::ZkError::NoNode)) => {}
                other => return Err(format!("latch node unreadable: {other:?}")),
            }
        }
        let mut live_count = 0;
        for slot in &self.slots {
            let Some(live) = &slot.live else { continue };
            live_count += 1;
            let status = live.session.send(GetStatus).await.map_err(|e| e.to_string())?;
            if !status.is_connected() {
                return Err(format!("{} not connected ({:?})", slot.address, status.state));
            }
            let owners = nodes.get(&slot.address).cloned().unwrap_or_default();
            if owners != [status.session_id.unwrap_or_default()] {
                return Err(format!(
                    "{} has latch nodes owned by {owners:x?}, its session is {:x?}",
                    slot.address, status.session_id
                ));
            }
        }
        let total: usize = nodes.values().map(Vec::len).sum();
        if total != live_count {
            return Err(format!("{total} latch nodes for {live_count} live contenders: {nodes:x?}"));
        }
        Ok(())
    }

    /// The run so far, for failure messages.
    pub fn timeline(&self) -> String {
        timeline(&self.recorder, &self.slots)
    }
}

// ---------------------------------------------------------------------------------------------
// The fault schedule

/// Parameters of the main mix.
pub struct Mix {
    pub duration: Duration,
    /// Chance that a contender fault comes with a concurrent ZooKeeper member fault.
    pub combine: f64,
    /// Chance that a contender fault targets the current leader.
    pub aim_at_leader: f64,
}

/// Runs the main fault mix for `mix.duration`: one episode after another, each a contender
/// fault, a member fault, or both at once; never more than one member down. Returns when the
/// last fault has healed.
pub async fn run_mix(cluster: &mut Cluster, rng: &mut StdRng, mix: &Mix) -> Instant {
    let started = Instant::now();
    let mut last_heal = Instant::now();
    while started.elapsed() < mix.duration {
        let contender_fault = rng.gen_bool(0.8);
        let member_fault = !contender_fault || rng.gen_bool(mix.combine);
        let member_plan = member_fault.then(|| MemberPlan::pick(rng, cluster.session_timeout));
        let contender_plan = contender_fault.then(|| {
            let leader = cluster.current_leader();
            let target = match leader {
                Some(leader) if rng.gen_bool(mix.aim_at_leader) => leader,
                _ => rng.gen_range(0..cluster.slots.len()),
            };
            ContenderPlan::pick(rng, target, cluster.session_timeout)
        });
        let ensemble = cluster.ensemble.clone();
        let recorder = cluster.recorder.clone();
        let member = async move {
            if let Some(plan) = member_plan {
                plan.run(&ensemble, &recorder).await;
            }
        };
        let contender = async {
            if let Some(plan) = contender_plan {
                plan.run(cluster).await;
            }
        };
        tokio::join!(member, contender);
        last_heal = Instant::now();
        if started.elapsed() < mix.duration {
            tokio::time::sleep(millis(rng, 100..1200)).await;
        }
    }
    last_heal
}

fn millis(rng: &mut StdRng, range: std::ops::Range<u64>) -> Duration {
    Duration::from_millis(rng.gen_range(range))
}

/// A fault of one contender: what, whom, how long.
#[derive(Debug)]
pub struct ContenderPlan {
    pub kind: FaultKind,
    pub target: usize,
    pub hold: Duration,
}

impl ContenderPlan {
    fn pick(rng: &mut StdRng, target: usize, timeout: Duration) -> ContenderPlan {
        let t = timeout.as_millis() as u64;
        let (kind, hold) = match rng.gen_range(0..100) {
            // Blackholes from "unnoticed" (< T/3) through "suspended" to "session lost" (> T).
            0..=34 => (FaultKind::BlackholeContender, millis(rng, 100..2 * t)),
            35..=59 => (FaultKind::CutContender, millis(rng, 50..t * 3 / 4)),
            60..=79 => (FaultKind::StopContender, millis(rng, 100..t)),
            _ => (FaultKind::Resign, Duration::ZERO),
        };
        ContenderPlan { kind, target, hold }
    }

    pub async fn run(self, cluster: &mut Cluster) {
        let slot = &cluster.slots[self.target];
        let (address, proxy) = (slot.address.clone(), slot.proxy.clone());
        let supervisor = slot.live.as_ref().map(|live| live.supervisor.clone());
        let recorder = cluster.recorder.clone();
        match self.kind {
            FaultKind::BlackholeContender => {
                let fault = recorder.fault(self.kind, address);
                proxy.blackhole();
                tokio::time::sleep(self.hold).await;
                proxy.pass();
                recorder.healed(fault);
            }
            FaultKind::CutContender => {
                let fault = recorder.fault(self.kind, address);
                let cutting = proxy.clone();
                blocking(move || cutting.cut()).await;
                tokio::time::sleep(self.hold).await;
                proxy.pass();
                recorder.healed(fault);
            }
            FaultKind::StopContender => {
                let fault = recorder.fault(self.kind, address);
                cluster.halt(self.target).await;
                tokio::time::sleep(self.hold).await;
                cluster.launch(self.target).await;
                recorder.healed(fault);
            }
            FaultKind::Resign => {
                let fault = recorder.fault(self.kind, address);
                if let Some(supervisor) = supervisor {
                    let _ = supervisor.send(Resign { rejoin: true }).await;
                }
                recorder.healed(fault);
            }
            other => unreachable!("not a contender fault: {other:?}"),
        }
    }
}

/// A fault of one ZooKeeper member.
#[derive(Debug)]
pub struct MemberPlan {
    pub kind: FaultKind,
    pub member: usize,
    pub hold: Duration,
}

impl MemberPlan {
    fn pick(rng: &mut StdRng, timeout: Duration) -> MemberPlan {
        let t = timeout.as_millis() as u64;
        let kind = if rng.gen_bool(0.5) { FaultKind::KillMember } else { FaultKind::PauseMember };
        MemberPlan { kind, member: rng.gen_range(0..3), hold: millis(rng, 200..t) }
    }

    pub async fn run(self, ensemble: &Arc<ZkEnsemble>, recorder: &Recorder) {
        let fault = recorder.fault(self.kind, format!("zk member {}", self.member));
        let (e, m) = (ensemble.clone(), self.member);
        match self.kind {
            FaultKind::KillMember => blocking(move || e.kill(m)).await.expect("kill member"),
            FaultKind::PauseMember => blocking(move || e.pause(m)).await.expect("pause member"),
            other => unreachable!("not a member fault: {other:?}"),
        }
        tokio::time::sleep(self.hold).await;
        let e = ensemble.clone();
        match self.kind {
            // Restart waits until every running member serves again.
            FaultKind::KillMember => blocking(move || e.restart(m)).await.expect("restart member"),
            _ => blocking(move || e.resume(m).and_then(|()| e.wait_serving())).await.expect("resume member"),
        }
        recorder.healed(fault);
    }
}

// ---------------------------------------------------------------------------------------------
// The checker

/// One confirmed leadership of one incarnation: from its confirm to its revoke or stop.
#[derive(Clone, Debug)]
pub struct Leadership {
    pub slot: usize,
    pub incarnation: usize,
    pub session_id: Uuid,
    pub start: Instant,
    pub end: Option<Instant>,
    /// The supervisor accepted the confirm.
    pub accepted: bool,
}

/// Every leadership in the record, in order of start.
pub fn leaderships(entries: &[Entry]) -> Vec<Leadership> {
    let mut all: Vec<Leadership> = Vec::new();
    let mut open: BTreeMap<usize, usize> = BTreeMap::new(); // incarnation → index in `all`
    for entry in entries {
        match &entry.what {
            Happened::Confirmed(session_id) => {
                if let Some(previous) = open.remove(&entry.incarnation) {
                    all[previous].end = Some(entry.at); // a grant without a revoke: close it
                }
                open.insert(entry.incarnation, all.len());
                all.push(Leadership {
                    slot: entry.slot,
                    incarnation: entry.incarnation,
                    session_id: *session_id,
                    start: entry.at,
                    end: None,
                    accepted: false,
                });
            }
            Happened::ConfirmAnswered { session_id, accepted } => {
                if let Some(l) =
                    all.iter_mut().rev().find(|l| l.incarnation == entry.incarnation && l.session_id == *session_id)
                {
                    l.accepted = *accepted;
                }
            }
            Happened::Revoked | Happened::Stopped => {
                if let Some(index) = open.remove(&entry.incarnation) {
                    all[index].end = Some(entry.at);
                }
            }
            _ => {}
        }
    }
    all
}

/// Leaderships not ended yet.
pub fn open_leaderships(entries: &[Entry]) -> Vec<Leadership> {
    leaderships(entries).into_iter().filter(|l| l.end.is_none()).collect()
}

/// Two incarnations leading at once, and for how long.
#[derive(Clone, Debug)]
pub struct Overlap {
    pub first: Leadership,
    pub second: Leadership,
    pub length: Duration,
}

pub fn overlaps(all: &[Leadership], now: Instant) -> Vec<Overlap> {
    let mut found = Vec::new();
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            if a.incarnation == b.incarnation {
                continue;
            }
            let start = a.start.max(b.start);
            let end = a.end.unwrap_or(now).min(b.end.unwrap_or(now));
            if start < end {
                found.push(Overlap { first: a.clone(), second: b.clone(), length: end - start });
            }
        }
    }
    found
}

/// The longest stretch between `from` and `to` in which nobody held a leadership.
pub fn longest_leaderless_gap(all: &[Leadership], from: Instant, to: Instant) -> Duration {
    longest_gap_at(all, from, to).0
}

/// The longest leaderless stretch and where it began.
pub fn longest_gap_at(all: &[Leadership], from: Instant, to: Instant) -> (Duration, Instant) {
    let mut spans: Vec<(Instant, Instant)> =
        all.iter().map(|l| (l.start.max(from), l.end.unwrap_or(to).min(to))).filter(|(s, e)| s < e).collect();
    spans.sort();
    let mut longest = (Duration::ZERO, from);
    let mut covered_until = from;
    for (start, end) in spans {
        if start > covered_until && start - covered_until > longest.0 {
            longest = (start - covered_until, covered_until);
        }
        covered_until = covered_until.max(end);
    }
    if to.saturating_duration_since(covered_until) > longest.0 {
        longest = (to - covered_until, covered_until);
    }
    longest
}

/// The shortest time between one contender's leadership ending and another's starting: how
/// close the run came to an overlap.
pub fn tightest_handover(all: &[Leadership]) -> Option<Duration> {
    all.windows(2)
        .filter(|pair| pair[0].slot != pair[1].slot)
        .filter_map(|pair| pair[0].end.map(|end| pair[1].start.saturating_duration_since(end)))
        .min()
}

/// Leaderships whose contender differs from the previous leadership's.
pub fn failovers(all: &[Leadership]) -> usize {
    all.windows(2).filter(|pair| pair[0].slot != pair[1].slot).count()
}

/// Events that reached an incarnation after it was stopped (must be none).
pub fn events_after_stop(entries: &[Entry]) -> Vec<Entry> {
    let mut stopped: BTreeMap<usize, Instant> = BTreeMap::new();
    let mut late = Vec::new();
    for entry in entries {
        match entry.what {
            Happened::Stopped => {
                stopped.insert(entry.incarnation, entry.at);
            }
            // The answer to a confirm sent before the stop may arrive after it.
            Happened::ConfirmAnswered { .. } => {}
            _ if stopped.contains_key(&entry.incarnation) => late.push(entry.clone()),
            _ => {}
        }
    }
    late
}

/// Prints past the test harness's output capture, so the figures show in every CI log.
pub fn report(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Figures of a run, printed at the end.
pub struct Figures {
    pub label: String,
    pub seed: u64,
    pub ran_for: Duration,
    pub terms: usize,
    pub failovers: usize,
    pub faults: BTreeMap<FaultKind, usize>,
    pub longest_gap: Duration,
    pub tightest_handover: Option<Duration>,
    /// Seconds into the run where the longest gap began.
    pub longest_gap_at: f64,
    pub overlaps: Vec<Overlap>,
    pub recovery: Duration,
    pub errors: BTreeMap<String, usize>,
    /// The run as text (printed when `CHAOS_TIMELINE` is set).
    pub timeline: String,
}

impl Figures {
    pub fn compute(label: &str, seed: u64, cluster: &Cluster, began: Instant, recovery: Duration) -> Figures {
        let entries = cluster.recorder.entries();
        let all = leaderships(&entries);
        let now = Instant::now();
        let mut faults = BTreeMap::new();
        for fault in cluster.recorder.faults() {
            *faults.entry(fault.kind).or_default() += 1;
        }
        let first = all.first().map_or(began, |l| l.start);
        Figures {
            timeline: cluster.timeline(),
            label: label.to_owned(),
            seed,
            ran_for: began.elapsed(),
            terms: all.len(),
            failovers: failovers(&all),
            tightest_handover: tightest_handover(&all),
            faults,
            longest_gap: longest_gap_at(&all, first, now).0,
            longest_gap_at: (longest_gap_at(&all, first, now).1 - first).as_secs_f64(),
            overlaps: overlaps(&all, now),
            recovery,
            errors: entries.iter().fold(BTreeMap::new(), |mut errors, e| {
                if let Happened::Error(text) = &e.what {
                    *errors.entry(text.clone()).or_default() += 1;
                }
                errors
            }),
        }
    }

    pub fn print(&self) {
        // CHAOS_TIMELINE=1 prints the run's timeline, CHAOS_TIMELINE=<file> writes it there.
        match std::env::var("CHAOS_TIMELINE").as_deref() {
            Ok("1") => report(&self.timeline),
            Ok(path) => std::fs::write(format!("{path}.{}", self.label), &self.timeline).expect("timeline file"),
            Err(_) => {}
        }
        let faults: Vec<String> = self.faults.iter().map(|(kind, n)| format!("{kind:?}={n}")).collect();
        let total: usize = self.faults.values().sum();
        report(&format!(
            "chaos[{}] seed={} ran={:.1}s faults={} ({}) leadership-terms={} failovers={} longest-leaderless-gap={}ms(at {:.1}s) \
             tightest-handover={:?} \
             recovery-after-last-heal={}ms error-events={:?} overlaps={}",
            self.label,
            self.seed,
            self.ran_for.as_secs_f64(),
            total,
            faults.join(" "),
            self.terms,
            self.failovers,
            self.longest_gap.as_millis(),
            self.longest_gap_at,
            self.tightest_handover,
            self.recovery.as_millis(),
            self.errors,
            self.overlaps.len(),
        ));
        for overlap in &self.overlaps {
            report(&format!(
                "chaos[{}]   overlap {}ms: slot {} (incarnation {}) and slot {} (incarnation {})",
                self.label,
                overlap.length.as_millis(),
                overlap.first.slot,
                overlap.first.incarnation,
                overlap.second.slot,
                overlap.second.incarnation
            ));
        }
    }
}

/// A readable timeline of the run (faults and contender events), relative to its start.
pub fn timeline(recorder: &Recorder, slots: &[Slot]) -> String {
    let entries = recorder.entries();
    let faults = recorder.faults();
    let Some(origin) = entries.first().map(|e| e.at).into_iter().chain(faults.first().map(|f| f.at)).min() else {
        return String::new();
    };
    let mut lines: Vec<(Instant, String)> = Vec::new();
    for e in &entries {
        let who = slots.get(e.slot).map_or("?", |s| s.address.as_str());
        lines.push((e.at, format!("{who} #{}: {:?}", e.incarnation, e.what)));
    }
    for f in &faults {
        lines.push((f.at, format!("FAULT {:?} {}", f.kind, f.target)));
        if let Some(healed) = f.healed {
            lines.push((healed, format!("HEAL  {:?} {}", f.kind, f.target)));
        }
    }
    lines.sort_by_key(|(at, _)| *at);
    lines
        .iter()
        .map(|(at, text)| format!("{:>9.3}s {text}", (*at - origin).as_secs_f64()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A seeded generator, seed printed.
pub fn rng(label: &str) -> (u64, StdRng) {
    let seed = seed();
    report(&format!("chaos[{label}] seed={seed} (set CHAOS_SEED to replay the schedule)"));
    (seed, StdRng::seed_from_u64(seed))
}
