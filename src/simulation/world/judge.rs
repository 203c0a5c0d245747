//! The verdicts at the end of a run: the election settled, and nothing was left behind.

use super::World;
use crate::codec::LeaderInfoCodec;
use crate::latch::{priority_of, CandidateInfo};
use crate::simulation::properties::Violation;
use crate::simulation::wire::ProcessId;
use crate::simulation::{LATCH, LEADER_PATH};

impl World {
    /// The election must have settled: exactly one leader, published in the leader node by the
    /// session that holds its latch node.
    pub(super) fn judge_liveness(&mut self) {
        let leaders: Vec<(ProcessId, uuid::Uuid, i64)> = (0..self.processes.len())
            .filter(|process| !self.current(*process).crashed)
            .filter_map(|process| {
                let current = self.current(process);
                // A claim without its node counts too: once faults end, nobody may believe it
                // leads but the one leader.
                let (leader_session, token) = current.elections.last()?.leading?;
                current.lease.holds().then_some((process, leader_session, token))
            })
            .collect();
        let tree = self.ensemble.committed();
        let latch_owner = |token: i64| {
            tree.nodes()
                .find(|(path, node)| path.starts_with(LATCH) && node.stat.czxid == token)
                .map(|(_, node)| node.stat.ephemeral_owner)
        };
        let published = tree.get(LEADER_PATH).map(|node| (node.data.clone(), node.stat.ephemeral_owner));
        let verdict = match (leaders.as_slice(), published) {
            ([(process, leader_session, token)], Some((data, owner))) => match LeaderInfoCodec::Bincode.decode(&data) {
                Ok(info)
                    if info.address == self.processes[*process].address
                        && info.leader_session == *leader_session
                        && info.fencing_token == Some(*token)
                        && latch_owner(*token) == Some(owner) =>
                {
                    None
                }
                other => Some(format!("p{process} leads, but the leader node holds {other:?} owned by {owner:#x}")),
            },
            ([_], None) => Some("one leader, but no leader node".to_owned()),
            (leaders, _) => Some(format!("{} leaders after the faults ended", leaders.len())),
        };
        // Every running election stands in line, once: nobody gave up contending.
        let ids: Vec<String> = tree
            .children(LATCH)
            .unwrap_or_default()
            .iter()
            .filter_map(|child| {
                let node = tree.get(&format!("{LATCH}/{child}"))?;
                Some(CandidateInfo::decode(&node.data, priority_of(child)).id)
            })
            .collect();
        let out_of_line: Vec<String> = (0..self.processes.len())
            .filter(|process| !self.current(*process).crashed && self.current(*process).supervisor.is_some())
            .map(|process| &self.processes[process].address)
            .filter(|address| ids.iter().filter(|id| id == address).count() != 1)
            .cloned()
            .collect();
        let verdict = verdict.or_else(|| {
            (!out_of_line.is_empty()).then(|| format!("not in line exactly once: {}", out_of_line.join(", ")))
        });
        match verdict {
            Some(detail) => self.violate(Violation { property: "settles once faults end", detail }),
            None => self.note("settled: one leader, published, everyone in line"),
        }
    }

    /// Every election stops: nothing of ours may be left once the sessions had time.
    pub(super) fn judge_leftovers(&mut self) {
        let tree = self.ensemble.committed();
        let left: Vec<String> = tree
            .nodes()
            .filter(|(path, node)| {
                (path.starts_with(&format!("{LATCH}/")) || path.as_str() == LEADER_PATH)
                    && node.stat.ephemeral_owner != 0
                    && self.ensemble.alive(node.stat.ephemeral_owner)
            })
            .map(|(path, node)| format!("{path} of {:#x}", node.stat.ephemeral_owner))
            .collect();
        if left.is_empty() {
            self.note("nothing left behind");
        } else {
            self.violate(Violation { property: "nothing left after stop", detail: left.join(", ") });
        }
    }
}
