//! What the election tells this process: the actor that confirms every grant at once, and the
//! line each leadership or connection event is printed as.

use actix::prelude::*;
use zk_election::{Confirm, ConnectionState, ConnectionStateChanged, ElectionSupervisor, LeadershipEvent};

use crate::clock::Clock;

/// The contender actor: confirms every grant at once and prints what it is told.
pub struct Contender {
    pub supervisor: Addr<ElectionSupervisor>,
    pub clock: Clock,
}

impl Actor for Contender {
    type Context = Context<Self>;
}

impl Handler<LeadershipEvent> for Contender {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, ctx: &mut Context<Self>) {
        match event {
            LeadershipEvent::Granted { component, leader_session, .. } => {
                self.clock.line(&format!("granted      session={leader_session}"));
                let confirm = self.supervisor.send(Confirm { component, leader_session });
                // A refused confirm (leadership moved on meanwhile) is worth a line; success is
                // shown by `published`.
                ctx.spawn(confirm.into_actor(self).map(|result, act, _ctx| match result {
                    Ok(Ok(())) | Err(_) => {}
                    Ok(Err(err)) => act.clock.line(&format!("error        confirm refused: {err}")),
                }));
            }
            LeadershipEvent::Published { leader_session, .. } => {
                self.clock.line(&format!("published    session={leader_session}"))
            }
            LeadershipEvent::Revoked { .. } => self.clock.line("revoked"),
            LeadershipEvent::Error { error, .. } => self.clock.line(&format!("error        {error}")),
            // Events added after this example was written.
            other => self.clock.line(&format!("{other:?}")),
        }
    }
}

impl Handler<ConnectionStateChanged> for Contender {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, _ctx: &mut Context<Self>) {
        self.clock.line(&describe_state(msg.state, msg.zk_session));
    }
}

pub fn describe_state(state: ConnectionState, zk_session: Option<i64>) -> String {
    let session = zk_session.map(|id| format!("zk_session={id:#x}")).unwrap_or_default();
    match state {
        ConnectionState::Connected => format!("connected    {session}"),
        ConnectionState::Suspended => "suspended".to_owned(),
        ConnectionState::Reconnected { same_session: true } => format!("reconnected  {session} (same session)"),
        ConnectionState::Reconnected { same_session: false } => format!("reconnected  {session} (new session)"),
        ConnectionState::Lost => "lost".to_owned(),
    }
}
