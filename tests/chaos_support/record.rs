//! The record of a run: what each contender incarnation was told and did, and which faults the
//! schedule injected and when they healed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use actix::prelude::*;
use uuid::Uuid;
use zk_election::testkit::RecordingContender;
use zk_election::{ElectionSupervisor, LeadershipEvent};

/// What happened to a contender incarnation (one session + supervisor + contender).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Happened {
    Granted {
        leader_session: Uuid,
        fencing_token: i64,
    },
    /// The contender confirmed (sent at once on grant): from here it acts as leader.
    Confirmed(Uuid),
    /// The supervisor's answer to the confirm.
    ConfirmAnswered {
        leader_session: Uuid,
        accepted: bool,
    },
    Published(Uuid),
    Revoked,
    /// The test stopped the incarnation (recorded before the stop is sent).
    Stopped,
    Error(String),
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub at: Instant,
    pub slot: usize,
    pub incarnation: usize,
    pub what: Happened,
}

/// A fault the schedule injected, and when it healed.
#[derive(Clone, Debug)]
pub struct FaultEntry {
    pub kind: FaultKind,
    pub target: String,
    pub at: Instant,
    pub healed: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    BlackholeContender,
    CutContender,
    KillMember,
    PauseMember,
    StopContender,
    Resign,
    /// The leader hands leadership to a named candidate (a follower: refused).
    Transfer,
    /// The contender reports itself unhealthy until it steps down, then healthy after the hold.
    Unhealthy,
    QuorumLoss,
}

/// Shared, append-only record of a run.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Record>>,
}

#[derive(Default)]
struct Record {
    entries: Vec<Entry>,
    faults: Vec<FaultEntry>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder { inner: Arc::new(Mutex::new(Record::default())) }
    }
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn note(&self, slot: usize, incarnation: usize, what: Happened) {
        self.lock().entries.push(Entry { at: Instant::now(), slot, incarnation, what });
    }

    pub fn fault(&self, kind: FaultKind, target: impl Into<String>) -> usize {
        let mut record = self.lock();
        record.faults.push(FaultEntry { kind, target: target.into(), at: Instant::now(), healed: None });
        record.faults.len() - 1
    }

    pub fn healed(&self, fault: usize) {
        self.lock().faults[fault].healed = Some(Instant::now());
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.clone()
    }

    pub fn faults(&self) -> Vec<FaultEntry> {
        self.lock().faults.clone()
    }

    /// A contender for incarnation `incarnation` in slot `slot` that confirms every grant at once
    /// and notes everything it is told, and the supervisor's answer to each confirm.
    pub fn contender(
        &self,
        slot: usize,
        incarnation: usize,
        supervisor: Addr<ElectionSupervisor>,
    ) -> RecordingContender {
        let (events, answers) = (self.clone(), self.clone());
        RecordingContender::new(supervisor, move |_at, event| events.note_event(slot, incarnation, event))
            .on_confirm_answer(move |leader_session, answer| {
                let accepted = answer.is_ok();
                answers.note(slot, incarnation, Happened::ConfirmAnswered { leader_session, accepted });
            })
    }

    fn note_event(&self, slot: usize, incarnation: usize, event: LeadershipEvent) {
        match event {
            LeadershipEvent::Granted { leader_session, fencing_token, .. } => {
                self.note(slot, incarnation, Happened::Granted { leader_session, fencing_token });
                // Noted before the confirm is sent: from here the contender acts as leader.
                self.note(slot, incarnation, Happened::Confirmed(leader_session));
            }
            LeadershipEvent::Revoked { .. } => self.note(slot, incarnation, Happened::Revoked),
            LeadershipEvent::Published { leader_session, .. } => {
                self.note(slot, incarnation, Happened::Published(leader_session))
            }
            LeadershipEvent::Error { error, .. } => self.note(slot, incarnation, Happened::Error(error.to_string())),
            // The enum is non-exhaustive: teach the recorder any event added to it.
            other => unreachable!("an event the chaos recorder does not know: {other:?}"),
        }
    }
}
