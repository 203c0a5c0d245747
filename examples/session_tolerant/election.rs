//! One election per policy: its fault proxy, its session through it, its supervisor and a
//! contender, each reporting to the story; and what the script does to all proxies at once.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::mpsc;
use zk_election::session::SubscribeConnection;
use zk_election::testkit::{FaultProxy, RecordingContender};
use zk_election::{
    ConnectionLossPolicy, ConnectionStateChanged, ElectionConfig, ElectionSupervisor, StopElection, StopSession,
    Subscribe, ZkSession,
};

use crate::story::{Event, What};
use crate::support;

/// Session timeout asked of ZooKeeper (the embedded server grants it).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(2);

/// One election: its proxy, its session through it, its supervisor.
pub struct Election {
    proxy: Arc<FaultProxy>,
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
}

impl Election {
    pub async fn start(
        name: &'static str,
        policy: ConnectionLossPolicy,
        connect: &str,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Result<Election, String> {
        let proxy = Arc::new(FaultProxy::for_connect_string(connect).map_err(|err| err.to_string())?);
        let session = support::start_session(&proxy.connect_string(), SESSION_TIMEOUT, Duration::from_secs(1))
            .map_err(|err| err.to_string())?;
        let watcher = ConnectionWatcher { side: name, events: events.clone() }.start();
        let status = session.send(SubscribeConnection(watcher.recipient())).await.map_err(|err| err.to_string())?;
        if let Some(state) = status.state {
            let _ = events.send(Event::now(name, What::Connection(state, status.zk_session)));
        }
        let election = ElectionConfig::builder(format!("/{name}/latch")).policy(policy).build();
        let supervisor = ElectionSupervisor::start(session.clone(), election.map_err(|err| err.to_string())?);
        let sender = events.clone();
        let contender = RecordingContender::new(supervisor.clone(), move |at, event| {
            let _ = sender.send(Event { at, side: name, what: What::Leadership(event) });
        })
        .start();
        let subscribe =
            Subscribe::new("jobmanager", format!("{name}:6123"), format!("/{name}/leader"), contender.recipient());
        support::subscribe(&supervisor, subscribe, name).await?;
        Ok(Election { proxy, session, supervisor })
    }
}

/// Cuts every proxy's connections (blocking until they are closed, off the actors' thread).
pub async fn cut(elections: &[&Election]) {
    let cuts: Vec<_> = elections
        .iter()
        .map(|election| {
            let proxy = Arc::clone(&election.proxy);
            tokio::task::spawn_blocking(move || proxy.cut())
        })
        .collect();
    for cut in cuts {
        let _ = cut.await;
    }
}

/// Lets every proxy's traffic pass again.
pub fn pass(elections: &[&Election]) {
    for election in elections {
        election.proxy.pass();
    }
}

/// Holds every proxy's traffic, closing no connection: to ZooKeeper the contenders look crashed.
pub fn blackhole(elections: &[&Election]) {
    for election in elections {
        election.proxy.blackhole();
    }
}

/// Stops every election (its latch and leader nodes are deleted), then closes its session.
pub async fn stop(elections: &[&Election]) {
    for election in elections {
        let _ = election.supervisor.send(StopElection).await;
        let _ = election.session.send(StopSession).await;
    }
}

/// Passes a session's connection states on as events.
struct ConnectionWatcher {
    side: &'static str,
    events: mpsc::UnboundedSender<Event>,
}

impl Actor for ConnectionWatcher {
    type Context = Context<Self>;
}

impl Handler<ConnectionStateChanged> for ConnectionWatcher {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, _ctx: &mut Context<Self>) {
        let _ = self.events.send(Event::now(self.side, What::Connection(msg.state, msg.zk_session)));
    }
}
