//! Handing leadership to a chosen successor: on request ([`Transfer`]) and to a candidate of
//! strictly higher priority that has stood in line for the grace period (preemption).
//!
//! Both end in one multi-op (`hand_over`): our latch node, our leader nodes and the latch node of
//! every candidate between us and the target go, guarded by our node and checked against the
//! target's, so the target is first in line the moment anything changes and nobody leads in
//! between. The candidates passed over find their node gone and queue again behind it.

use actix::prelude::*;
use tokio::time::Instant;
use tracing::{info, warn};

use super::lead::{Checked, Lead};
use super::{ElectionSupervisor, Lifecycle};
use crate::candidates::{candidates, Candidate};
use crate::contender::{ElectionError, Successor, Transfer};
use crate::latch::priority_of;
use crate::line_watch::{LineChanged, LineWatch, StopLineWatch};
use crate::zk::WriteOp;

/// What a leader watches of the line behind it, for preemption: one per hold of the latch.
#[derive(Debug)]
pub(super) struct LineHold {
    watch: Addr<LineWatch>,
    /// Candidates of higher priority than ours, with when we first saw each.
    higher: Vec<(String, Instant)>,
    /// A wake-up to look again once the first of them has stood long enough.
    wake: Option<SpawnHandle>,
}

impl Drop for LineHold {
    /// The hold is over: stop watching.
    fn drop(&mut self) {
        self.watch.do_send(StopLineWatch);
    }
}

impl ElectionSupervisor {
    /// Starts watching the line for the hold of the latch we have, if preemption is on and
    /// nothing watches yet.
    pub(super) fn watch_line(&mut self, ctx: &mut Context<Self>) {
        if self.config.preempt_after().is_none() {
            return;
        }
        let (zookeeper, latch_path) = (self.port.zookeeper(), self.config.latch_path().to_owned());
        let Lifecycle::Running { held: Some(held), .. } = &mut self.lifecycle else { return };
        if held.line.is_none() {
            let watch = LineWatch::start(zookeeper, latch_path, held.node.clone(), ctx.address().recipient());
            held.line = Some(LineHold { watch, higher: Vec::new(), wake: None });
        }
    }

    /// Looks at the line again: hands over to the candidate of highest priority above ours
    /// once it has stood in line for the grace period, or wakes up when it will have.
    fn consider_preemption(&mut self, line: &[String], lead: &Lead, ctx: &mut Context<Self>) {
        let (Some(grace), ours) = (self.config.preempt_after(), self.config.priority()) else { return };
        let Lifecycle::Running { held: Some(held), .. } = &mut self.lifecycle else { return };
        let Some(hold) = held.line.as_mut() else { return };
        let now = Instant::now();
        let higher: Vec<(String, Instant)> = line
            .iter()
            .filter(|name| priority_of(name) > ours)
            .map(|name| {
                let seen = hold.higher.iter().find(|(known, _)| known == name).map_or(now, |(_, seen)| *seen);
                (name.clone(), seen)
            })
            .collect();
        hold.higher = higher;
        if let Some(wake) = hold.wake.take() {
            ctx.cancel_future(wake);
        }
        // The highest priority; among equals, the first in line.
        let best = hold
            .higher
            .iter()
            .max_by_key(|(name, _)| (priority_of(name), std::cmp::Reverse(line_position(line, name))));
        let Some((target, seen)) = best.cloned() else { return };
        let due = seen + grace;
        if now >= due {
            info!(target = %target, priority = priority_of(&target), ours, "a candidate of higher priority stood in line long enough: handing over");
            let line = line.to_vec();
            if let Err(err) = self.hand_over(lead, &target, &line) {
                warn!(%err, "cannot hand over");
            }
            return;
        }
        let line = line.to_vec();
        hold.wake = Some(ctx.run_later(due - now, move |act, ctx| {
            let _span = act.port.span().clone().entered();
            act.with_lead(|act, lead| {
                if let Some(lead) = lead {
                    act.consider_preemption(&line, lead, ctx);
                }
            });
        }));
    }

    /// Hands over to the latch node named `target` in `line` (names, first in line first),
    /// which must start with our node.
    fn hand_over(&mut self, lead: &Lead, target: &str, line: &[String]) -> Result<(), ElectionError> {
        let ours = lead.latch_node().rsplit('/').next().unwrap_or_default();
        if target == ours {
            return Err(ElectionError::TransferToSelf);
        }
        let position = line_position(line, target);
        if line.first().map(String::as_str) != Some(ours) || position >= line.len() {
            return Err(ElectionError::UnknownCandidate(target.to_owned()));
        }
        let latch_path = self.config.latch_path();
        let mut ops: Vec<WriteOp> = line[1..position]
            .iter()
            .map(|name| WriteOp::Delete { path: format!("{latch_path}/{name}"), version: None })
            .collect();
        ops.push(WriteOp::Check { path: format!("{latch_path}/{target}"), version: None });
        info!(target, passed_over = position - 1, "handing leadership over");
        self.metrics.handovers += 1;
        self.requeue_with(ops);
        Ok(())
    }
}

/// Where `name` stands in `line` (its length if it is not there).
fn line_position(line: &[String], name: &str) -> usize {
    line.iter().position(|known| known == name).unwrap_or(line.len())
}

impl Checked<LineChanged> for ElectionSupervisor {
    type Reply = ();

    fn checked(&mut self, msg: LineChanged, lead: Option<&Lead>, ctx: &mut Context<Self>) {
        let current =
            matches!(&self.lifecycle, Lifecycle::Running { held: Some(held), .. } if held.node == msg.latch_node);
        if let (true, Some(lead)) = (current, lead) {
            self.consider_preemption(&msg.line, lead, ctx);
        }
    }
}

impl Checked<Transfer> for ElectionSupervisor {
    type Reply = ResponseActFuture<Self, Result<String, ElectionError>>;

    fn checked(&mut self, msg: Transfer, lead: Option<&Lead>, _ctx: &mut Context<Self>) -> Self::Reply {
        if !self.running() {
            return Box::pin(actix::fut::ready(Err(ElectionError::Stopped)));
        }
        if lead.is_none() {
            return Box::pin(actix::fut::ready(Err(ElectionError::NotLeader)));
        }
        let latch_path = self.config.latch_path().to_owned();
        let (zookeeper, path) = (self.port.zookeeper(), latch_path.clone());
        let read = async move { candidates(zookeeper, &path).await };
        Box::pin(read.into_actor(self).map(move |line, act, _ctx| {
            let line = line?;
            // Leading still, and on the node the line was read for.
            act.with_lead(|act, lead| {
                let lead = lead.ok_or(ElectionError::NotLeader)?;
                let target = find(&line, &msg.to, &latch_path, lead.latch_node())?;
                let names: Vec<String> =
                    line.iter().map(|c| c.node.rsplit('/').next().unwrap_or_default().to_owned()).collect();
                let name = target.rsplit('/').next().unwrap_or_default().to_owned();
                act.hand_over(lead, &name, &names)?;
                Ok(target)
            })
        }))
    }
}

/// The latch node `to` names in `line`.
fn find(line: &[Candidate], to: &Successor, latch_path: &str, ours: &str) -> Result<String, ElectionError> {
    let found = match to {
        Successor::Address(address) => line.iter().find(|c| &c.info.id == address),
        Successor::Node(node) => {
            let path = if node.starts_with('/') { node.clone() } else { format!("{latch_path}/{node}") };
            line.iter().find(|c| c.node == path)
        }
    };
    match found {
        Some(candidate) if candidate.node == ours => Err(ElectionError::TransferToSelf),
        Some(candidate) => Ok(candidate.node.clone()),
        None => Err(ElectionError::UnknownCandidate(to.to_string())),
    }
}
