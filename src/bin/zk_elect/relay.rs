//! The bridge from the actor world to the command's main loop: one actor that receives every
//! message the library sends us and queues it on a channel, in arrival order.

use actix::prelude::*;
use tokio::sync::mpsc;
use zk_election::port::SessionFailed;
use zk_election::{ConnectionState, ConnectionStateChanged, LeadershipEvent, Observation, Term, ZkError};

/// A message from the library, as the main loop sees it.
#[derive(Debug)]
pub enum Input {
    /// From the session: the connection changed state.
    Connection(ConnectionState),
    /// From the election supervisor.
    Leadership(LeadershipEvent),
    /// From the leader retriever: who leads, numbered, and how current that is.
    Observed(Observation),
    /// From the leader retriever: a term ended, and how is known.
    TermEnded(Term),
    /// From the session: it cannot be established (TLS handshake, credentials refused).
    SessionFailed(ZkError),
}

/// Queues what it receives for the main loop.
pub struct Relay {
    inputs: mpsc::UnboundedSender<Input>,
}

impl Relay {
    /// Starts a relay; the receiver yields what it is sent.
    pub fn start() -> (Addr<Relay>, mpsc::UnboundedReceiver<Input>) {
        let (inputs, receiver) = mpsc::unbounded_channel();
        (Relay { inputs }.start(), receiver)
    }

    fn forward(&self, input: Input) {
        // The main loop has ended: nothing is listening any more, and that is fine.
        let _ = self.inputs.send(input);
    }
}

impl Actor for Relay {
    type Context = Context<Self>;
}

impl Handler<ConnectionStateChanged> for Relay {
    type Result = ();

    fn handle(&mut self, msg: ConnectionStateChanged, _ctx: &mut Context<Self>) {
        self.forward(Input::Connection(msg.state));
    }
}

impl Handler<SessionFailed> for Relay {
    type Result = ();

    fn handle(&mut self, msg: SessionFailed, _ctx: &mut Context<Self>) {
        self.forward(Input::SessionFailed(msg.error));
    }
}

impl Handler<LeadershipEvent> for Relay {
    type Result = ();

    fn handle(&mut self, msg: LeadershipEvent, _ctx: &mut Context<Self>) {
        self.forward(Input::Leadership(msg));
    }
}

impl Handler<Observation> for Relay {
    type Result = ();

    fn handle(&mut self, msg: Observation, _ctx: &mut Context<Self>) {
        self.forward(Input::Observed(msg));
    }
}

impl Handler<Term> for Relay {
    type Result = ();

    fn handle(&mut self, msg: Term, _ctx: &mut Context<Self>) {
        self.forward(Input::TermEnded(msg));
    }
}
