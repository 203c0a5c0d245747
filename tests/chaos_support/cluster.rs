//! The cluster under test: a 3-node ensemble, contenders each in its own session behind its own
//! proxy, an observer session straight to the ensemble, and waits for a settled election.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use zk_election::secure::TlsConfig;
use zk_election::session::GetStatus;
use zk_election::testkit::{FaultProxy, Operator, ZkEnsemble};
use zk_election::zk::{GetChildren, GetData};
use zk_election::{
    Backoff, ConnectionLossPolicy, ElectionConfig, ElectionSupervisor, HasLeadership, LeaderInfoCodec, SessionConfig,
    StopElection, StopSession, Subscribe, ZkSession,
};

use super::{blocking, open_leaderships, timeline, Happened, Recorder, COMPONENT, LATCH, LEADER};

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

/// How contenders reach the ensemble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP.
    Plain,
    /// Mutual TLS on the members' secure ports (the proxies forward the TLS bytes unchanged).
    Tls,
}

/// A 3-node ensemble, K contenders each behind its own proxy, an observer straight to the
/// ensemble, and the record.
pub struct Cluster {
    pub ensemble: Arc<ZkEnsemble>,
    /// The contenders' TLS settings, when they speak TLS.
    tls: Option<TlsConfig>,
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
        Cluster::start_over(Transport::Plain, contenders, policy, session_timeout).await
    }

    /// [`Cluster::start`] with contenders reaching the ensemble over `transport`.
    pub async fn start_over(
        transport: Transport,
        contenders: usize,
        policy: ConnectionLossPolicy,
        session_timeout: Duration,
    ) -> Cluster {
        let ensemble = match transport {
            Transport::Plain => blocking(ZkEnsemble::start).await,
            Transport::Tls => blocking(|| ZkEnsemble::builder().tls().start()).await,
        };
        let ensemble = Arc::new(ensemble.expect("ensemble"));
        let tls = ensemble.tls().map(|material| {
            TlsConfig::ca_file(material.ca_path())
                .client_identity_files(material.client_cert_path(), material.client_key_path())
        });
        let contender_connect = ensemble.secure_connect_string().unwrap_or_else(|| ensemble.connect_string());
        let observer_config = SessionConfig::builder(ensemble.connect_string())
            .session_timeout(Duration::from_secs(10))
            .request_timeout(Duration::from_secs(2))
            .build()
            .expect("observer config");
        let observer = ZkSession::start(observer_config);
        let mut slots = Vec::new();
        for index in 0..contenders {
            let proxy = FaultProxy::for_connect_string(&contender_connect).expect("proxy");
            slots.push(Slot { index, address: format!("contender-{index}:6123"), proxy: Arc::new(proxy), live: None });
        }
        let mut cluster = Cluster {
            ensemble,
            tls,
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
        let mut config = SessionConfig::builder(slot.proxy.connect_string())
            .session_timeout(self.session_timeout)
            .request_timeout(Duration::from_secs(3))
            .backoff(Backoff { initial: Duration::from_millis(100), max: Duration::from_millis(800) });
        if let Some(tls) = &self.tls {
            config = config.tls(tls.clone());
        }
        let config = config.build().expect("session config");
        let session = ZkSession::start(config);
        let election = ElectionConfig::builder(LATCH).policy(self.policy).build().expect("election config");
        let supervisor = ElectionSupervisor::start(session.clone(), election);
        let contender = self.recorder.contender(index, incarnation, supervisor.clone()).start();
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
        let _ = live.supervisor.send(StopElection).await;
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
            .send(HasLeadership::leader_session(COMPONENT, leader.leader_session))
            .await
            .unwrap_or(false);
        if !holds {
            return Err(format!("supervisor of {} denies leadership", slot.address));
        }
        let owner = live.session.send(GetStatus).await.map_err(|e| e.to_string())?.zk_session;
        let (data, stat) = match Operator::start(&self.observer).send(GetData { path: LEADER.into() }).await {
            Ok(Ok(found)) => found,
            other => return Err(format!("leader node unreadable: {other:?}")),
        };
        let info = LeaderInfoCodec::Bincode.decode(&data).map_err(|e| format!("leader node undecodable: {e}"))?;
        if info.address != slot.address || info.leader_session != leader.leader_session {
            return Err(format!("leader node holds {info:?}, leader is {} {}", slot.address, leader.leader_session));
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
        let children = match Operator::start(&self.observer).send(GetChildren { path: LATCH.into() }).await {
            Ok(Ok(children)) => children,
            other => return Err(format!("latch unreadable: {other:?}")),
        };
        let mut nodes: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for child in &children {
            let path = format!("{LATCH}/{child}");
            match Operator::start(&self.observer).send(GetData { path }).await {
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
            if owners != [status.zk_session.unwrap_or_default()] {
                return Err(format!(
                    "{} has latch nodes owned by {owners:x?}, its session is {:x?}",
                    slot.address, status.zk_session
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
