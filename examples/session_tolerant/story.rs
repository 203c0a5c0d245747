//! The story: every leadership and connection event, printed as the script takes it in, and
//! kept for the script's checks.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use uuid::Uuid;
use zk_election::{ConnectionState, LeadershipEvent};

/// Something that happened to one election.
pub struct Event {
    pub at: Instant,
    pub side: &'static str,
    pub what: What,
}

pub enum What {
    Leadership(LeadershipEvent),
    Connection(ConnectionState, Option<i64>),
}

impl Event {
    /// What happened to `side` just now.
    pub fn now(side: &'static str, what: What) -> Event {
        Event { at: Instant::now(), side, what }
    }

    pub fn is_revoke(&self) -> bool {
        matches!(self.what, What::Leadership(LeadershipEvent::Revoked { .. }))
    }

    fn describe(&self) -> String {
        match &self.what {
            What::Leadership(LeadershipEvent::Granted { leader_session, fencing_token, .. }) => {
                format!("granted      leader session {}, fencing token {fencing_token}", short(*leader_session))
            }
            What::Leadership(LeadershipEvent::Published { leader_session, .. }) => {
                format!("published    leader session {}", short(*leader_session))
            }
            What::Leadership(LeadershipEvent::Revoked { .. }) => "REVOKED".to_owned(),
            What::Leadership(LeadershipEvent::Error { error, .. }) => format!("error        {error}"),
            What::Leadership(other) => format!("{other:?}"),
            What::Connection(state, zk_session) => {
                let session = zk_session.map_or(String::new(), |id| format!(", ZooKeeper session {id:#x}"));
                format!("connection   {state:?}{session}")
            }
        }
    }
}

/// The leader session of a `Published` event.
pub fn published(event: &Event) -> Option<Uuid> {
    match event.what {
        What::Leadership(LeadershipEvent::Published { leader_session, .. }) => Some(leader_session),
        _ => None,
    }
}

/// The first eight hex digits of a leader session: enough to tell them apart.
pub fn short(session: Uuid) -> String {
    session.simple().to_string()[..8].to_owned()
}

/// The timeline: prints every event as the script takes it in, in the order it happened.
pub struct Story {
    t0: Instant,
    receiver: mpsc::UnboundedReceiver<Event>,
    /// Every event taken in so far, in order.
    pub seen: Vec<Event>,
}

impl Story {
    /// A story that starts now, with the events `receiver` brings.
    pub fn new(receiver: mpsc::UnboundedReceiver<Event>) -> Story {
        Story { t0: Instant::now(), receiver, seen: Vec::new() }
    }

    fn stamp(&self, at: Instant) -> String {
        format!("[{:>5} ms]", at.saturating_duration_since(self.t0).as_millis())
    }

    fn take(&mut self, event: Event) {
        println!("{}   {:<8} {}", self.stamp(event.at), event.side, event.describe());
        self.seen.push(event);
    }

    /// Prints a line of the script, after the events that came before it.
    pub fn say(&mut self, what: &str) {
        while let Ok(event) = self.receiver.try_recv() {
            self.take(event);
        }
        println!("{} {what}", self.stamp(Instant::now()));
    }

    /// Takes events in until `done` says so.
    pub async fn until(
        &mut self,
        deadline: Duration,
        what: &str,
        mut done: impl FnMut(&Event) -> bool,
    ) -> Result<(), String> {
        let end = tokio::time::Instant::now() + deadline;
        loop {
            match tokio::time::timeout_at(end, self.receiver.recv()).await {
                Ok(Some(event)) => {
                    let finished = done(&event);
                    self.take(event);
                    if finished {
                        return Ok(());
                    }
                }
                Ok(None) => return Err(format!("the event channel closed while waiting for {what}")),
                Err(_) => return Err(format!("no {what} within {deadline:?}")),
            }
        }
    }

    /// Takes events in for `period`.
    pub async fn settle(&mut self, period: Duration) {
        let end = tokio::time::Instant::now() + period;
        while let Ok(Some(event)) = tokio::time::timeout_at(end, self.receiver.recv()).await {
            self.take(event);
        }
    }
}
