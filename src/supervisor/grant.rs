//! Grants, confirms and revokes: a contender subscribes, the latch says we lead, every
//! contender is granted with a fresh leader session, a contender confirms and publishing
//! starts — each step only with a [`Lead`] — and every grant ends when the latch or the lease
//! does. Roles change in one place, [`Contender::change_role`].

use actix::prelude::*;
use tracing::{debug, info};
use uuid::Uuid;

use super::lead::{Checked, Lead};
use super::role::{LeaderNode, Role};
use super::{ElectionSupervisor, Held, Lifecycle};
use crate::codec::LeaderInfo;
use crate::contender::{Confirm, ElectionError, LeadershipEvent, Subscribe};
use crate::error::ConfigError;
use crate::latch::LatchEvent;
use crate::port::LeaseChanged;
use crate::telemetry::ContenderMeter;

impl ElectionSupervisor {
    /// Grants every contender that holds no grant.
    pub(super) fn grant_all(&mut self, lead: &Lead) {
        for (component, contender) in self.contenders.iter_mut() {
            if let Ok(Changed::Granted(_)) = contender.change_role(component, Change::Grant(lead)) {
                self.metrics.grants += 1;
            }
        }
    }

    /// Revokes every grant: what leading owned goes with the role, and answers still in flight
    /// for it are stale.
    pub(super) fn revoke_all(&mut self) {
        self.port.next_epoch();
        for (component, contender) in self.contenders.iter_mut() {
            if let Ok(Changed::Revoked) = contender.change_role(component, Change::Revoke) {
                self.metrics.revokes += 1;
            }
        }
    }

    /// What the latch says.
    pub(super) fn on_latch(&mut self, event: LatchEvent) {
        let Lifecycle::Running { held, .. } = &mut self.lifecycle else { return };
        match event {
            LatchEvent::IsLeader { node, czxid } => {
                *held = Some(Held { node, fencing_token: czxid, lease_end: None, line: None });
                // Held from now on: whether we may lead is a new question.
                self.with_lead(|act, lead| {
                    if let Some(lead) = lead {
                        act.grant_all(lead);
                    }
                });
            }
            LatchEvent::NotLeader => {
                *held = None;
                self.revoke_all();
            }
            LatchEvent::Failed(error) => self.report_all(ElectionError::ZooKeeper(error)),
        }
    }

    fn validate(&self, msg: &Subscribe) -> Result<(), ElectionError> {
        if !self.running() {
            return Err(ElectionError::Stopped);
        }
        if msg.component.is_empty() {
            return Err(ConfigError::EmptyComponent.into());
        }
        if msg.address.is_empty() {
            return Err(ConfigError::EmptyAddress.into());
        }
        self.config.check_leader_path(&msg.leader_path)?;
        if self.contenders.contains_key(&msg.component) {
            return Err(ElectionError::DuplicateComponent(msg.component.clone()));
        }
        if self.contenders.values().any(|c| c.leader_path == msg.leader_path) {
            return Err(ElectionError::DuplicateLeaderPath(msg.leader_path.clone()));
        }
        // The first contender's address is the participant ID unless the config sets one: it
        // must fit the latch node.
        if self.config.participant_id().is_none() {
            self.config.candidate(&msg.address).validate()?;
        }
        // An address the codec cannot write would fail every publish; refuse it up front.
        self.config
            .codec()
            .encode(&LeaderInfo::new(msg.address.clone(), uuid::Uuid::nil()))
            .map_err(|err| ElectionError::Unencodable(err.into()))?;
        Ok(())
    }
}

impl Checked<Subscribe> for ElectionSupervisor {
    type Reply = Result<(), ElectionError>;

    fn checked(&mut self, msg: Subscribe, lead: Option<&Lead>, ctx: &mut Context<Self>) -> Self::Reply {
        self.validate(&msg)?;
        info!(component = %msg.component, address = %msg.address, leader_path = %msg.leader_path, "contender subscribed");
        let participant = self.config.participant_id().map_or_else(|| msg.address.clone(), str::to_owned);
        let meter = ContenderMeter::new(self.config.latch_path(), &msg.component);
        let contender = Contender::new(msg.contender, msg.address, msg.leader_path, meter);
        self.contenders.insert(msg.component.clone(), contender);
        let new_latch = match &self.lifecycle {
            Lifecycle::Running { latch: None, .. } => Some(self.start_latch(participant, ctx)),
            _ => None,
        };
        if let (Some(new_latch), Lifecycle::Running { latch, .. }) = (new_latch, &mut self.lifecycle) {
            *latch = Some(new_latch);
        }
        // Already leading: the newcomer leads with us.
        if let (Some(lead), Some(contender)) = (lead, self.contenders.get_mut(&msg.component)) {
            if let Ok(Changed::Granted(_)) = contender.change_role(&msg.component, Change::Grant(lead)) {
                self.metrics.grants += 1;
            }
        }
        Ok(())
    }
}

impl Checked<LatchEvent> for ElectionSupervisor {
    type Reply = ();

    /// The lead checked before the event does not count: the event changes what we hold.
    fn checked(&mut self, msg: LatchEvent, _lead: Option<&Lead>, ctx: &mut Context<Self>) {
        self.on_latch(msg);
        if self.holds_latch() {
            self.watch_line(ctx);
        }
    }
}

impl Checked<Confirm> for ElectionSupervisor {
    type Reply = Result<(), ElectionError>;

    fn checked(&mut self, msg: Confirm, lead: Option<&Lead>, ctx: &mut Context<Self>) -> Self::Reply {
        let running = self.running();
        let Some(contender) = self.contenders.get_mut(&msg.component) else {
            return Err(ElectionError::UnknownContender(msg.component));
        };
        if !running {
            debug!(component = %msg.component, "confirm after stop ignored");
            return Err(ElectionError::Stopped);
        }
        let Some(lead) = lead else {
            debug!(component = %msg.component, "confirm while not leader ignored");
            return Err(ElectionError::NotLeader);
        };
        match contender.change_role(&msg.component, Change::Confirm(lead, msg.leader_session)) {
            Ok(Changed::Confirmed) => {
                self.metrics.confirms += 1;
                self.publish(&msg.component, lead, ctx);
                Ok(())
            }
            // Repeated confirm: already published or publishing.
            Ok(_) => Ok(()),
            Err(err) => {
                debug!(component = %msg.component, confirmed = %msg.leader_session, "stale confirm ignored");
                Err(err)
            }
        }
    }
}

impl Checked<LeaseChanged> for ElectionSupervisor {
    type Reply = ();

    /// A lapse revokes every grant (the check before this handler did). The lease holding
    /// again grants nothing by itself: the latch node may have gone while we could not hear of
    /// it, so only the latch, having proven its place again, grants (`LatchEvent::IsLeader`).
    fn checked(&mut self, _msg: LeaseChanged, _lead: Option<&Lead>, _ctx: &mut Context<Self>) {}
}

/// How a contender's role may change.
pub(super) enum Change<'a> {
    /// A fresh grant, for a follower, while we lead.
    Grant(&'a Lead),
    /// The contender confirms `leader_session`, while we lead.
    Confirm(&'a Lead, Uuid),
    /// Leadership ends (latch lost, lease lapsed, resign); the contender is told.
    Revoke,
    /// The election stops; the contender asked for it and is told nothing.
    Stop,
}

/// What a change did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Changed {
    /// Nothing (the change did not apply to the role as it was).
    Nothing,
    /// Granted this leader session.
    Granted(Uuid),
    /// Confirmed (now leading; publish).
    Confirmed,
    /// Already leading under the confirmed session (a repeated confirm).
    AlreadyLeading,
    /// A grant ended.
    Revoked,
}

/// One subscribed contender.
pub(super) struct Contender {
    recipient: Recipient<LeadershipEvent>,
    pub address: String,
    pub leader_path: String,
    /// Private to this file: changed only by [`Contender::change_role`].
    role: Role,
    /// Its metrics (`crate::telemetry`).
    pub meter: ContenderMeter,
}

impl Contender {
    pub fn new(
        recipient: Recipient<LeadershipEvent>,
        address: String,
        leader_path: String,
        meter: ContenderMeter,
    ) -> Contender {
        Contender { recipient, address, leader_path, role: Role::Follower, meter }
    }

    pub fn role(&self) -> &Role {
        &self.role
    }

    /// The leader node of a contender leading under `leader_session`.
    pub fn node_of(&mut self, leader_session: Uuid) -> Option<&mut LeaderNode> {
        match &mut self.role {
            Role::Leading { leader_session: current, node } if *current == leader_session => Some(node),
            _ => None,
        }
    }

    /// Tells the contender that its leader node now holds its leadership.
    pub fn published(&mut self, component: &str, leader_session: Uuid, fencing_token: i64) {
        self.meter.published();
        let component = component.to_owned();
        self.recipient.do_send(LeadershipEvent::Published { component, leader_session, fencing_token });
    }

    /// Tells the contender about `error` (the election goes on).
    pub fn report(&self, component: &str, error: ElectionError) {
        self.recipient.do_send(LeadershipEvent::Error { component: component.to_owned(), error });
    }

    /// The one place a role changes. Grants and confirms need a [`Lead`]: nobody is granted,
    /// and no confirm is accepted, unless we hold the latch within the lease at that moment.
    pub fn change_role(&mut self, component: &str, change: Change<'_>) -> Result<Changed, ElectionError> {
        let changed = match (&self.role, change) {
            (Role::Follower, Change::Grant(lead)) => {
                let leader_session = crate::random::uuid();
                let fencing_token = lead.fencing_token();
                self.role = Role::Granted { leader_session };
                self.meter.granted();
                info!(component, %leader_session, fencing_token, "leadership granted");
                let component = component.to_owned();
                self.recipient.do_send(LeadershipEvent::Granted { component, leader_session, fencing_token });
                Changed::Granted(leader_session)
            }
            (_, Change::Grant(_)) => Changed::Nothing,
            (Role::Granted { leader_session }, Change::Confirm(lead, confirmed)) if *leader_session == confirmed => {
                self.role = Role::Leading { leader_session: confirmed, node: LeaderNode::default() };
                self.meter.confirmed();
                let fencing_token = lead.fencing_token();
                info!(component, leader_session = %confirmed, fencing_token, "leadership confirmed");
                Changed::Confirmed
            }
            (Role::Leading { leader_session, .. }, Change::Confirm(_, confirmed)) if *leader_session == confirmed => {
                Changed::AlreadyLeading
            }
            (role, Change::Confirm(_, confirmed)) => {
                return Err(ElectionError::StaleLeaderSession { confirmed, granted: role.granted() });
            }
            (Role::Follower, Change::Revoke | Change::Stop) => Changed::Nothing,
            (_, Change::Revoke) => {
                self.role = Role::Follower;
                self.meter.revoked();
                info!(component, "leadership revoked");
                self.recipient.do_send(LeadershipEvent::Revoked { component: component.to_owned() });
                Changed::Revoked
            }
            (_, Change::Stop) => {
                self.role = Role::Follower;
                Changed::Revoked
            }
        };
        Ok(changed)
    }
}
