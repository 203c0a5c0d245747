//! The two setups every peer is measured in: standalone (one ZooKeeper, one etcd) and an
//! ensemble (three ZooKeepers, three etcd members), all on loopback; and the peers of a setup.

use std::path::{Path, PathBuf};

use actix::prelude::*;
use serde_json::{json, Value};
use zk_election::testkit::{ZkEnsemble, ZkServer};
use zk_election::ZkSession;

use crate::curator::{self, Compiled};
use crate::etcd::Etcd;
use crate::library::LibraryPeer;
use crate::peer::{Membership, Peer, Runs};
use crate::setup::{connect, SECOND};
use crate::{etcdctl, zk_elect};

/// Which setup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Standalone,
    Ensemble,
}

impl Kind {
    pub(crate) const ALL: [Kind; 2] = [Kind::Standalone, Kind::Ensemble];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Standalone => "standalone",
            Kind::Ensemble => "ensemble",
        }
    }

    fn members(self) -> usize {
        match self {
            Kind::Standalone => 1,
            Kind::Ensemble => 3,
        }
    }
}

/// The peers in the order of the table; arguments select them by these names. The last runs
/// only when `ZK_ELECT_BASELINE_BIN` names another zk-elect build, to compare two builds in one
/// interleaved run.
pub(crate) const PEERS: [&str; 5] = ["zk-elect", "library", "curator", "etcd", BASELINE];
const BASELINE: &str = "zk-elect-baseline";

/// What the peers are built from, made once before anything is measured.
pub(crate) struct Tools {
    pub(crate) zk_elect: Result<PathBuf, String>,
    /// `ZK_ELECT_BASELINE_BIN`, if set.
    pub(crate) baseline: Option<PathBuf>,
    pub(crate) curator: Result<Compiled, String>,
}

/// The servers of one setup, stopped when dropped.
pub(crate) struct Servers {
    pub(crate) kind: Kind,
    zk: Zk,
    pub(crate) etcd: Result<Etcd, String>,
}

enum Zk {
    // Boxed: one per setup, and the two variants differ a lot in size.
    Standalone(Box<ZkServer>),
    Ensemble(ZkEnsemble),
}

impl Servers {
    /// Starts ZooKeeper (testkit, `forceSync=no`) and etcd; a ZooKeeper that does not start
    /// is an error, an etcd that does not start only skips the etcd peer.
    pub(crate) fn start(kind: Kind, logs: &Path) -> Result<Servers, String> {
        let zk = match kind {
            Kind::Standalone => ZkServer::builder().force_sync(false).start().map(|s| Zk::Standalone(Box::new(s))),
            Kind::Ensemble => ZkEnsemble::builder().force_sync(false).start().map(Zk::Ensemble),
        }
        .map_err(|e| format!("cannot start ZooKeeper ({}): {e}", kind.name()))?;
        let etcd = Etcd::start(kind.members(), kind.name(), logs);
        Ok(Servers { kind, zk, etcd })
    }

    pub(crate) fn zk_connect(&self) -> String {
        match &self.zk {
            Zk::Standalone(server) => server.connect_string(),
            Zk::Ensemble(ensemble) => ensemble.connect_string(),
        }
    }

    /// The servers as the report describes them.
    pub(crate) fn describe(&self) -> Value {
        let (first, size) = match &self.zk {
            Zk::Standalone(server) => (server.as_ref(), 1),
            Zk::Ensemble(ensemble) => (ensemble.member(0), ensemble.len()),
        };
        let version = first.version().unwrap_or_else(|e| format!("unknown ({e})"));
        json!({
            "zookeeper": { "members": size, "version": version, "force_sync": false, "jvm": "testkit defaults (C1 only)" },
            "etcd": match &self.etcd {
                Ok(etcd) => json!({ "members": etcd.len(), "unsafe_no_fsync": true, "data_dir": "tmpfs (/dev/shm)" }),
                Err(err) => json!({ "error": err }),
            },
        })
    }

    /// A session of the bench's own, to count candidates.
    pub(crate) async fn bench_session(&self) -> Result<Addr<ZkSession>, String> {
        connect(&self.zk_connect(), 6 * SECOND).await
    }

    /// An in-process contender on an election of its own, for the warm-up burst: it runs the
    /// ZooKeeper operations of a handover back to back (sessions, latch, publish, leave).
    pub(crate) fn warmup_peer(&self, session: &Addr<ZkSession>) -> Peer {
        let (latch, leader) = ("/peers/warmup/latch".to_owned(), "/peers/warmup/leader".to_owned());
        Peer {
            name: "warm-up",
            runs: Runs::Library(LibraryPeer {
                connect: self.zk_connect(),
                latch: latch.clone(),
                leader: leader.clone(),
            }),
            membership: Membership::Zk { session: session.clone(), latch, leader },
        }
    }

    /// The selected peers of this setup, or why each cannot run.
    pub(crate) fn peers(
        &self,
        tools: &Tools,
        session: &Addr<ZkSession>,
        selected: &dyn Fn(&str) -> bool,
        logs: &Path,
    ) -> Vec<Result<Peer, (&'static str, String)>> {
        let connect = self.zk_connect();
        let paths = |name: &str| (format!("/peers/{name}/latch"), format!("/peers/{name}/leader"));
        let zk_membership = |name: &str| {
            let (latch, leader) = paths(name);
            Membership::Zk { session: session.clone(), latch, leader }
        };
        let log = |name: &str| logs.join(format!("{}-{name}.log", self.kind.name()));
        let mut peers = Vec::new();
        for name in PEERS.into_iter().filter(|n| selected(n)) {
            let (latch, leader) = paths(name);
            let peer = match name {
                "zk-elect" => tools.zk_elect.as_ref().map(|binary| Peer {
                    name,
                    runs: Runs::Process(zk_elect::peer(binary, &connect, &latch, &leader, log(name))),
                    membership: zk_membership(name),
                }),
                BASELINE => match &tools.baseline {
                    Some(binary) => Ok(Peer {
                        name,
                        runs: Runs::Process(zk_elect::peer(binary, &connect, &latch, &leader, log(name))),
                        membership: zk_membership(name),
                    }),
                    None => continue,
                },
                "library" => Ok(Peer {
                    name,
                    runs: Runs::Library(LibraryPeer { connect: connect.clone(), latch, leader }),
                    membership: zk_membership(name),
                }),
                "curator" => tools.curator.as_ref().map(|compiled| Peer {
                    name,
                    runs: Runs::Process(curator::peer(compiled, &connect, &latch, &leader, log(name))),
                    membership: zk_membership(name),
                }),
                _ => self.etcd.as_ref().map(|etcd| {
                    let election = "peers-etcd";
                    Peer {
                        name,
                        runs: Runs::Process(etcdctl::peer(&etcd.endpoints(), election, log(name))),
                        membership: Membership::Etcd { prefix: etcdctl::prefix(election) },
                    }
                }),
            };
            peers.push(peer.map_err(|reason| (name, reason.clone())));
        }
        peers
    }
}
