//! The store: the one thing fencing protects, and all it takes to protect it.

use actix::prelude::*;
use tokio::sync::mpsc;

use crate::report::{Rejected, Report};
use crate::timeline::Timeline;

/// A store that fences its writers: it keeps the highest token it has seen and refuses writes
/// with lower ones. It knows nothing of ZooKeeper; the token is all it needs.
pub struct Store {
    highest: Option<i64>,
    timeline: Timeline,
    report: mpsc::UnboundedSender<Report>,
}

impl Store {
    /// A store that has seen no token yet.
    pub fn new(timeline: Timeline, report: mpsc::UnboundedSender<Report>) -> Store {
        Store { highest: None, timeline, report }
    }
}

impl Actor for Store {
    type Context = Context<Self>;
}

/// Store `value`, written by the leader holding fencing token `token`.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), Rejected>")]
pub struct Write {
    pub writer: &'static str,
    pub token: i64,
    pub value: String,
}

impl Handler<Write> for Store {
    type Result = Result<(), Rejected>;

    fn handle(&mut self, write: Write, _ctx: &mut Context<Self>) -> Result<(), Rejected> {
        let outcome = match self.highest {
            // Equal tokens are the same leadership writing again.
            Some(highest) if write.token < highest => Err(Rejected { highest }),
            _ => Ok(()),
        };
        match outcome {
            Ok(()) => {
                self.highest = Some(write.token);
                let what = format!("accepted {:?} from {}", write.value, write.writer);
                self.timeline.log_token("store", what, write.token);
            }
            Err(Rejected { highest }) => {
                let what = format!("REJECTED {:?} from {}: has seen token {highest}", write.value, write.writer);
                self.timeline.log_token("store", what, write.token);
            }
        }
        // The script may be gone while shutting down; nothing is waiting for the report then.
        let _ = self.report.send(Report::Decided { writer: write.writer, token: write.token, outcome });
        outcome
    }
}
