//! The course of one run: processes start, faults come and go on schedule, the server's own
//! clock ticks (expiry, containers), faults end, liveness is judged, every election stops and
//! what it left behind is judged; and the checks after every step.

use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

use super::World;
use crate::contender::{ReportHealth, Resign, StopElection, Transfer};
use crate::latch::participants_in_order;
use crate::simulation::ensemble::LEADER;
use crate::simulation::faults::{schedule, Fault};
use crate::simulation::properties::Seen;
use crate::simulation::tree::Txn;
use crate::simulation::wire::{Freeze, ProcessId, Shutdown};
use crate::simulation::wire::{Hangup, Report, Transmit};
use crate::simulation::{Outcome, COMPONENT, LATCH, LEADER_PATH};
use crate::zk::{Acl, AuthId, NodeAcl, Permission};

/// How often the servers look at their sessions' timeouts.
const SERVER_TICK: Duration = Duration::from_millis(50);

impl World {
    /// The leader path's parent, which a `LockLeaderParent` fault locks.
    fn leader_parent() -> &'static str {
        &LEADER_PATH[..LEADER_PATH.rfind('/').unwrap_or(0)]
    }

    /// Applies an operator's transaction and tells the watches.
    fn operate(&mut self, txn: Txn, ctx: &mut Context<Self>) {
        let told = self.ensemble.operate(txn, Instant::now(), self.start);
        self.notify(told, ctx);
        let index = self.ensemble.log_len();
        self.followers_catch_up(index, ctx);
    }

    fn links_of(&self, process: ProcessId) -> Vec<u64> {
        self.links.iter().filter(|(_, link)| link.open && link.process == process).map(|(conn, _)| *conn).collect()
    }

    fn apply(&mut self, fault: Fault, ctx: &mut Context<Self>) {
        if self.quiet {
            return;
        }
        // A fault on a process that has not started yet strikes nothing.
        if fault.process().is_some_and(|process| self.processes[process].incarnations.is_empty()) {
            return self.note(format!("FAULT {fault:?} (before the process started: nothing)"));
        }
        self.faults += 1;
        self.note(format!("FAULT {fault:?}"));
        let now = Instant::now();
        match fault {
            Fault::Cut { process } => {
                for conn in self.links_of(process) {
                    self.close(conn, ctx);
                }
            }
            Fault::Partition { process, span } => self.processes[process].partitioned_until = Some(now + span),
            Fault::Pause { process, span } => {
                let incarnation = self.processes[process].incarnations.len() - 1;
                self.current(process).session.do_send(Freeze(true));
                ctx.run_later(span, move |world, ctx| {
                    // A process that crashed meanwhile stays frozen for good.
                    let paused = &world.processes[process].incarnations[incarnation];
                    if !paused.crashed {
                        paused.session.do_send(Freeze(false));
                    }
                    world.check(ctx);
                });
            }
            Fault::ServerCrash { server, span } => {
                self.ensemble.servers[server].up = false;
                if server == LEADER {
                    self.ensemble.quorum = false;
                }
                let gone: Vec<u64> = self
                    .links
                    .iter()
                    .filter(|(_, link)| link.open && (link.server == server || server == LEADER))
                    .map(|(conn, _)| *conn)
                    .collect();
                for conn in gone {
                    self.close(conn, ctx);
                }
                ctx.run_later(span, move |world, ctx| world.restart_server(server, ctx));
            }
            Fault::QuorumLoss { span } => {
                self.ensemble.quorum = false;
                for conn in self.links.keys().copied().collect::<Vec<_>>() {
                    self.close(conn, ctx);
                }
                ctx.run_later(span, |world, ctx| world.regain_quorum(ctx));
            }
            Fault::LoseNextAnswer { process } => self.processes[process].lose_next_answer = true,
            Fault::SessionMoved { process } => self.processes[process].session_moved = true,
            Fault::SilentNewSession { process } => self.processes[process].silent_new_session = true,
            Fault::SlowFollower { server, lag, span } => {
                if server > 0 && server < self.config.servers {
                    self.lagging.insert(server, (lag, now + span));
                }
            }
            Fault::DeleteLatchNode { nth } => {
                let children = self.ensemble.committed().children(LATCH).unwrap_or_default();
                if let Some(name) = participants_in_order(&children).get(nth) {
                    let path = format!("{LATCH}/{name}");
                    self.operate(Txn::Delete { path }, ctx);
                }
            }
            Fault::DeleteLatchPath => {
                let children = self.ensemble.committed().children(LATCH).unwrap_or_default();
                let mut txns: Vec<Txn> =
                    children.iter().map(|child| Txn::Delete { path: format!("{LATCH}/{child}") }).collect();
                if self.ensemble.committed().get(LATCH).is_some() {
                    txns.push(Txn::Delete { path: LATCH.to_owned() });
                }
                self.operate(Txn::Multi(txns), ctx);
            }
            Fault::DeleteLeaderNode => {
                if self.ensemble.committed().get(LEADER_PATH).is_some() {
                    self.operate(Txn::Delete { path: LEADER_PATH.to_owned() }, ctx);
                }
            }
            Fault::GarbageLeaderNode => {
                if self.ensemble.committed().get(LEADER_PATH).is_some() {
                    let data = (0..23u8).map(|b| b.wrapping_mul(71)).collect();
                    self.operate(Txn::SetData { path: LEADER_PATH.to_owned(), data }, ctx);
                }
            }
            Fault::LockLeaderParent { span } => {
                let parent = Self::leader_parent().to_owned();
                if self.ensemble.committed().get(&parent).is_some() {
                    let no_create = Permission::READ | Permission::WRITE | Permission::DELETE | Permission::ADMIN;
                    let locked = NodeAcl::Custom(vec![Acl::new(no_create, AuthId::anyone())]);
                    self.operate(Txn::SetAcl { path: parent.clone(), acl: locked }, ctx);
                    ctx.run_later(span, move |world, ctx| {
                        world.operate(Txn::SetAcl { path: parent, acl: NodeAcl::Open }, ctx)
                    });
                }
            }
            Fault::Resign { process } => {
                if let Some(supervisor) = &self.current(process).supervisor {
                    supervisor.do_send(Resign::new(COMPONENT));
                }
            }
            Fault::Unhealthy { process, span } => {
                let report = |healthy| ReportHealth { component: COMPONENT.to_owned(), healthy };
                if let Some(supervisor) = &self.current(process).supervisor {
                    for _ in 0..crate::config::DEFAULT_HEALTH_FAILURES {
                        supervisor.do_send(report(false));
                    }
                    let supervisor = supervisor.clone();
                    ctx.run_later(span, move |_, _| supervisor.do_send(report(true)));
                }
            }
            Fault::Transfer { nth } => {
                let children = self.ensemble.committed().children(LATCH).unwrap_or_default();
                if let Some(name) = participants_in_order(&children).get(nth) {
                    for process in 0..self.processes.len() {
                        if let Some(supervisor) = &self.current(process).supervisor {
                            supervisor.do_send(Transfer::to_node(*name));
                        }
                    }
                }
            }
            Fault::StopAndRejoin { process, after } => {
                if self.current(process).supervisor.is_some() {
                    self.stop_election(process);
                    let incarnation = self.processes[process].incarnations.len();
                    ctx.run_later(after, move |world, ctx| {
                        let same = world.processes[process].incarnations.len() == incarnation;
                        if same && world.current(process).supervisor.is_none() && !world.current(process).crashed {
                            world.join(process, ctx);
                        }
                    });
                }
            }
            Fault::Restart { process, after } => {
                if !self.current(process).crashed {
                    let supervisor = self.current(process).supervisor.clone();
                    let session = self.current(process).session.clone();
                    self.stop_election(process);
                    self.current_mut(process).crashed = true;
                    // Stop the election, then close the session, as a process that quits does.
                    let quit = async move {
                        if let Some(supervisor) = supervisor {
                            let _ = supervisor.send(StopElection).await;
                        }
                        session.do_send(Shutdown);
                    };
                    ctx.spawn(quit.into_actor(self));
                    ctx.run_later(after, move |world, ctx| world.launch(process, ctx));
                }
            }
            Fault::Crash { process, after } => {
                if !self.current(process).crashed {
                    self.current_mut(process).crashed = true;
                    self.current(process).session.do_send(Freeze(true));
                    ctx.run_later(after, move |world, ctx| world.launch(process, ctx));
                }
            }
        }
    }

    fn restart_server(&mut self, server: usize, ctx: &mut Context<Self>) {
        self.ensemble.servers[server].up = true;
        let index = self.ensemble.log_len();
        let told = self.ensemble.catch_up(server, index);
        self.notify(told, ctx);
        if server == LEADER {
            self.regain_quorum(ctx);
        }
        self.note(format!("s{server} is back"));
    }

    fn regain_quorum(&mut self, ctx: &mut Context<Self>) {
        if !self.ensemble.quorum && self.ensemble.servers[LEADER].up {
            self.ensemble.regain_quorum(Instant::now());
            self.note("quorum again");
        }
        self.check(ctx);
    }

    /// The servers' clock: sessions that timed out expire; empty containers go.
    fn server_tick(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let (expired, told) = self.ensemble.expire_due(now, self.start);
        for session in expired {
            self.note(format!("session {session:#x} expires"));
            let conns: Vec<u64> = self
                .links
                .iter()
                .filter(|(_, link)| link.open && link.session == Some(session))
                .map(|(conn, _)| *conn)
                .collect();
            for conn in conns {
                self.close(conn, ctx);
            }
            self.followers_catch_up(self.ensemble.log_len(), ctx);
        }
        self.notify(told, ctx);
        if self.ensemble.quorum && self.now().as_millis() % 1000 < SERVER_TICK.as_millis() {
            for container in self.ensemble.committed().empty_containers() {
                self.operate(Txn::Delete { path: container }, ctx);
            }
        }
        self.check(ctx);
    }

    /// Faults are over: everything heals, and the election must settle.
    fn heal(&mut self, ctx: &mut Context<Self>) {
        self.note("faults end");
        self.quiet = true;
        for process in 0..self.processes.len() {
            self.processes[process].partitioned_until = None;
            if !self.current(process).crashed {
                self.current(process).session.do_send(Freeze(false));
            }
        }
        self.lagging.clear();
        for server in 0..self.config.servers {
            if !self.ensemble.servers[server].up {
                self.restart_server(server, ctx);
            }
        }
        self.regain_quorum(ctx);
        if self.ensemble.committed().get(Self::leader_parent()).is_some() {
            self.operate(Txn::SetAcl { path: Self::leader_parent().to_owned(), acl: NodeAcl::Open }, ctx);
        }
    }

    /// The checks of every step.
    pub(super) fn check(&mut self, ctx: &mut Context<Self>) {
        let holds = |token: i64| self.latch_node_exists(token);
        let mut names = Vec::new();
        let mut seen = Vec::new();
        for (p, process) in self.processes.iter().enumerate() {
            for (i, incarnation) in process.incarnations.iter().enumerate().filter(|(_, i)| !i.crashed) {
                for (e, claims) in incarnation.elections.iter().enumerate() {
                    if let Some((_, token)) = claims.leading {
                        names.push(format!("p{p}.{i}.{e}"));
                        seen.push((claims, &incarnation.lease, holds(token)));
                    }
                }
            }
        }
        let seen: Vec<Seen<'_>> = seen
            .iter()
            .zip(&names)
            .map(|((claims, lease, holds_node), name)| Seen { name, claims, lease, holds_node: *holds_node })
            .collect();
        let violations = [self.checker.one_leader(&seen), self.checker.lease_ends_leadership(&seen)];
        for violation in violations.into_iter().flatten() {
            self.violate(violation);
        }
        if !self.violations.is_empty() {
            self.finish(ctx);
        }
    }

    /// Ends the run and answers the outcome.
    fn finish(&mut self, ctx: &mut Context<Self>) {
        if let Some(done) = self.done.take() {
            let outcome = Outcome {
                seed: self.config.seed,
                simulated: self.now(),
                faults: self.faults,
                violations: self.violations.drain(..).map(|v| format!("{}: {}", v.property, v.detail)).collect(),
                log: std::mem::take(&mut self.log),
            };
            let _ = done.send(outcome);
            ctx.stop();
            System::current().stop();
        }
    }
}

impl Actor for World {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.start = Instant::now();
        let config = self.config.clone();
        self.note(format!("seed {} · {config:?}", config.seed));
        for process in 0..config.processes {
            self.processes.push(super::Process {
                address: format!("p{process}:6123"),
                incarnations: Vec::new(),
                partitioned_until: None,
                lose_next_answer: false,
                session_moved: false,
                silent_new_session: false,
            });
            let at = Duration::from_millis(self.rng_range(0, 500));
            ctx.run_later(at, move |world, ctx| world.launch(process, ctx));
        }
        let plan = match &config.script {
            Some(script) => script.clone(),
            None => schedule(
                &mut self.rng,
                config.faults,
                config.window,
                config.processes,
                config.servers,
                config.session_timeout,
            ),
        };
        for (at, fault) in plan {
            ctx.run_later(at, move |world, ctx| {
                world.apply(fault, ctx);
                world.check(ctx);
            });
        }
        ctx.run_interval(SERVER_TICK, |world, ctx| world.server_tick(ctx));
        ctx.run_later(config.window, |world, ctx| world.heal(ctx));
        let settled = config.window + config.settle;
        ctx.run_later(settled, |world, ctx| {
            world.judge_liveness();
            for process in 0..world.processes.len() {
                if !world.current(process).crashed {
                    world.stop_election(process);
                }
            }
            world.check(ctx);
        });
        // Sessions nobody holds any more (a crashed process's) expire meanwhile.
        ctx.run_later(settled + config.session_timeout + Duration::from_secs(3), |world, ctx| {
            world.judge_leftovers();
            world.finish(ctx);
        });
    }
}

impl Handler<Transmit> for World {
    type Result = ();

    fn handle(&mut self, msg: Transmit, ctx: &mut Context<Self>) {
        self.on_transmit(msg, ctx);
    }
}

impl Handler<Hangup> for World {
    type Result = ();

    fn handle(&mut self, msg: Hangup, _ctx: &mut Context<Self>) {
        if let Some(link) = self.links.get_mut(&msg.conn).filter(|link| link.open && link.process == msg.process) {
            link.open = false;
            if let Some(session) = link.session {
                let server = link.server;
                self.ensemble.detach(session, server);
            }
        }
    }
}

impl Handler<Report> for World {
    type Result = ();

    fn handle(&mut self, msg: Report, ctx: &mut Context<Self>) {
        let crashed = self.processes[msg.process].incarnations[msg.incarnation].crashed;
        if !crashed {
            self.on_report(msg, ctx);
        }
        self.check(ctx);
    }
}
