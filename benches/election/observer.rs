//! The observer: watches one leader node from a session of its own, as a retrieval service in
//! another process would, and dates every change it sees.

use std::time::{Duration, Instant};
use zk_election::testkit::{Operator, Watched};

use actix::prelude::*;
use tokio::sync::mpsc;
use zk_election::port::WatchFired;
use zk_election::zk::{Exists, GetData, WatchEvent};
use zk_election::{LeaderInfoCodec, ZkError, ZkSession};

use crate::setup::EVENT_DEADLINE;

/// What an [`Observer`] saw at its leader path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Absent,
    Leader(String),
    Undecodable,
}

/// A change of the leader node and when the observer learnt it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) at: Instant,
    pub(crate) node: Node,
}

/// Watches one leader node from its own session, like a retrieval service in another process
/// would, and reports every read into a channel.
pub(crate) struct Observer {
    session: Addr<ZkSession>,
    path: String,
    seen: mpsc::UnboundedSender<Seen>,
    /// A read is under way; watches that fire meanwhile only ask for one more read.
    reading: bool,
    again: bool,
    /// When a created/data-changed watch fired that no read has reported yet: the moment the
    /// new content was published, as far as this session can tell.
    changed_at: Option<Instant>,
}

impl Observer {
    pub(crate) fn start(session: &Addr<ZkSession>, path: &str) -> (Addr<Observer>, mpsc::UnboundedReceiver<Seen>) {
        let (seen, receiver) = mpsc::unbounded_channel();
        let observer = Observer {
            session: session.clone(),
            path: path.to_owned(),
            seen,
            reading: false,
            again: false,
            changed_at: None,
        }
        .start();
        (observer, receiver)
    }

    fn read(&mut self, ctx: &mut Context<Self>) {
        self.reading = true;
        let session = Operator::start(&self.session);
        let path = self.path.clone();
        let me = ctx.address().recipient::<WatchFired>();
        let fetch = async move {
            loop {
                match session.send(Watched::new(GetData { path: path.clone() }, me.clone())).await {
                    Ok(Ok((data, _))) => {
                        return Ok(match LeaderInfoCodec::Bincode.decode(&data) {
                            Ok(info) => Node::Leader(info.address),
                            Err(_) => Node::Undecodable,
                        })
                    }
                    Ok(Err(ZkError::NoNode)) => {}
                    Ok(Err(err)) => return Err(err.to_string()),
                    Err(err) => return Err(err.to_string()),
                }
                match session.send(Watched::new(Exists { path: path.clone() }, me.clone())).await {
                    Ok(Ok(None)) => return Ok(Node::Absent),
                    Ok(Ok(Some(_))) => {} // created in between: read it
                    Ok(Err(err)) => return Err(err.to_string()),
                    Err(err) => return Err(err.to_string()),
                }
            }
        };
        ctx.spawn(fetch.into_actor(self).map(|result, act, ctx| {
            let done = Instant::now();
            act.reading = false;
            match result {
                Ok(Node::Absent) => {
                    if !act.again {
                        act.changed_at = None;
                    }
                    let _ = act.seen.send(Seen { at: done, node: Node::Absent });
                }
                Ok(node) => {
                    let at = act.changed_at.take().unwrap_or(done);
                    let _ = act.seen.send(Seen { at, node });
                }
                Err(err) => eprintln!("observer of {}: read failed: {err}", act.path),
            }
            if std::mem::take(&mut act.again) {
                act.read(ctx);
            }
        }));
    }
}

impl Actor for Observer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.read(ctx);
    }
}

impl Handler<WatchFired> for Observer {
    type Result = ();

    fn handle(&mut self, msg: WatchFired, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if msg.path != self.path || msg.event == WatchEvent::SessionEnded {
            return;
        }
        if matches!(msg.event, WatchEvent::Created | WatchEvent::DataChanged) {
            self.changed_at.get_or_insert(now);
        }
        if self.reading {
            self.again = true;
        } else {
            self.read(ctx);
        }
    }
}

/// Waits for a [`Seen`] whose node satisfies `wanted`.
pub(crate) async fn await_node(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    within: Duration,
    what: &str,
    wanted: impl Fn(&Node) -> bool,
) -> Result<Seen, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Some(s)) if wanted(&s.node) => return Ok(s),
            Ok(Some(_)) => {}
            Ok(None) => return Err(format!("observer gone while waiting for {what}")),
            Err(_) => return Err(format!("no {what} within {within:?}")),
        }
    }
}

/// Waits for a leader node whose address satisfies `wanted`; answers the address and when the
/// observer saw it.
pub(crate) async fn await_leader(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    what: &str,
    wanted: impl Fn(&str) -> bool,
) -> Result<(String, Instant), String> {
    let found = await_node(seen, EVENT_DEADLINE, what, |n| matches!(n, Node::Leader(a) if wanted(a))).await?;
    match found.node {
        Node::Leader(address) => Ok((address, found.at)),
        _ => unreachable!(),
    }
}

/// Stops an [`Observer`].
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct StopObserver;

impl Handler<StopObserver> for Observer {
    type Result = ();

    fn handle(&mut self, _msg: StopObserver, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
