//! The world of one simulation: the ensemble, the network between it and the processes, the
//! processes themselves (a simulated session, an election supervisor and a contender each), the
//! faults, the event log, and the checks after every event.
//!
//! Everything happens on one thread, in one actix system on a tokio runtime whose clock is
//! paused and advances only when nothing is left to run: simulated time. Every random choice
//! comes from the seed.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::client::SimSession;
use super::ensemble::{write_of, Ensemble};
use super::properties::{Checker, Claims, Heard, Violation};
use super::tree::Write;
use super::wire::{incarnation_of, ConnId, ProcessId, Report, Told};
use super::{Outcome, SimConfig, COMPONENT, LATCH, LEADER_PATH};
use crate::codec::LeaderInfoCodec;
use crate::config::ElectionConfig;
use crate::contender::{Confirm, LeadershipEvent, StopElection, Subscribe};
use crate::latch::{participants_in_order, who_left};
use crate::port::{Lease, Request};
use crate::supervisor::ElectionSupervisor;
use crate::zk::WriteOp;

/// How long after its node's deletion a grant may still be heard: the proof of the node and
/// the grant travel at most this long (the network's slowest round trip), and the deletion's
/// notification follows the grant.
const ZOMBIE_WINDOW: Duration = Duration::from_millis(800);

/// One TCP connection between a process and a server.
#[derive(Debug)]
struct Link {
    process: ProcessId,
    server: usize,
    session: Option<i64>,
    open: bool,
    /// When the next packet each way may arrive at the earliest: a connection is FIFO.
    up_free: Instant,
    down_free: Instant,
}

/// One incarnation of a process: its session, its election, its contender.
struct Incarnation {
    session: Addr<SimSession>,
    lease: Lease,
    supervisor: Option<Addr<ElectionSupervisor>>,
    /// The current election's contender.
    contender: Option<Addr<SimContender>>,
    /// What each election of this incarnation's contender was told, the current one last.
    elections: Vec<Claims>,
    /// Crashed or quit: nothing it does counts any more.
    crashed: bool,
}

/// A process slot: the incarnations that filled it, and the faults on it now.
struct Process {
    address: String,
    incarnations: Vec<Incarnation>,
    partitioned_until: Option<Instant>,
    lose_next_answer: bool,
    session_moved: bool,
    silent_new_session: bool,
}

/// The world.
pub(crate) struct World {
    config: SimConfig,
    rng: StdRng,
    start: Instant,
    ensemble: Ensemble,
    links: BTreeMap<ConnId, Link>,
    processes: Vec<Process>,
    lagging: BTreeMap<usize, (Duration, Instant)>,
    checker: Checker,
    violations: Vec<Violation>,
    log: Vec<String>,
    faults: u64,
    done: Option<oneshot::Sender<Outcome>>,
    /// After the fault window: faults end, and liveness is judged.
    quiet: bool,
}

impl World {
    pub fn new(config: SimConfig, done: oneshot::Sender<Outcome>) -> World {
        let rng = StdRng::seed_from_u64(config.seed);
        let ensemble = Ensemble::new(config.servers, config.tick);
        World {
            config,
            rng,
            start: Instant::now(),
            ensemble,
            links: BTreeMap::new(),
            processes: Vec::new(),
            lagging: BTreeMap::new(),
            checker: Checker::default(),
            violations: Vec::new(),
            log: Vec::new(),
            faults: 0,
            done: Some(done),
            quiet: false,
        }
    }

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }

    fn note(&mut self, what: impl std::fmt::Display) {
        let at = self.now();
        self.log.push(format!("{:>6}.{:03} {what}", at.as_secs(), at.subsec_millis()));
    }

    fn violate(&mut self, violation: Violation) {
        self.note(format!("VIOLATION {}: {}", violation.property, violation.detail));
        self.violations.push(violation);
    }

    /// One-way network delay: usually a millisecond or two, sometimes a spike (a fault: none
    /// once faults end, or a spike then could suspend a session just before liveness is
    /// judged); plus the configured link delay.
    fn delay(&mut self) -> Duration {
        let jitter = if self.rng.gen_bool(0.03) && !self.quiet {
            Duration::from_millis(self.rng.gen_range(20..=300))
        } else {
            Duration::from_micros(self.rng.gen_range(100..=2000))
        };
        self.config.link_delay + jitter
    }

    fn partitioned(&self, process: ProcessId) -> bool {
        self.processes[process].partitioned_until.is_some_and(|until| Instant::now() < until)
    }

    fn current(&self, process: ProcessId) -> &Incarnation {
        let incarnations = &self.processes[process].incarnations;
        &incarnations[incarnations.len() - 1]
    }

    /// The session that owns connection `conn`.
    fn client_of(&self, process: ProcessId, conn: ConnId) -> Option<Addr<SimSession>> {
        self.processes[process].incarnations.get(incarnation_of(conn)).map(|incarnation| incarnation.session.clone())
    }

    fn current_mut(&mut self, process: ProcessId) -> &mut Incarnation {
        let incarnations = &mut self.processes[process].incarnations;
        let last = incarnations.len() - 1;
        &mut incarnations[last]
    }

    /// Whether the latch node with czxid `token` exists in the committed tree.
    fn latch_node_exists(&self, token: i64) -> bool {
        let tree = self.ensemble.committed();
        tree.children(LATCH)
            .unwrap_or_default()
            .iter()
            .any(|child| tree.get(&format!("{LATCH}/{child}")).is_some_and(|node| node.stat.czxid == token))
    }

    /// The session that owns the first node in line of the committed tree, if any.
    fn latch_holder(&self) -> Option<i64> {
        let tree = self.ensemble.committed();
        let children = tree.children(LATCH).unwrap_or_default();
        let first = participants_in_order(&children).first().map(|name| format!("{LATCH}/{name}"))?;
        tree.get(&first).map(|node| node.stat.ephemeral_owner)
    }

    /// A write of `session` just committed, over a leader node that `owner_before` owned (if
    /// it existed) and a line that `latch_holder` led: whoever writes the leader node must own
    /// the latch node whose czxid the written fencing token is (what the publish's guard is
    /// for), and a leave record is written by the latch holder, naming itself (what observers
    /// tell a leave from an expiry by). A delete of another
    /// session's leader node that is no replacement is logged, not judged: a leaving process
    /// deletes its stale leader node by version, and ZooKeeper cannot tell that node from a
    /// successor's replacement of it at the same version (TESTING.md, "Known races").
    pub(super) fn judge_leader_write(
        &mut self,
        session: i64,
        request: &Request,
        owner_before: Option<i64>,
        latch_holder: Option<i64>,
    ) {
        let ops = match write_of(request) {
            Some(Write::One(op)) => vec![op],
            Some(Write::Multi(multi)) => multi.ops,
            None => Vec::new(),
        };
        let mut written = false;
        let mut deleted = false;
        for op in &ops {
            match op {
                WriteOp::Create { path, data, .. } | WriteOp::SetData { path, data, .. } if path == LEADER_PATH => {
                    written = true;
                    let token = LeaderInfoCodec::Bincode.decode(data).ok().and_then(|info| info.fencing_token);
                    if !token.is_some_and(|token| self.owns_latch_node(session, token)) {
                        self.violate(Violation {
                            property: "the leader node is written by the latch holder only",
                            detail: format!(
                                "{session:#x} wrote the leader node with token {token:?} without its latch node"
                            ),
                        });
                    }
                }
                WriteOp::SetData { path, data, .. } if path == LATCH => {
                    let named = who_left(data);
                    if named != Some(session) || latch_holder != Some(session) {
                        self.violate(Violation {
                            property: "a leave record is the latch holder's own",
                            detail: format!(
                                "{session:#x} wrote a leave record naming {named:?} while {latch_holder:?} held the latch"
                            ),
                        });
                    }
                }
                WriteOp::Delete { path, .. } if path == LEADER_PATH => deleted = true,
                _ => {}
            }
        }
        if let (true, false, Some(owner)) = (deleted, written, owner_before.filter(|owner| *owner != session)) {
            self.note(format!("{session:#x} deleted the leader node of {owner:#x}"));
        }
    }

    /// Whether `session` owns the latch node created at zxid `token`.
    fn owns_latch_node(&self, session: i64, token: i64) -> bool {
        self.ensemble.committed().nodes().any(|(path, node)| {
            path.starts_with(&format!("{LATCH}/")) && node.stat.czxid == token && node.stat.ephemeral_owner == session
        })
    }

    fn rng_range(&mut self, low: u64, high: u64) -> u64 {
        self.rng.gen_range(low..=high)
    }

    // ---- processes ----------------------------------------------------------------------

    /// Starts a new incarnation of `process`: a session, an election, a contender.
    fn launch(&mut self, process: ProcessId, ctx: &mut Context<Self>) {
        let timeout = self.config.session_timeout;
        let incarnation = self.processes[process].incarnations.len();
        let world = ctx.address();
        let session = SimSession::new(
            process,
            incarnation,
            world.clone().recipient(),
            world.recipient(),
            timeout,
            self.config.detect_new_session_ids,
        );
        let lease = session.lease();
        let session = session.start();
        self.processes[process].incarnations.push(Incarnation {
            session,
            lease,
            supervisor: None,
            contender: None,
            elections: Vec::new(),
            crashed: false,
        });
        self.note(format!("p{process} starts (incarnation {incarnation})"));
        self.join(process, ctx);
    }

    /// Starts an election for the current incarnation of `process` and subscribes its contender.
    fn join(&mut self, process: ProcessId, ctx: &mut Context<Self>) {
        let priority = if self.config.priorities { self.rng.gen_range(0..=2) } else { 0 };
        let config = ElectionConfig::builder(LATCH)
            .policy(self.config.policy)
            .priority(priority)
            .cooldown(self.config.cooldown)
            .build();
        let Ok(config) = config else {
            return self.violate(Violation { property: "no panic", detail: "bad election config".into() });
        };
        let incarnation = self.processes[process].incarnations.len() - 1;
        let address = self.processes[process].address.clone();
        let Some(current) = self.processes[process].incarnations.last_mut() else { return };
        current.elections.push(Claims::default());
        let election = current.elections.len() - 1;
        let supervisor = ElectionSupervisor::start(current.session.clone(), config);
        current.supervisor = Some(supervisor.clone());
        let contender = SimContender { process, incarnation, election, world: ctx.address() }.start();
        current.contender = Some(contender.clone());
        let subscribe = Subscribe::new(COMPONENT, address, LEADER_PATH, contender.recipient());
        supervisor.do_send(subscribe);
    }

    /// The contender of `process` was told `event`.
    fn on_report(&mut self, report: Report, ctx: &mut Context<Self>) {
        let Report { process, incarnation, election, told } = report;
        let event = match told {
            Told::Event(event) => event,
            Told::StopReturned => {
                self.processes[process].incarnations[incarnation].elections[election].stop_returned();
                return;
            }
        };
        let heard = match &event {
            LeadershipEvent::Granted { leader_session, fencing_token, .. } => {
                Heard::Granted { leader_session: *leader_session, fencing_token: *fencing_token }
            }
            LeadershipEvent::Revoked { .. } => Heard::Revoked,
            LeadershipEvent::Published { leader_session, .. } => Heard::Published { leader_session: *leader_session },
            _ => Heard::Error,
        };
        self.note(format!("p{process}.{incarnation}.{election} hears {heard:?}"));
        if let Heard::Granted { leader_session, fencing_token } = heard {
            // A grant heard after an operator deleted its node is a zombie (it cannot write,
            // and hears of the deletion next): only grants on a node that exists must grow.
            let name = format!("p{process}.{incarnation}.{election}");
            if self.latch_node_exists(fencing_token) {
                if let Some(violation) = self.checker.granted(&name, fencing_token) {
                    self.violate(violation);
                }
            } else if let Some(deleted) = self.ensemble.deleted_at.get(&fencing_token) {
                let ago = Instant::now().saturating_duration_since(*deleted);
                if ago > ZOMBIE_WINDOW {
                    self.violate(Violation {
                        property: "no grant on a node long gone",
                        detail: format!(
                            "{name} granted token {fencing_token}, whose node went {} ms ago",
                            ago.as_millis()
                        ),
                    });
                }
            }
            self.confirm_later(process, incarnation, election, leader_session, ctx);
        }
        let claims = &mut self.processes[process].incarnations[incarnation].elections[election];
        if let Some(violation) = claims.hear(&heard) {
            self.violate(violation);
        }
    }

    /// The contender confirms a grant, after a while (sometimes a long one: a stale confirm).
    fn confirm_later(
        &mut self,
        process: ProcessId,
        incarnation: usize,
        election: usize,
        leader_session: uuid::Uuid,
        ctx: &mut Context<Self>,
    ) {
        let wait = if self.rng.gen_bool(0.1) {
            Duration::from_millis(self.rng.gen_range(200..=3000))
        } else {
            Duration::from_millis(self.rng.gen_range(0..=20))
        };
        ctx.run_later(wait, move |world, ctx| {
            let incarnation_now = &world.processes[process].incarnations[incarnation];
            // An election that was stopped meanwhile has no supervisor to confirm to.
            if incarnation_now.elections.len() != election + 1 {
                return;
            }
            let Some(supervisor) = incarnation_now.supervisor.clone() else { return };
            let confirm = supervisor.send(Confirm { component: COMPONENT.into(), leader_session });
            ctx.spawn(confirm.into_actor(world).map(move |answer, world, ctx| {
                if let Ok(Ok(())) = answer {
                    world.note(format!("p{process}.{incarnation} confirmed {leader_session}"));
                    let claims = &mut world.processes[process].incarnations[incarnation].elections[election];
                    if let Some(violation) = claims.hear(&Heard::Confirmed { leader_session }) {
                        world.violate(violation);
                    }
                }
                world.check(ctx);
            }));
        });
    }

    /// Stops the election of `process` (the contender considers itself revoked at once).
    fn stop_election(&mut self, process: ProcessId) {
        let Some(current) = self.processes[process].incarnations.last_mut() else { return };
        if let Some(claims) = current.elections.last_mut() {
            claims.stop();
        }
        if let (Some(supervisor), Some(contender)) = (current.supervisor.take(), current.contender.take()) {
            actix::spawn(async move {
                let _ = supervisor.send(StopElection).await;
                contender.do_send(StopReturned);
            });
        }
    }
}

/// The contender of one election of one process: reports everything to the world, which
/// confirms for it.
struct SimContender {
    process: ProcessId,
    incarnation: usize,
    election: usize,
    world: Addr<World>,
}

impl Actor for SimContender {
    type Context = Context<Self>;
}

impl Handler<LeadershipEvent> for SimContender {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, _ctx: &mut Context<Self>) {
        self.report(Told::Event(event));
    }
}

impl SimContender {
    fn report(&self, told: Told) {
        let (process, incarnation, election) = (self.process, self.incarnation, self.election);
        self.world.do_send(Report { process, incarnation, election, told });
    }
}

/// The contender's `StopElection` was answered (sent to it, so that it reports this after
/// every event that reached it before).
#[derive(Message)]
#[rtype(result = "()")]
struct StopReturned;

impl Handler<StopReturned> for SimContender {
    type Result = ();

    fn handle(&mut self, _msg: StopReturned, _ctx: &mut Context<Self>) {
        self.report(Told::StopReturned);
    }
}

mod judge;
mod network;
mod run;
