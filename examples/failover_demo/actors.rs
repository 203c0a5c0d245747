//! The demo's actors: the contender every cast member runs, and the observer that watches the
//! latch and the leader node straight from ZooKeeper.

use actix::prelude::*;
use zk_election::latch::participants_in_order;
use zk_election::node_cache::{LeaderNodeCache, NodeChanged};
use zk_election::port::WatchFired;
use zk_election::session::SubscribeConnection;
use zk_election::testkit::{Operator, Watched};
use zk_election::zk::{Exists, GetChildren, GetData, WatchEvent};
use zk_election::{Confirm, ConnectionStateChanged, ElectionSupervisor, LeadershipEvent, ZkError, ZkSession};

use crate::events::{Log, What, OBSERVER};
use crate::state::is_up;

/// A contender that confirms every grant at once and reports everything to the timeline.
pub struct DemoContender {
    name: &'static str,
    supervisor: Addr<ElectionSupervisor>,
    log: Log,
}

impl DemoContender {
    /// The contender of cast member `name`, confirming through `supervisor`.
    pub fn new(name: &'static str, supervisor: Addr<ElectionSupervisor>, log: Log) -> DemoContender {
        DemoContender { name, supervisor, log }
    }
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
pub struct Observer {
    session: Addr<ZkSession>,
    latch_path: String,
    log: Log,
    /// Bumped by every queue read; only the newest may report.
    reads: u64,
    queue: Option<Vec<String>>,
}

impl Observer {
    /// Starts the observer on `session`, reporting the latch at `latch` and the leader node at
    /// `leader` to `log`.
    pub fn start(session: Addr<ZkSession>, latch: String, leader: String, log: Log) -> Addr<Observer> {
        Observer::create(move |ctx| {
            // The leader-node cache is the one the supervisor uses; here it only reports.
            LeaderNodeCache::new(session.clone(), leader, ctx.address().recipient()).start();
            Observer { session, latch_path: latch, log, reads: 0, queue: None }
        })
    }

    /// Lists the latch with a watch (or watches for its creation) and reads each participant's
    /// ID, in leadership order.
    fn read_queue(&mut self, ctx: &mut Context<Self>) {
        self.reads += 1;
        let read = self.reads;
        let (session, path, me) = (Operator::start(&self.session), self.latch_path.clone(), ctx.address().recipient());
        let fetch = async move {
            loop {
                match session.send(Watched::new(GetChildren::new(path.clone()), me.clone())).await {
                    Ok(Ok(children)) => {
                        let mut ids = Vec::new();
                        for name in participants_in_order(&children) {
                            let node = GetData::new(format!("{path}/{name}"));
                            // A participant that left meanwhile is simply not listed.
                            if let Ok(Ok((data, _))) = session.send(node).await {
                                ids.push(String::from_utf8_lossy(&data).into_owned());
                            }
                        }
                        return Some(ids);
                    }
                    Ok(Err(ZkError::NoNode)) => {
                        match session.send(Watched::new(Exists::new(path.clone()), me.clone())).await {
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
