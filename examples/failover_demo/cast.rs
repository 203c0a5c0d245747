//! The cast: who contends, and how one contender process starts (its own session through its
//! own proxy, its supervisor, its contender actor) and stops.

use std::time::Duration;

use actix::prelude::*;
use zk_election::session::SubscribeConnection;
use zk_election::testkit::FaultProxy;
use zk_election::{
    ConnectionStateChanged, ElectionConfig, ElectionSupervisor, StopElection, StopSession, Subscribe, ZkSession,
};

use crate::actors::DemoContender;
use crate::events::{Log, What};
use crate::{support, Paths, STEP_DEADLINE};

/// The contenders, in the order they join (and so, the order they lead in).
pub const CAST: [(&str, &str); 3] =
    [("alpha", "alpha.example:6123"), ("bravo", "bravo.example:6123"), ("charlie", "charlie.example:6123")];
/// The component name every contender subscribes under.
const COMPONENT: &str = "jobmanager";
/// Session timeout asked of ZooKeeper: short, so the partition step is quick.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(2);
/// Deadline of every ZooKeeper request; bounds what a partitioned contender waits for.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The address `name` publishes while it leads.
pub fn address_of(name: &str) -> &'static str {
    CAST.iter().find(|(n, _)| *n == name).map_or("?", |(_, address)| address)
}

/// Who publishes `address`; the address itself for a stranger.
pub fn name_of(address: &str) -> &str {
    CAST.iter().find(|(_, a)| *a == address).map_or(address, |(name, _)| name)
}

/// A session to `connect` with the demo's timeouts.
pub fn start_session(connect: &str) -> Result<Addr<ZkSession>, String> {
    support::start_session(connect, SESSION_TIMEOUT, REQUEST_TIMEOUT)
        .map_err(|err| format!("invalid connect string {connect:?}: {err}"))
}

/// One contender of the demo: its session (through its own proxy) and its supervisor.
pub struct Member {
    pub name: &'static str,
    pub session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
    /// Set once it has been stopped, so it is stopped only once.
    pub stopped: bool,
}

impl Member {
    /// Starts a contender: its session through `proxy`, its supervisor, its contender actor.
    pub async fn join(
        name: &'static str,
        address: &'static str,
        proxy: &FaultProxy,
        connect: &str,
        paths: &Paths,
        log: &Log,
    ) -> Result<Member, String> {
        // The proxy forwards to the servers; a chroot stays with the client.
        let chroot = connect.find('/').map_or("", |i| &connect[i..]);
        let session = start_session(&format!("{}{chroot}", proxy.connect_string()))?;
        let config = ElectionConfig::builder(&paths.latch).build().map_err(|err| err.to_string())?;
        let supervisor = ElectionSupervisor::start(session.clone(), config);
        let contender = DemoContender::new(name, supervisor.clone(), log.clone()).start();
        subscribe_connection(&session, contender.clone().recipient(), log, name).await;
        let subscribe = Subscribe::new(COMPONENT, address, &paths.leader, contender.recipient());
        support::subscribe(&supervisor, subscribe, name).await?;
        Ok(Member { name, session, supervisor, stopped: false })
    }

    /// Stops the contender the way a process shuts down: the election first (it stops acting
    /// as leader as it asks), then the session.
    pub async fn stop(&self, log: &Log) {
        log.send(self.name, What::Stopping);
        match self.supervisor.send(StopElection).timeout(STEP_DEADLINE).await {
            Ok(Ok(())) => {
                log.send(self.name, What::Note("election stopped (its latch and leader nodes deleted)".into()))
            }
            Ok(Err(err)) => log.send(self.name, What::Note(format!("election stopped with errors: {err}"))),
            Err(err) => log.send(self.name, What::Note(format!("election did not stop: {err}"))),
        }
        let _ = self.session.send(StopSession).timeout(STEP_DEADLINE).await;
        log.send(self.name, What::Note("session closed".into()));
    }
}

/// Subscribes `recipient` to `session`'s connection states; reports the current one if the
/// session connected before the subscription.
async fn subscribe_connection(
    session: &Addr<ZkSession>,
    recipient: Recipient<ConnectionStateChanged>,
    log: &Log,
    who: &'static str,
) {
    if let Ok(status) = session.send(SubscribeConnection(recipient)).await {
        if let Some(state) = status.state {
            log.send(who, What::Connection(state, status.zk_session));
        }
    }
}
