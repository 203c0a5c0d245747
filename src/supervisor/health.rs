//! Health-tied leadership: a contender reports its health; enough unhealthy reports in a row
//! and the election leaves the line (stepping down if it leads) until a healthy report.

use actix::prelude::*;
use tracing::info;

use super::lead::{Checked, Lead};
use super::ElectionSupervisor;
use crate::contender::{ElectionError, ReportHealth};
use crate::latch::{Rejoin, SitOut};

/// The election's health, from its contenders' reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Health {
    /// In line; `failures` unhealthy reports in a row so far.
    Fit { failures: u32 },
    /// Out of line until a healthy report.
    SittingOut,
}

impl Default for Health {
    fn default() -> Self {
        Health::Fit { failures: 0 }
    }
}

impl Checked<ReportHealth> for ElectionSupervisor {
    type Reply = Result<(), ElectionError>;

    fn checked(&mut self, msg: ReportHealth, _lead: Option<&Lead>, _ctx: &mut Context<Self>) -> Self::Reply {
        if !self.running() {
            return Err(ElectionError::Stopped);
        }
        if !self.contenders.contains_key(&msg.component) {
            return Err(ElectionError::UnknownContender(msg.component));
        }
        let limit = self.config.health_failures();
        self.health = match (self.health, msg.healthy) {
            (Health::Fit { .. }, true) => Health::Fit { failures: 0 },
            (Health::SittingOut, true) => {
                info!(component = %msg.component, "healthy again: queueing");
                self.latch_send(Rejoin);
                Health::Fit { failures: 0 }
            }
            (Health::Fit { failures }, false) if failures + 1 >= limit => {
                info!(component = %msg.component, failures = failures + 1, "unhealthy: stepping down and leaving the line");
                let with = self.own_leader_node_deletes();
                // Revoke first, so nobody acts as leader while the latch node goes.
                self.on_latch(crate::latch::LatchEvent::NotLeader);
                self.latch_send(SitOut { with });
                Health::SittingOut
            }
            (Health::Fit { failures }, false) => Health::Fit { failures: failures + 1 },
            (Health::SittingOut, false) => Health::SittingOut,
        };
        Ok(())
    }
}
