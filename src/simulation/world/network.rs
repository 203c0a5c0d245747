//! The network between the processes and the servers: FIFO connections with seeded delays,
//! partitions that hold packets until they heal, connections closed on either side; and what a
//! server does with each packet that reaches it.

use std::time::Duration;

use actix::prelude::*;
use rand::Rng;
use tokio::time::Instant;

use super::{Link, World};
use crate::port::{Answer, Request};
use crate::simulation::ensemble::Notification;
use crate::simulation::wire::{Closed, ConnId, Deliver, Down, ProcessId, Transmit, Up};
use crate::simulation::LEADER_PATH;
use crate::zk::ZkError;

impl World {
    pub(super) fn on_transmit(&mut self, msg: Transmit, ctx: &mut Context<Self>) {
        let Transmit { process, conn, up } = msg;
        if let (Up::Connect { .. }, false) = (&up, self.links.contains_key(&conn)) {
            let serving: Vec<usize> =
                (0..self.config.servers).filter(|s| self.ensemble.servers[*s].up && self.ensemble.quorum).collect();
            if serving.is_empty() {
                let delay = self.delay();
                if let Some(client) = self.client_of(process, conn) {
                    ctx.run_later(delay, move |_, _| client.do_send(Closed { conn }));
                }
                return;
            }
            let server = serving[self.rng.gen_range(0..serving.len())];
            let now = Instant::now();
            self.links.insert(conn, Link { process, server, session: None, open: true, up_free: now, down_free: now });
        }
        self.send_up(conn, up, ctx);
    }

    /// Sends `up` on `conn`, after its packets already under way. A partition holds packets
    /// until it heals (TCP retransmits them), unless the connection is closed meanwhile.
    pub(super) fn send_up(&mut self, conn: ConnId, up: Up, ctx: &mut Context<Self>) {
        let delay = self.delay();
        let Some(link) = self.links.get_mut(&conn).filter(|link| link.open) else { return };
        let process = link.process;
        let earliest = self.processes[process].partitioned_until.unwrap_or(Instant::now()).max(Instant::now()) + delay;
        let Some(link) = self.links.get_mut(&conn) else { return };
        let at = link.up_free.max(earliest);
        link.up_free = at + Duration::from_nanos(1);
        ctx.run_later(at - Instant::now(), move |world, ctx| {
            if world.partitioned(process) {
                world.send_up(conn, up, ctx);
            } else {
                world.arrive(conn, up, ctx);
            }
            world.check(ctx);
        });
    }

    /// Sends `down` on `conn`, after its packets already under way (held by a partition like
    /// `send_up`). A notification that a closed connection cannot carry is told at the
    /// session's next connection.
    pub(super) fn send_down(&mut self, conn: ConnId, down: Down, ctx: &mut Context<Self>) {
        let delay = self.delay();
        let Some(link) = self.links.get(&conn) else { return };
        let process = link.process;
        if !link.open {
            return self.missed(conn, down);
        }
        let earliest = self.processes[process].partitioned_until.unwrap_or(Instant::now()).max(Instant::now()) + delay;
        let Some(link) = self.links.get_mut(&conn) else { return };
        let at = link.down_free.max(earliest);
        link.down_free = at + Duration::from_nanos(1);
        ctx.run_later(at - Instant::now(), move |world, ctx| {
            let open = world.links.get(&conn).is_some_and(|link| link.open);
            match (open, world.partitioned(process), world.client_of(process, conn)) {
                (false, _, _) => world.missed(conn, down),
                (true, true, _) => world.send_down(conn, down, ctx),
                (true, false, Some(client)) => client.do_send(Deliver { conn, down }),
                (true, false, None) => {}
            }
            world.check(ctx);
        });
    }

    /// A notification for a closed connection: the session hears it at its next one.
    pub(super) fn missed(&mut self, conn: ConnId, down: Down) {
        let (Some(session), Down::Notify { watch, path, event }) =
            (self.links.get(&conn).and_then(|link| link.session), down)
        else {
            return;
        };
        self.ensemble.miss(session, watch, path, event);
    }

    /// The server side closes `conn` (its client hears of it at once).
    pub(super) fn close(&mut self, conn: ConnId, ctx: &mut Context<Self>) {
        let Some(link) = self.links.get_mut(&conn).filter(|link| link.open) else { return };
        link.open = false;
        let (process, server, session) = (link.process, link.server, link.session);
        if let Some(session) = session {
            self.ensemble.detach(session, server);
        }
        let delay = self.delay();
        if let Some(client) = self.client_of(process, conn) {
            ctx.run_later(delay, move |_, _| client.do_send(Closed { conn }));
        }
    }

    /// Tells each notification's session, on its connection.
    pub(super) fn notify(&mut self, told: Vec<Notification>, ctx: &mut Context<Self>) {
        for Notification { session, watch, path, event } in told {
            let conn =
                self.links.iter().find(|(_, link)| link.open && link.session == Some(session)).map(|(conn, _)| *conn);
            if let Some(conn) = conn {
                self.note(format!("watch {watch} of {session:#x} fires: {event:?} {path}"));
                self.send_down(conn, Down::Notify { watch, path, event }, ctx);
            }
        }
    }

    /// A packet reaches its server.
    pub(super) fn arrive(&mut self, conn: ConnId, up: Up, ctx: &mut Context<Self>) {
        let Some(link) = self.links.get(&conn).filter(|link| link.open) else { return };
        let (process, server) = (link.process, link.server);
        if self.partitioned(process) || !self.ensemble.servers[server].up || !self.ensemble.quorum {
            return;
        }
        let now = Instant::now();
        match up {
            Up::Connect { session, timeout } => self.connect(conn, process, server, session, timeout, ctx),
            Up::Ping { id } => {
                if let Some(session) = link.session {
                    self.ensemble.touch(session, now);
                }
                self.send_down(conn, Down::Pong { id }, ctx);
            }
            Up::Close => {
                if let Some(session) = link.session {
                    self.note(format!("p{process} closes session {session:#x}"));
                    let told = self.ensemble.close_session(session, now, self.start);
                    self.notify(told, ctx);
                    self.followers_catch_up(self.ensemble.log_len(), ctx);
                }
                self.close(conn, ctx);
            }
            Up::Request { xid, request, watch } => {
                let Some(session) = link.session.filter(|session| self.ensemble.alive(*session)) else {
                    return self.close(conn, ctx);
                };
                self.ensemble.touch(session, now);
                let asked = describe(&request);
                if std::mem::take(&mut self.processes[process].session_moved) {
                    return self.refuse_moved(conn, process, server, session, xid, request, watch, ctx);
                }
                let result = self.serve(server, session, &request, watch, ctx);
                self.note(format!(
                    "p{process} s{server} {asked}{} → {}",
                    if watch.is_some() { " (watch)" } else { "" },
                    outcome(&result)
                ));
                if std::mem::take(&mut self.processes[process].lose_next_answer) {
                    self.note(format!("p{process}: request {xid} applied, its answer lost"));
                    return self.close(conn, ctx);
                }
                self.send_down(conn, Down::Answer { xid, result }, ctx);
            }
        }
    }

    /// Answers `SessionMoved` (having applied the request or not, as the seed decides), and
    /// closes the connection once the answer had time to arrive.
    #[allow(clippy::too_many_arguments)]
    fn refuse_moved(
        &mut self,
        conn: ConnId,
        process: ProcessId,
        server: usize,
        session: i64,
        xid: u64,
        request: Request,
        watch: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        let applied = self.rng.gen_bool(0.5);
        if applied {
            // Whatever it did, the client hears only that the session moved.
            let _ = self.serve(server, session, &request, watch, ctx);
        }
        let asked = describe(&request);
        self.note(format!("p{process} s{server} {asked} → session moved (applied: {applied})"));
        self.send_down(conn, Down::Answer { xid, result: Err(ZkError::SessionMoved) }, ctx);
        ctx.run_later(Duration::from_millis(400), move |world, ctx| world.close(conn, ctx));
    }

    pub(super) fn connect(
        &mut self,
        conn: ConnId,
        process: ProcessId,
        server: usize,
        session: Option<i64>,
        timeout: Duration,
        ctx: &mut Context<Self>,
    ) {
        let now = Instant::now();
        let silently_new = session.is_some() && std::mem::take(&mut self.processes[process].silent_new_session);
        let attached = match session {
            Some(id) if !silently_new => match self.ensemble.attach(id, server, now) {
                Some(missed) => Some((id, self.ensemble.sessions[&id].timeout, missed)),
                None => {
                    self.note(format!("p{process}: session {id:#x} is expired"));
                    self.send_down(conn, Down::Expired, ctx);
                    return self.close(conn, ctx);
                }
            },
            _ => None,
        };
        let (id, negotiated, missed) = match attached {
            Some(attached) => attached,
            None => {
                let (id, negotiated) = self.ensemble.open_session(server, timeout, now);
                (id, negotiated, Vec::new())
            }
        };
        // A server serves a session only once it has seen everything the client may have seen.
        let index = self.ensemble.log_len();
        let told = self.ensemble.catch_up(server, index);
        if let Some(link) = self.links.get_mut(&conn) {
            link.session = Some(id);
        }
        self.note(format!(
            "p{process} connected to s{server}: session {id:#x}{}",
            if silently_new { " (silently new)" } else { "" }
        ));
        self.send_down(conn, Down::Connected { session: id, timeout: negotiated }, ctx);
        self.notify(missed, ctx);
        self.notify(told, ctx);
    }

    /// Serves a request of `session` on `server`.
    pub(super) fn serve(
        &mut self,
        server: usize,
        session: i64,
        request: &Request,
        watch: Option<u64>,
        ctx: &mut Context<Self>,
    ) -> Result<Answer, ZkError> {
        let now = Instant::now();
        match request {
            Request::Exists(_) | Request::GetData(_) | Request::GetChildren(_) => {
                self.ensemble.read(server, session, request, watch)
            }
            Request::Sync(_) => {
                let told = self.ensemble.catch_up(server, self.ensemble.log_len());
                self.notify(told, ctx);
                Ok(Answer::Synced)
            }
            Request::Subscribe(_) => Err(ZkError::Unexpected("a subscription on the wire".into())),
            // The model is a 3.5 server: one-shot watches only.
            Request::AddWatch(_) => Err(ZkError::Unimplemented),
            _ => {
                let leader_owner = self.ensemble.committed().get(LEADER_PATH).map(|node| node.stat.ephemeral_owner);
                let latch_holder = self.latch_holder();
                let (index, answer, told) = self.ensemble.write(session, request, now, self.start)?;
                self.judge_leader_write(session, request, leader_owner, latch_holder);
                self.notify(told, ctx);
                // The answering server applies the log up to the write before it answers.
                let told = self.ensemble.catch_up(server, index);
                self.notify(told, ctx);
                self.followers_catch_up(index, ctx);
                Ok(answer)
            }
        }
    }

    /// Every follower applies the log up to `index` a little later (a slow one much later).
    pub(super) fn followers_catch_up(&mut self, index: usize, ctx: &mut Context<Self>) {
        for server in 1..self.config.servers {
            let lag = match self.lagging.get(&server) {
                Some((lag, until)) if Instant::now() < *until => *lag,
                _ => Duration::from_micros(self.rng.gen_range(100..=3000)),
            };
            ctx.run_later(lag, move |world, ctx| {
                if world.ensemble.servers[server].up {
                    let told = world.ensemble.catch_up(server, index);
                    world.notify(told, ctx);
                }
                world.check(ctx);
            });
        }
    }
}

/// A request, in a few words, for the log.
fn describe(request: &Request) -> String {
    match request {
        Request::Create(create) => format!("create {}", create.path),
        Request::Delete(delete) => format!("delete {}", delete.path),
        Request::Exists(exists) => format!("exists {}", exists.path),
        Request::GetData(get) => format!("get {}", get.path),
        Request::GetChildren(list) => format!("list {}", list.path),
        Request::SetData(set) => format!("set {}", set.path),
        Request::Multi(multi) => {
            format!("multi guard {} {:?}", multi.guard, multi.ops.iter().map(op_name).collect::<Vec<_>>())
        }
        Request::Sync(_) => "sync".to_owned(),
        Request::AddWatch(add) => format!("add_watch {}", add.path),
        Request::Subscribe(_) => "subscribe".to_owned(),
    }
}

fn op_name(op: &crate::zk::WriteOp) -> String {
    match op {
        crate::zk::WriteOp::Create { path, .. } => format!("create {path}"),
        crate::zk::WriteOp::SetData { path, .. } => format!("set {path}"),
        crate::zk::WriteOp::Delete { path, .. } => format!("delete {path}"),
        crate::zk::WriteOp::Check { path, .. } => format!("check {path}"),
    }
}

/// An answer, in a few words, for the log.
fn outcome(result: &Result<Answer, ZkError>) -> String {
    match result {
        Ok(Answer::Created(created)) => format!("created {} (czxid {})", created.path, created.stat.czxid),
        Ok(Answer::Children(children)) => format!("{} children", children.len()),
        Ok(Answer::Stat(stat)) => {
            if stat.is_some() {
                "exists".into()
            } else {
                "absent".into()
            }
        }
        Ok(Answer::Data(data, _)) => format!("{} bytes", data.len()),
        Ok(_) => "ok".into(),
        Err(err) => format!("{err:?}"),
    }
}
