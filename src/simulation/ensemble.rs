//! The servers of a simulated ensemble: one leader that orders every write into a log, followers
//! that apply the log later than the leader (their reads lag), the sessions the leader keeps
//! (and expires when it has not heard from them for their timeout), and one-shot watches.
//!
//! Everything here is plain state changed by the world's events (`world.rs`); time comes in as
//! an argument, so the model is as deterministic as its caller.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::tree::{Done, Tree, Trigger, Txn, WatchKind, Write};
use crate::port::{Answer, Request};
use crate::zk::{Create, Created, WatchEvent, WriteOp, WriteResult, ZkError};

/// The leader's index among the servers (the model keeps one leader; losing it means losing
/// the quorum).
pub(crate) const LEADER: usize = 0;

/// A watch a session set, by the id its client knows it under.
#[derive(Clone, Debug)]
struct Watch {
    path: String,
    kind: WatchKind,
    id: u64,
}

/// What the leader knows of a session.
#[derive(Debug)]
pub(crate) struct SessionRecord {
    pub timeout: Duration,
    pub last_heard: Instant,
    pub alive: bool,
    /// The server the session's client is connected to, if any.
    pub server: Option<usize>,
    watches: Vec<Watch>,
    /// Watches that fired while the session had no connection: told at the next one.
    pub missed: Vec<(u64, String, WatchEvent)>,
}

/// One server.
#[derive(Debug)]
pub(crate) struct Server {
    pub tree: Tree,
    /// Transactions of the log applied so far.
    pub applied: usize,
    pub up: bool,
}

/// A watch notification for the client of `session`, on its connection.
#[derive(Debug)]
pub(crate) struct Notification {
    pub session: i64,
    pub watch: u64,
    pub path: String,
    pub event: WatchEvent,
}

/// The ensemble.
#[derive(Debug)]
pub(crate) struct Ensemble {
    /// Every committed transaction, with its zxid and the time it was decided.
    log: Vec<(i64, Txn, i64)>,
    pub servers: Vec<Server>,
    pub sessions: BTreeMap<i64, SessionRecord>,
    next_session: i64,
    /// Whether a quorum is up: without one nothing is served and no session expires.
    pub quorum: bool,
    /// The server's tick: negotiated timeouts lie in 2..=20 ticks.
    pub tick: Duration,
    /// When each deleted node (by czxid) was deleted, as the leader committed it.
    pub deleted_at: BTreeMap<i64, Instant>,
}

impl Ensemble {
    pub fn new(servers: usize, tick: Duration) -> Ensemble {
        Ensemble {
            log: Vec::new(),
            servers: (0..servers).map(|_| Server { tree: Tree::default(), applied: 0, up: true }).collect(),
            sessions: BTreeMap::new(),
            next_session: 0x1000,
            quorum: true,
            tick,
            deleted_at: BTreeMap::new(),
        }
    }

    /// The leader's tree: the committed state.
    pub fn committed(&self) -> &Tree {
        &self.servers[LEADER].tree
    }

    /// Transactions committed so far.
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    fn now_ms(now: Instant, start: Instant) -> i64 {
        now.saturating_duration_since(start).as_millis() as i64
    }

    /// Opens a session with `timeout` asked, answering its ID and the negotiated timeout.
    pub fn open_session(&mut self, server: usize, timeout: Duration, now: Instant) -> (i64, Duration) {
        let negotiated = timeout.clamp(self.tick * 2, self.tick * 20);
        self.next_session += 1;
        let id = self.next_session;
        let record = SessionRecord {
            timeout: negotiated,
            last_heard: now,
            alive: true,
            server: Some(server),
            watches: Vec::new(),
            missed: Vec::new(),
        };
        self.sessions.insert(id, record);
        (id, negotiated)
    }

    /// The client of `session` connected to `server`: watches fire there from now on, and those
    /// missed meanwhile are told first. `None` when the session is gone (expired or closed).
    pub fn attach(&mut self, session: i64, server: usize, now: Instant) -> Option<Vec<Notification>> {
        let record = self.sessions.get_mut(&session).filter(|record| record.alive)?;
        record.server = Some(server);
        record.last_heard = record.last_heard.max(now);
        let missed = std::mem::take(&mut record.missed);
        Some(missed.into_iter().map(|(watch, path, event)| Notification { session, watch, path, event }).collect())
    }

    /// The connection of `session`'s client closed; the session lives on until it expires.
    pub fn detach(&mut self, session: i64, server: usize) {
        if let Some(record) = self.sessions.get_mut(&session).filter(|record| record.server == Some(server)) {
            record.server = None;
        }
    }

    /// A notification its connection could not carry: told at the session's next connection.
    pub fn miss(&mut self, session: i64, watch: u64, path: String, event: WatchEvent) {
        if let Some(record) = self.sessions.get_mut(&session).filter(|record| record.alive) {
            record.missed.push((watch, path, event));
        }
    }

    /// Whether `session` is alive on the server.
    pub fn alive(&self, session: i64) -> bool {
        self.sessions.get(&session).is_some_and(|record| record.alive)
    }

    /// A quorum formed again: the new leader counts every session's timeout afresh (ZooKeeper
    /// does the same after an election).
    pub fn regain_quorum(&mut self, now: Instant) {
        self.quorum = true;
        for record in self.sessions.values_mut().filter(|record| record.alive) {
            record.last_heard = now;
        }
    }

    /// A packet of `session` reached a server: the leader has heard from it.
    pub fn touch(&mut self, session: i64, now: Instant) {
        if let Some(record) = self.sessions.get_mut(&session).filter(|record| record.alive) {
            record.last_heard = record.last_heard.max(now);
        }
    }

    /// Sessions whose timeout ran out, now expired (their ephemeral nodes are deleted), and the
    /// notifications that fired.
    pub fn expire_due(&mut self, now: Instant, start: Instant) -> (Vec<i64>, Vec<Notification>) {
        if !self.quorum {
            return (Vec::new(), Vec::new());
        }
        let due: Vec<i64> = self
            .sessions
            .iter()
            .filter(|(_, record)| record.alive && now >= record.last_heard + record.timeout)
            .map(|(id, _)| *id)
            .collect();
        let mut told = Vec::new();
        for id in &due {
            told.extend(self.close_session(*id, now, start));
        }
        (due, told)
    }

    /// Ends `session` (expiry or the client's close): its ephemerals go, its watches with it.
    /// Answers the notifications the deletions fired for others.
    pub fn close_session(&mut self, session: i64, now: Instant, start: Instant) -> Vec<Notification> {
        if let Some(record) = self.sessions.get_mut(&session) {
            record.alive = false;
            record.watches.clear();
            record.server = None;
        }
        self.commit(Txn::CloseSession { session }, now, start).1
    }

    /// Appends `txn` to the log; the leader applies it at once. Answers its index and what the
    /// leader's watches fired.
    fn commit(&mut self, txn: Txn, now: Instant, start: Instant) -> (usize, Vec<Notification>) {
        let zxid = self.servers[LEADER].tree.zxid + 1;
        self.log.push((zxid, txn, Self::now_ms(now, start)));
        let index = self.log.len();
        let told = self.catch_up(LEADER, index);
        for czxid in std::mem::take(&mut self.servers[LEADER].tree.removed) {
            self.deleted_at.insert(czxid, now);
        }
        (index, told)
    }

    /// Applies the log on `server` up to `index`; answers the notifications its watches fire
    /// (and files those of sessions without a connection as missed).
    pub fn catch_up(&mut self, server: usize, index: usize) -> Vec<Notification> {
        let mut told = Vec::new();
        let index = index.min(self.log.len());
        while self.servers[server].applied < index {
            let (zxid, txn, now_ms) = &self.log[self.servers[server].applied];
            let fired = self.servers[server].tree.apply(txn, *zxid, *now_ms);
            self.servers[server].applied += 1;
            self.route(server, fired, &mut told);
        }
        told
    }

    /// Fires the watches `fired` matches: those of sessions connected to `server`, and (on the
    /// leader) those of sessions connected nowhere.
    fn route(&mut self, server: usize, fired: Vec<Trigger>, told: &mut Vec<Notification>) {
        for trigger in fired {
            for (id, record) in self.sessions.iter_mut() {
                let here = record.server == Some(server) || (record.server.is_none() && server == LEADER);
                if !record.alive || !here {
                    continue;
                }
                let (hit, kept): (Vec<Watch>, Vec<Watch>) = std::mem::take(&mut record.watches)
                    .into_iter()
                    .partition(|watch| watch.path == trigger.path && watch.kind == trigger.kind);
                record.watches = kept;
                for watch in hit {
                    if record.server.is_some() {
                        told.push(Notification {
                            session: *id,
                            watch: watch.id,
                            path: trigger.path.clone(),
                            event: trigger.event,
                        });
                    } else {
                        record.missed.push((watch.id, trigger.path.clone(), trigger.event));
                    }
                }
            }
        }
    }

    /// Serves a read of `session` on `server`, setting watch `watch` if given.
    pub fn read(
        &mut self,
        server: usize,
        session: i64,
        request: &Request,
        watch: Option<u64>,
    ) -> Result<Answer, ZkError> {
        let tree = &self.servers[server].tree;
        let (answer, set) = match request {
            Request::Exists(exists) => {
                let stat = tree.get(&exists.path).map(|node| node.stat);
                (Answer::Stat(stat), Some((exists.path.clone(), WatchKind::Data)))
            }
            Request::GetData(get) => {
                let (data, stat) = tree.data(&get.path)?;
                (Answer::Data(data, stat), Some((get.path.clone(), WatchKind::Data)))
            }
            Request::GetChildren(list) => {
                let children = tree.children(&list.path)?;
                (Answer::Children(children), Some((list.path.clone(), WatchKind::Children)))
            }
            _ => return Err(ZkError::Unexpected("not a read".into())),
        };
        if let (Some(id), Some((path, kind)), Some(record)) = (watch, set, self.sessions.get_mut(&session)) {
            record.watches.push(Watch { path, kind, id });
        }
        Ok(answer)
    }

    /// Decides and commits a write of `session`. Answers the log index the answer must wait
    /// for (the answering server applies the log that far first), the answer, and what the
    /// leader's watches fired.
    pub fn write(
        &mut self,
        session: i64,
        request: &Request,
        now: Instant,
        start: Instant,
    ) -> Result<(usize, Answer, Vec<Notification>), ZkError> {
        let now_ms = Self::now_ms(now, start);
        let mut told = Vec::new();
        let write = match request {
            Request::Create(create) => {
                // Missing parents first, each a transaction of its own, as the session does.
                for (path, mode) in self.committed().missing_ancestors(&create.path, create.parents) {
                    let parent = Create::new(path, Vec::new(), mode).acl(create.acl.clone());
                    match self.prepare(session, &Write::One(create_op(&parent)), now_ms) {
                        Ok((txn, _)) => told.extend(self.commit(txn, now, start).1),
                        Err(ZkError::NodeExists) => {}
                        Err(err) => return Err(err),
                    }
                }
                Write::One(create_op(create))
            }
            _ => write_of(request).ok_or_else(|| ZkError::Unexpected("not a write".into()))?,
        };
        let (txn, done) = self.prepare(session, &write, now_ms)?;
        let (index, fired) = self.commit(txn, now, start);
        told.extend(fired);
        let answer = match (request, done) {
            (Request::Create(_), Done::One(WriteResult::Created { path, stat })) => {
                Answer::Created(Created { path, stat: stat.unwrap_or_default() })
            }
            (Request::Delete(_), _) => Answer::Deleted,
            (Request::SetData(_), Done::One(WriteResult::Updated { stat })) => Answer::Updated(stat),
            (Request::Multi(_), Done::Multi(results)) => Answer::Wrote(results),
            _ => return Err(ZkError::Unexpected("a write answered otherwise".into())),
        };
        Ok((index, answer, told))
    }

    /// An operator's transaction (delete a node, replace its data or ACL), checked like any
    /// write but with every right; answers what it fired, or why it did not apply.
    pub fn operate(&mut self, txn: Txn, now: Instant, start: Instant) -> Vec<Notification> {
        self.commit(txn, now, start).1
    }

    fn prepare(&self, session: i64, write: &Write, now_ms: i64) -> Result<(Txn, Done), ZkError> {
        let zxid = self.servers[LEADER].tree.zxid + 1;
        self.committed().prepare(write, session, zxid, now_ms)
    }
}

/// The write `request` asks for (a create's missing parents aside), if it is one.
pub(crate) fn write_of(request: &Request) -> Option<Write> {
    let write = match request {
        Request::Create(create) => Write::One(create_op(create)),
        Request::Delete(delete) => Write::One(WriteOp::Delete { path: delete.path.clone(), version: delete.version }),
        Request::SetData(set) => {
            Write::One(WriteOp::SetData { path: set.path.clone(), data: set.data.clone(), version: set.version })
        }
        Request::Multi(multi) => Write::Multi(multi.clone()),
        _ => return None,
    };
    Some(write)
}

fn create_op(create: &Create) -> WriteOp {
    WriteOp::Create { path: create.path.clone(), data: create.data.clone(), mode: create.mode, acl: create.acl.clone() }
}
