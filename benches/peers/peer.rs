//! What the rounds need of a peer, whatever it is: start a contender, hear it announce that it
//! leads, make it leave, and count the candidates of its election.
//!
//! "Leads" means the same for every peer: the contender's own announcement that it is leader,
//! once everything a leader does before acting is done (for the ZooKeeper peers, Flink's publish
//! of the leader node; etcd's election key already holds the proposal).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use zk_election::testkit::Operator;

use actix::prelude::*;
use zk_election::zk::{Exists, GetChildren};
use zk_election::{ZkError, ZkSession};

use crate::child::Child;
use crate::etcd::Etcd;
use crate::library;

/// Deadline of one announcement, one leave, one exit.
pub(crate) const STEP_LIMIT: Duration = Duration::from_secs(10);

/// What a stdout line of a contender process says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// Leadership was granted (the latch says so; publishing may follow).
    Granted,
    /// It leads: its own announcement.
    Leads,
    Other,
}

/// Reads a stdout line of a contender with this address.
pub(crate) type Classify = fn(line: &str, address: &str) -> Line;

/// How a contender process is told to leave.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LeaveBy {
    /// A line `quit` on stdin.
    Quit,
    /// SIGINT.
    Interrupt,
}

/// A peer whose contenders are processes.
pub(crate) struct ProcessPeer {
    /// The command line of a contender with this address.
    pub(crate) command: Box<dyn Fn(&str) -> Command>,
    pub(crate) classify: Classify,
    pub(crate) leave_by: LeaveBy,
    /// Their stderr, appended.
    pub(crate) log: PathBuf,
}

/// Where a peer's election lives, to count its candidates.
pub(crate) enum Membership {
    /// Children of a latch node; the election is empty once they are gone and so is the leader
    /// node (a leftover node would send the next leader down another publish path).
    Zk { session: Addr<ZkSession>, latch: String, leader: String },
    /// Keys under an election's prefix.
    Etcd { prefix: String },
}

/// How a peer's contenders run.
pub(crate) enum Runs {
    Process(ProcessPeer),
    Library(library::LibraryPeer),
}

/// One peer of the comparison.
pub(crate) struct Peer {
    /// Short name, as in the table and the JSON.
    pub(crate) name: &'static str,
    pub(crate) runs: Runs,
    pub(crate) membership: Membership,
}

/// The moments a contender announced, on the bench's clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Announced {
    pub(crate) granted: Option<Instant>,
    pub(crate) leads: Instant,
}

/// One running contender.
pub(crate) enum Contender {
    Process { child: Child, leave_by: LeaveBy },
    Library(library::Contender),
}

impl Peer {
    /// Starts a contender with `address` (not waiting for anything).
    pub(crate) async fn spawn(&self, address: &str) -> Result<Contender, String> {
        match &self.runs {
            Runs::Process(p) => Ok(Contender::Process {
                child: Child::spawn((p.command)(address), &p.log, p.classify, address)?,
                leave_by: p.leave_by,
            }),
            Runs::Library(l) => l.spawn(address).await.map(Contender::Library),
        }
    }

    /// How many candidates the election has; for the ZooKeeper peers, `None` while the leader
    /// node still exists with no candidate left.
    async fn candidates(&self, etcd: Option<&Etcd>) -> Result<Option<usize>, String> {
        match &self.membership {
            Membership::Zk { session, latch, leader } => {
                let children = match Operator::start(session).send(GetChildren { path: latch.clone() }).await {
                    Ok(Ok(children)) => children.len(),
                    Ok(Err(ZkError::NoNode)) => 0,
                    Ok(Err(err)) => return Err(format!("listing {latch}: {err}")),
                    Err(err) => return Err(format!("listing {latch}: {err}")),
                };
                if children > 0 {
                    return Ok(Some(children));
                }
                match Operator::start(session).send(Exists { path: leader.clone() }).await {
                    Ok(Ok(None)) => Ok(Some(0)),
                    Ok(Ok(Some(_))) => Ok(None),
                    Ok(Err(err)) => Err(format!("reading {leader}: {err}")),
                    Err(err) => Err(format!("reading {leader}: {err}")),
                }
            }
            Membership::Etcd { prefix } => etcd.ok_or("no etcd")?.count(prefix).map(Some),
        }
    }

    /// Polls (never in a measured interval) until the election has exactly `count` candidates.
    pub(crate) async fn await_candidates(&self, count: usize, etcd: Option<&Etcd>) -> Result<(), String> {
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            let now = self.candidates(etcd).await?;
            if now == Some(count) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{}: {count} candidates expected, {now:?} after {STEP_LIMIT:?}", self.name));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Contender {
    /// Waits until it says it leads; answers when (and when it was granted, if it says so).
    pub(crate) async fn announced(&mut self) -> Result<Announced, String> {
        match self {
            Contender::Process { child, .. } => child.announced(STEP_LIMIT).await,
            Contender::Library(c) => c.announced().await,
        }
    }

    /// Tells it to leave; answers the moment it was told (the start of a clean handover).
    pub(crate) async fn leave(&mut self) -> Result<Instant, String> {
        match self {
            Contender::Process { child, leave_by: LeaveBy::Quit, .. } => child.write_line("quit"),
            Contender::Process { child, leave_by: LeaveBy::Interrupt, .. } => child.interrupt(),
            Contender::Library(c) => Ok(c.leave()),
        }
    }

    /// Waits until it is gone (a process exited 0; a library contender's session closed).
    pub(crate) async fn finish(self) -> Result<(), String> {
        match self {
            Contender::Process { mut child, .. } => child.wait(STEP_LIMIT).await,
            Contender::Library(c) => c.finish().await,
        }
    }
}
