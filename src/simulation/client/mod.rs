//! The simulated session: what `ZkSession` and the ZooKeeper client are to an election, as one
//! actor that handles the seam's `Call` over the simulated network.
//!
//! It keeps the real session's promises (`src/session/`): Curator's connection states in the
//! same order, a lease counted from evidence that the server heard us and ending before the
//! server can expire the session, `Lost` declared no later than that, watches told as
//! `WatchFired` (and `SessionEnded` when the session goes), a deadline on every request, and a
//! session whose ID changed across a reconnect treated as lost. Its timing is its own: one tick
//! drives pings, silence detection, reconnects, deadlines and the lease.

use std::collections::BTreeMap;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::wire::{Closed, ConnId, Deliver, Freeze, Hangup, ProcessId, Shutdown, Transmit, Up};
use crate::port::{
    Answer, Call, ConnectionStateChanged, Lease, LeaseChanged, Reply, Request, SessionFailed, SessionStatus,
    Subscription, WatchFired,
};
use crate::zk::{ConnectionState, NodeAcl, WatchEvent, ZkError};

mod connection;

/// A session as the client holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Session {
    id: i64,
    timeout: Duration,
}

#[derive(Debug)]
enum Phase {
    /// No session: opening one over `conn` (`None` between attempts).
    Opening {
        conn: Option<(ConnId, Instant)>,
        after_loss: bool,
    },
    /// A session with its connection up; `vouched`: the lease holds (else announced as
    /// suspended).
    Connected {
        session: Session,
        conn: ConnId,
        last_received: Instant,
        last_sent: Instant,
        vouched: bool,
    },
    /// A session without a connection, reconnecting over `conn` until `lost_at`.
    Suspended {
        session: Session,
        conn: Option<(ConnId, Instant)>,
        lost_at: Instant,
    },
    Stopped,
}

/// A request waiting for its answer.
#[derive(Debug)]
struct Pending {
    reply: oneshot::Sender<Result<Reply, ZkError>>,
    sent: Instant,
    conn: ConnId,
    watch: Option<u64>,
}

/// What arrived while the process was frozen, in order.
#[derive(Debug)]
enum Held {
    Deliver(Deliver),
    Closed(Closed),
    Call(Call, oneshot::Sender<Result<Reply, ZkError>>),
}

/// The simulated session of one process.
pub(crate) struct SimSession {
    process: ProcessId,
    /// Which incarnation of the process this is: part of every connection's number.
    incarnation: usize,
    /// Where its packets go, and where it tells of a connection it gave up: the world.
    world: Recipient<Transmit>,
    hangups: Recipient<Hangup>,
    asked_timeout: Duration,
    request_timeout: Duration,
    /// Off for the scenario that shows what trusting a changed session ID costs.
    detect_new_session_ids: bool,
    phase: Phase,
    lease: Lease,
    connection: Vec<Recipient<ConnectionStateChanged>>,
    lease_subscribers: Vec<Recipient<LeaseChanged>>,
    failures: Vec<Recipient<SessionFailed>>,
    last_state: Option<ConnectionState>,
    lease_held: bool,
    pending: BTreeMap<u64, Pending>,
    /// Pings in flight: when each was sent (its pong is evidence from then).
    pings: BTreeMap<u64, Instant>,
    watches: BTreeMap<u64, (String, Recipient<WatchFired>)>,
    generation: u64,
    next_xid: u64,
    next_watch: u64,
    next_conn: u64,
    /// Frozen (a process pause): everything that arrives waits here.
    frozen: Option<Vec<Held>>,
    /// Connection attempts that failed in a row, for the pause between them.
    attempts: u32,
}

impl std::fmt::Debug for SimSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimSession").field("process", &self.process).field("phase", &self.phase).finish_non_exhaustive()
    }
}

/// How often the session looks at its timers.
const TICK: Duration = Duration::from_millis(20);

impl SimSession {
    pub fn new(
        process: ProcessId,
        incarnation: usize,
        world: Recipient<Transmit>,
        hangups: Recipient<Hangup>,
        timeout: Duration,
        detect_new_session_ids: bool,
    ) -> SimSession {
        SimSession {
            process,
            incarnation,
            world,
            hangups,
            asked_timeout: timeout,
            request_timeout: Duration::from_secs(5),
            detect_new_session_ids,
            phase: Phase::Opening { conn: None, after_loss: false },
            lease: Lease::new(),
            connection: Vec::new(),
            lease_subscribers: Vec::new(),
            failures: Vec::new(),
            last_state: None,
            lease_held: false,
            pending: BTreeMap::new(),
            pings: BTreeMap::new(),
            watches: BTreeMap::new(),
            generation: 1,
            next_xid: 0,
            next_watch: 0,
            next_conn: 0,
            frozen: None,
            attempts: 0,
        }
    }

    /// The lease, shared with the world's checker.
    pub fn lease(&self) -> Lease {
        self.lease.clone()
    }

    fn session(&self) -> Option<Session> {
        match &self.phase {
            Phase::Connected { session, .. } | Phase::Suspended { session, .. } => Some(*session),
            _ => None,
        }
    }

    fn status(&self) -> SessionStatus {
        SessionStatus {
            state: self.last_state,
            zk_session: self.session().map(|s| s.id),
            negotiated_timeout: self.session().map(|s| s.timeout),
            generation: self.generation,
            authenticated: false,
            default_acl: NodeAcl::Open,
            lease: self.lease.clone(),
        }
    }

    fn announce(&mut self, state: ConnectionState) {
        self.last_state = Some(state);
        let event = ConnectionStateChanged {
            state,
            zk_session: self.session().map(|s| s.id),
            generation: self.generation,
            read_only: false,
        };
        self.connection.retain(|s| s.connected());
        for subscriber in &self.connection {
            subscriber.do_send(event.clone());
        }
    }

    fn tell_lease(&mut self) {
        let holds = self.lease.holds();
        if holds != self.lease_held {
            self.lease_held = holds;
            self.lease_subscribers.retain(|s| s.connected());
            for subscriber in &self.lease_subscribers {
                subscriber.do_send(LeaseChanged { holds, generation: self.generation });
            }
        }
    }

    /// The server heard a packet sent at `sent` (its answer came back).
    fn evidence(&mut self, sent: Instant, session: Session) {
        self.lease.extend_to(sent + session.timeout - session.timeout / 8);
    }

    fn transmit(&mut self, conn: ConnId, up: Up) {
        self.world.do_send(Transmit { process: self.process, conn, up });
        if let Phase::Connected { last_sent, conn: current, .. } = &mut self.phase {
            if *current == conn {
                *last_sent = Instant::now();
            }
        }
    }

    fn new_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        super::wire::conn_id(self.process, self.incarnation, self.next_conn)
    }

    /// Starts a connection attempt, for a new session or to take `resume` up again.
    fn attempt(&mut self, resume: Option<Session>) -> (ConnId, Instant) {
        // An attempt given up is a socket closed: nothing of it may reach a server later.
        if let Phase::Opening { conn: Some((abandoned, _)), .. } | Phase::Suspended { conn: Some((abandoned, _)), .. } =
            self.phase
        {
            self.hangups.do_send(Hangup { process: self.process, conn: abandoned });
        }
        let conn = self.new_conn();
        let timeout = resume.map_or(self.asked_timeout, |s| s.timeout);
        self.world.do_send(Transmit {
            process: self.process,
            conn,
            up: Up::Connect { session: resume.map(|s| s.id), timeout },
        });
        (conn, Instant::now())
    }

    /// Fails every request of `conn` (the connection went; their outcome is unknown).
    fn fail_pending(&mut self, conn: ConnId, error: ZkError) {
        self.pings.clear();
        let gone: Vec<u64> = self.pending.iter().filter(|(_, p)| p.conn == conn).map(|(xid, _)| *xid).collect();
        for xid in gone {
            if let Some(pending) = self.pending.remove(&xid) {
                if let Some(watch) = pending.watch {
                    self.watches.remove(&watch);
                }
                let _ = pending.reply.send(Err(error.clone()));
            }
        }
    }

    /// The session is gone: its watches end, and a new one is opened.
    fn lose(&mut self) {
        if let Phase::Connected { conn, .. } = self.phase {
            self.hangups.do_send(Hangup { process: self.process, conn });
            self.fail_pending(conn, ZkError::ConnectionLoss);
        }
        for (_, (path, recipient)) in std::mem::take(&mut self.watches) {
            recipient.do_send(WatchFired { path, event: WatchEvent::SessionEnded, generation: self.generation });
        }
        self.lease.end();
        self.tell_lease();
        self.phase = Phase::Opening { conn: None, after_loss: true };
        self.announce(ConnectionState::Lost);
        self.generation += 1;
    }

    /// The connection of a live session went: reconnect until the session is lost.
    fn suspend(&mut self, session: Session, conn: ConnId, was_vouched: bool) {
        self.hangups.do_send(Hangup { process: self.process, conn });
        self.fail_pending(conn, ZkError::ConnectionLoss);
        // No later than the server can expire it: it heard us no earlier than our last evidence.
        let lost_at = self.lease.until().map_or(Instant::now(), |until| until + session.timeout / 8);
        self.phase = Phase::Suspended { session, conn: None, lost_at };
        if was_vouched {
            self.announce(ConnectionState::Suspended);
        }
    }

    fn on_call(&mut self, call: Call, reply: oneshot::Sender<Result<Reply, ZkError>>) {
        let Call { request, watch } = call;
        if let Request::Subscribe(Subscription { connection, lease, failures }) = request {
            self.connection.push(connection);
            self.lease_subscribers.extend(lease);
            self.failures.extend(failures);
            let _ = reply.send(Ok(Reply(Answer::Subscribed(self.status()))));
            return;
        }
        let (conn, session) = match &self.phase {
            Phase::Connected { conn, session, .. } => (*conn, *session),
            Phase::Suspended { .. } => return drop(reply.send(Err(ZkError::ConnectionLoss))),
            _ => return drop(reply.send(Err(ZkError::NotConnected))),
        };
        let _ = session;
        self.next_xid += 1;
        let xid = self.next_xid;
        let watch = watch.map(|recipient| {
            self.next_watch += 1;
            let path = match &request {
                Request::Exists(r) => r.path.clone(),
                Request::GetData(r) => r.path.clone(),
                Request::GetChildren(r) => r.path.clone(),
                _ => String::new(),
            };
            self.watches.insert(self.next_watch, (path, recipient));
            self.next_watch
        });
        self.pending.insert(xid, Pending { reply, sent: Instant::now(), conn, watch });
        self.transmit(conn, Up::Request { xid, request, watch });
    }
}

impl Actor for SimSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(TICK, |act, _ctx| {
            if act.frozen.is_none() {
                act.on_tick();
            }
        });
    }
}

impl Handler<Call> for SimSession {
    type Result = ResponseFuture<Result<Reply, ZkError>>;

    fn handle(&mut self, call: Call, _ctx: &mut Context<Self>) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        match &mut self.frozen {
            Some(held) => held.push(Held::Call(call, reply)),
            None if matches!(self.phase, Phase::Stopped) => {
                let _ = reply.send(Err(ZkError::SessionStopped));
            }
            None => self.on_call(call, reply),
        }
        Box::pin(async move { answer.await.unwrap_or(Err(ZkError::SessionStopped)) })
    }
}

impl Handler<Deliver> for SimSession {
    type Result = ();

    fn handle(&mut self, msg: Deliver, _ctx: &mut Context<Self>) {
        match &mut self.frozen {
            Some(held) => held.push(Held::Deliver(msg)),
            None => self.on_down(msg.conn, msg.down),
        }
    }
}

impl Handler<Closed> for SimSession {
    type Result = ();

    fn handle(&mut self, msg: Closed, _ctx: &mut Context<Self>) {
        match &mut self.frozen {
            Some(held) => held.push(Held::Closed(msg)),
            None => self.on_closed(msg.conn),
        }
    }
}

impl Handler<Freeze> for SimSession {
    type Result = ();

    fn handle(&mut self, msg: Freeze, _ctx: &mut Context<Self>) {
        match (msg.0, self.frozen.take()) {
            (true, held) => self.frozen = Some(held.unwrap_or_default()),
            (false, Some(held)) => {
                // The first thing a resumed process does is look at the time: a lease that
                // lapsed during the pause is announced before what arrived meanwhile renews it
                // (the real session's lease tick does the same), so that everyone hears of it.
                self.unvouch_if_lapsed();
                for item in held {
                    match item {
                        Held::Deliver(deliver) => self.on_down(deliver.conn, deliver.down),
                        Held::Closed(closed) => self.on_closed(closed.conn),
                        Held::Call(call, reply) => self.on_call(call, reply),
                    }
                }
                self.on_tick();
            }
            (false, None) => {}
        }
    }
}

impl Handler<Shutdown> for SimSession {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Context<Self>) {
        if let Phase::Connected { conn, .. } = self.phase {
            self.transmit(conn, Up::Close);
        }
        self.phase = Phase::Stopped;
        self.lease.end();
        self.connection.clear();
        self.lease_subscribers.clear();
        ctx.stop();
    }
}
