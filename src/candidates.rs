//! The line of candidates as operators see it: who stands where, with what priority and labels,
//! and the fencing token of the one who leads. Readable by anyone (no candidate needed):
//! [`candidates`] lists the line once; `zk-elect candidates` prints it.
//!
//! One listing of the latch path and one read per node, through a short-lived actor of its own
//! (every request goes through a port).

use std::pin::Pin;

use actix::prelude::*;
use tracing::info_span;

use crate::latch::{participants_in_order, priority_of, CandidateInfo};
use crate::port::{OwnsPort, Port, ZooKeeper};
use crate::zk::{GetChildren, GetData, ZkError};

/// One candidate in line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Its place in line: 0 leads.
    pub position: usize,
    /// Its latch node (full path).
    pub node: String,
    /// What it announces: ID (address), priority, labels. A Curator participant shows its ID
    /// and priority 0.
    pub info: CandidateInfo,
    /// The czxid of its node: the fencing token it leads with (when `position` is 0).
    pub czxid: i64,
    /// The ZooKeeper session that owns its node.
    pub zk_session: i64,
}

/// Lists the line of the latch at `latch_path`, first in line first. An absent latch path is an
/// empty line; a node that goes between the listing and its read is left out.
///
/// # Errors
/// The [`ZkError`] of a listing or read that failed (not connected, not allowed).
pub async fn candidates(zookeeper: impl Into<ZooKeeper>, latch_path: &str) -> Result<Vec<Candidate>, ZkError> {
    let span = info_span!("candidates", latch = %latch_path);
    let reader = LineReader { port: Port::new(zookeeper.into(), span) }.start();
    let line = reader.send(ReadLine { latch_path: latch_path.to_owned() }).await.map_err(ZkError::from)?;
    reader.do_send(StopReader);
    line
}

/// The actor behind [`candidates`].
struct LineReader {
    port: Port,
}

impl Actor for LineReader {
    type Context = Context<Self>;
}

impl OwnsPort for LineReader {
    fn port(&self) -> &Port {
        &self.port
    }
}

#[derive(Message)]
#[rtype(result = "Result<Vec<Candidate>, ZkError>")]
struct ReadLine {
    latch_path: String,
}

#[derive(Message)]
#[rtype(result = "()")]
struct StopReader;

impl Handler<StopReader> for LineReader {
    type Result = ();

    fn handle(&mut self, _msg: StopReader, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

type Reading = Pin<Box<dyn ActorFuture<LineReader, Output = Result<Vec<Candidate>, ZkError>>>>;

impl Handler<ReadLine> for LineReader {
    type Result = ResponseActFuture<Self, Result<Vec<Candidate>, ZkError>>;

    fn handle(&mut self, msg: ReadLine, _ctx: &mut Context<Self>) -> Self::Result {
        let latch_path = msg.latch_path;
        Box::pin(self.port.call(GetChildren::new(latch_path.clone())).then(
            move |(children, _), act, _ctx| -> Reading {
                let names = match children {
                    Ok(children) => participants_in_order(&children).into_iter().map(str::to_owned).collect(),
                    Err(ZkError::NoNode) => Vec::new(),
                    Err(err) => return Box::pin(actix::fut::ready(Err(err))),
                };
                act.read_each(latch_path, names, Vec::new())
            },
        ))
    }
}

impl LineReader {
    /// Reads the nodes `names` (in line order) one after the other.
    fn read_each(&mut self, latch_path: String, mut names: Vec<String>, mut line: Vec<Candidate>) -> Reading {
        if names.is_empty() {
            return Box::pin(actix::fut::ready(Ok(line)));
        }
        let name = names.remove(0);
        let node = format!("{latch_path}/{name}");
        Box::pin(self.port.call(GetData::new(node.clone())).then(move |(read, _), act, _ctx| -> Reading {
            match read {
                Ok((data, stat)) => line.push(Candidate {
                    position: line.len(),
                    info: CandidateInfo::decode(&data, priority_of(&name)),
                    node,
                    czxid: stat.czxid,
                    zk_session: stat.ephemeral_owner,
                }),
                // Left the line since the listing.
                Err(ZkError::NoNode) => {}
                Err(err) => return Box::pin(actix::fut::ready(Err(err))),
            }
            act.read_each(latch_path, names, line)
        }))
    }
}
