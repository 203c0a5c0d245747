//! `GET /leader/watch`: the observations as server-sent events, each with an `id:` that a
//! client hands back as `Last-Event-ID` to resume without losing a change.
//!
//! An id is `<run>.<sequence>`: `run` names this sidecar's process, so that an id from an
//! earlier process (whose sequence numbers started over) is never taken for one of ours.

use std::collections::VecDeque;

use zk_election::Observation;

/// Something numbered in order: an observation (a plain number in tests).
pub trait Sequenced: Clone {
    fn sequence(&self) -> u64;
}

impl Sequenced for Observation {
    fn sequence(&self) -> u64 {
        self.sequence
    }
}

/// How many observations a sidecar keeps for streams to resume from.
pub const REMEMBERED: usize = 256;

/// The last observations, oldest first.
#[derive(Debug)]
pub struct Recent<T = Observation> {
    run: u32,
    observations: VecDeque<T>,
}

/// What a stream must send next.
#[derive(Debug, PartialEq, Eq)]
pub enum Due<T = Observation> {
    /// These, in order (possibly none).
    Changes(Vec<T>),
    /// Changes were lost (evicted, or the id is not ours): the latest, marked as a restart.
    Gap(Option<T>),
}

impl<T: Sequenced> Recent<T> {
    pub fn new(run: u32) -> Recent<T> {
        Recent { run, observations: VecDeque::with_capacity(REMEMBERED) }
    }

    pub fn push(&mut self, observation: T) {
        if self.observations.len() == REMEMBERED {
            self.observations.pop_front();
        }
        self.observations.push_back(observation);
    }

    pub fn latest(&self) -> Option<&T> {
        self.observations.back()
    }

    /// The event id of `observation`.
    pub fn id(&self, observation: &T) -> String {
        format!("{:x}.{}", self.run, observation.sequence())
    }

    /// The sequence number a `Last-Event-ID` names, if it is one of this run's.
    pub fn sequence_of(&self, id: &str) -> Option<u64> {
        let (run, sequence) = id.split_once('.')?;
        (u32::from_str_radix(run, 16).ok()? == self.run).then_some(())?;
        sequence.parse().ok()
    }

    /// What follows the observation numbered `sent`.
    pub fn after(&self, sent: u64) -> Due<T> {
        let latest = self.latest().map_or(0, Sequenced::sequence);
        let oldest = self.observations.front().map_or(1, Sequenced::sequence);
        if sent > latest || sent + 1 < oldest {
            return Due::Gap(self.latest().cloned());
        }
        Due::Changes(self.observations.iter().filter(|o| o.sequence() > sent).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Sequenced for u64 {
        fn sequence(&self) -> u64 {
            *self
        }
    }

    #[test]
    fn streams_resume_or_say_they_cannot() {
        let mut recent: Recent<u64> = Recent::new(0xab);
        assert_eq!(recent.after(0), Due::Changes(vec![]), "nothing yet");
        for sequence in 1..=(REMEMBERED as u64 + 10) {
            recent.push(sequence);
        }
        let latest = REMEMBERED as u64 + 10;
        assert_eq!(recent.id(&7), "ab.7");
        assert_eq!(recent.sequence_of("ab.7"), Some(7));
        assert_eq!(recent.sequence_of("ac.7"), None, "another run's id");
        assert_eq!(recent.sequence_of("ab.x"), None);
        assert_eq!(recent.sequence_of("7"), None);
        assert_eq!(recent.after(latest), Due::Changes(vec![]), "up to date");
        assert_eq!(recent.after(latest - 2), Due::Changes(vec![latest - 1, latest]));
        assert_eq!(recent.after(10), Due::Changes((11..=latest).collect()), "the oldest kept follows");
        assert_eq!(recent.after(9), Due::Gap(Some(latest)), "11 was evicted");
        assert_eq!(recent.after(latest + 1), Due::Gap(Some(latest)), "from the future: not ours");
    }
}
