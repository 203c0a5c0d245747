//! The checker: turns the record into leaderships, and those into verdicts (overlaps, gaps,
//! events after a stop) and the figures printed for every run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::{report, Cluster, Entry, FaultKind, Happened, Recorder, Slot};

/// One confirmed leadership of one incarnation: from its confirm to its revoke or stop.
#[derive(Clone, Debug)]
pub struct Leadership {
    pub slot: usize,
    pub incarnation: usize,
    pub leader_session: Uuid,
    pub start: Instant,
    pub end: Option<Instant>,
    /// The supervisor accepted the confirm.
    pub accepted: bool,
}

/// Every leadership in the record, in order of start.
pub fn leaderships(entries: &[Entry]) -> Vec<Leadership> {
    let mut all: Vec<Leadership> = Vec::new();
    let mut open: BTreeMap<usize, usize> = BTreeMap::new(); // incarnation → index in `all`
    for entry in entries {
        match &entry.what {
            Happened::Confirmed(leader_session) => {
                if let Some(previous) = open.remove(&entry.incarnation) {
                    all[previous].end = Some(entry.at); // a grant without a revoke: close it
                }
                open.insert(entry.incarnation, all.len());
                all.push(Leadership {
                    slot: entry.slot,
                    incarnation: entry.incarnation,
                    leader_session: *leader_session,
                    start: entry.at,
                    end: None,
                    accepted: false,
                });
            }
            Happened::ConfirmAnswered { leader_session, accepted } => {
                if let Some(l) = all
                    .iter_mut()
                    .rev()
                    .find(|l| l.incarnation == entry.incarnation && l.leader_session == *leader_session)
                {
                    l.accepted = *accepted;
                }
            }
            Happened::Revoked | Happened::Stopped => {
                if let Some(index) = open.remove(&entry.incarnation) {
                    all[index].end = Some(entry.at);
                }
            }
            _ => {}
        }
    }
    all
}

/// Leaderships not ended yet.
pub fn open_leaderships(entries: &[Entry]) -> Vec<Leadership> {
    leaderships(entries).into_iter().filter(|l| l.end.is_none()).collect()
}

/// Two incarnations leading at once, and for how long.
#[derive(Clone, Debug)]
pub struct Overlap {
    pub first: Leadership,
    pub second: Leadership,
    pub length: Duration,
}

pub fn overlaps(all: &[Leadership], now: Instant) -> Vec<Overlap> {
    let mut found = Vec::new();
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            if a.incarnation == b.incarnation {
                continue;
            }
            let start = a.start.max(b.start);
            let end = a.end.unwrap_or(now).min(b.end.unwrap_or(now));
            if start < end {
                found.push(Overlap { first: a.clone(), second: b.clone(), length: end - start });
            }
        }
    }
    found
}

/// The longest stretch between `from` and `to` in which nobody held a leadership.
pub fn longest_leaderless_gap(all: &[Leadership], from: Instant, to: Instant) -> Duration {
    longest_gap_at(all, from, to).0
}

/// The longest leaderless stretch and where it began.
pub fn longest_gap_at(all: &[Leadership], from: Instant, to: Instant) -> (Duration, Instant) {
    let mut spans: Vec<(Instant, Instant)> =
        all.iter().map(|l| (l.start.max(from), l.end.unwrap_or(to).min(to))).filter(|(s, e)| s < e).collect();
    spans.sort();
    let mut longest = (Duration::ZERO, from);
    let mut covered_until = from;
    for (start, end) in spans {
        if start > covered_until && start - covered_until > longest.0 {
            longest = (start - covered_until, covered_until);
        }
        covered_until = covered_until.max(end);
    }
    if to.saturating_duration_since(covered_until) > longest.0 {
        longest = (to - covered_until, covered_until);
    }
    longest
}

/// The shortest time between one contender's leadership ending and another's starting: how
/// close the run came to an overlap.
pub fn tightest_handover(all: &[Leadership]) -> Option<Duration> {
    all.windows(2)
        .filter(|pair| pair[0].slot != pair[1].slot)
        .filter_map(|pair| pair[0].end.map(|end| pair[1].start.saturating_duration_since(end)))
        .min()
}

/// Leaderships whose contender differs from the previous leadership's.
pub fn failovers(all: &[Leadership]) -> usize {
    all.windows(2).filter(|pair| pair[0].slot != pair[1].slot).count()
}

/// Events that reached an incarnation after it was stopped (must be none).
pub fn events_after_stop(entries: &[Entry]) -> Vec<Entry> {
    let mut stopped: BTreeMap<usize, Instant> = BTreeMap::new();
    let mut late = Vec::new();
    for entry in entries {
        match entry.what {
            Happened::Stopped => {
                stopped.insert(entry.incarnation, entry.at);
            }
            // The answer to a confirm sent before the stop may arrive after it.
            Happened::ConfirmAnswered { .. } => {}
            _ if stopped.contains_key(&entry.incarnation) => late.push(entry.clone()),
            _ => {}
        }
    }
    late
}

/// Grants whose fencing token did not grow: (previous token, this token) for each grant to
/// another incarnation with a token not above the one before, or to the same incarnation with
/// a smaller one (a re-grant on the same latch node keeps its token).
pub fn tokens_that_did_not_grow(entries: &[Entry]) -> Vec<(i64, i64)> {
    let mut last: Option<(usize, i64)> = None;
    let mut shrunk = Vec::new();
    for entry in entries {
        if let Happened::Granted { fencing_token, .. } = entry.what {
            if let Some((incarnation, previous)) = last {
                let grew =
                    if incarnation == entry.incarnation { fencing_token >= previous } else { fencing_token > previous };
                if !grew {
                    shrunk.push((previous, fencing_token));
                }
            }
            last = Some((entry.incarnation, fencing_token));
        }
    }
    shrunk
}

/// Figures of a run, printed at the end.
pub struct Figures {
    pub label: String,
    pub seed: u64,
    pub ran_for: Duration,
    pub terms: usize,
    pub failovers: usize,
    pub faults: BTreeMap<FaultKind, usize>,
    pub longest_gap: Duration,
    pub tightest_handover: Option<Duration>,
    /// Seconds into the run where the longest gap began.
    pub longest_gap_at: f64,
    pub overlaps: Vec<Overlap>,
    pub recovery: Duration,
    pub errors: BTreeMap<String, usize>,
    /// The run as text (printed when `CHAOS_TIMELINE` is set).
    pub timeline: String,
}

impl Figures {
    pub fn compute(label: &str, seed: u64, cluster: &Cluster, began: Instant, recovery: Duration) -> Figures {
        let entries = cluster.recorder.entries();
        let all = leaderships(&entries);
        let now = Instant::now();
        let mut faults = BTreeMap::new();
        for fault in cluster.recorder.faults() {
            *faults.entry(fault.kind).or_default() += 1;
        }
        let first = all.first().map_or(began, |l| l.start);
        Figures {
            timeline: cluster.timeline(),
            label: label.to_owned(),
            seed,
            ran_for: began.elapsed(),
            terms: all.len(),
            failovers: failovers(&all),
            tightest_handover: tightest_handover(&all),
            faults,
            longest_gap: longest_gap_at(&all, first, now).0,
            longest_gap_at: (longest_gap_at(&all, first, now).1 - first).as_secs_f64(),
            overlaps: overlaps(&all, now),
            recovery,
            errors: entries.iter().fold(BTreeMap::new(), |mut errors, e| {
                if let Happened::Error(text) = &e.what {
                    *errors.entry(text.clone()).or_default() += 1;
                }
                errors
            }),
        }
    }

    pub fn print(&self) {
        // CHAOS_TIMELINE=1 prints the run's timeline, CHAOS_TIMELINE=<file> writes it there.
        match std::env::var("CHAOS_TIMELINE").as_deref() {
            Ok("1") => report(&self.timeline),
            Ok(path) => std::fs::write(format!("{path}.{}", self.label), &self.timeline).expect("timeline file"),
            Err(_) => {}
        }
        let faults: Vec<String> = self.faults.iter().map(|(kind, n)| format!("{kind:?}={n}")).collect();
        let total: usize = self.faults.values().sum();
        report(&format!(
            "chaos[{}] seed={} ran={:.1}s faults={} ({}) leadership-terms={} failovers={} longest-leaderless-gap={}ms(at {:.1}s) \
             tightest-handover={:?} \
             recovery-after-last-heal={}ms error-events={:?} overlaps={}",
            self.label,
            self.seed,
            self.ran_for.as_secs_f64(),
            total,
            faults.join(" "),
            self.terms,
            self.failovers,
            self.longest_gap.as_millis(),
            self.longest_gap_at,
            self.tightest_handover,
            self.recovery.as_millis(),
            self.errors,
            self.overlaps.len(),
        ));
        for overlap in &self.overlaps {
            report(&format!(
                "chaos[{}]   overlap {}ms: slot {} (incarnation {}) and slot {} (incarnation {})",
                self.label,
                overlap.length.as_millis(),
                overlap.first.slot,
                overlap.first.incarnation,
                overlap.second.slot,
                overlap.second.incarnation
            ));
        }
    }
}

/// A readable timeline of the run (faults and contender events), relative to its start.
pub fn timeline(recorder: &Recorder, slots: &[Slot]) -> String {
    let entries = recorder.entries();
    let faults = recorder.faults();
    let Some(origin) = entries.first().map(|e| e.at).into_iter().chain(faults.first().map(|f| f.at)).min() else {
        return String::new();
    };
    let mut lines: Vec<(Instant, String)> = Vec::new();
    for e in &entries {
        let who = slots.get(e.slot).map_or("?", |s| s.address.as_str());
        lines.push((e.at, format!("{who} #{}: {:?}", e.incarnation, e.what)));
    }
    for f in &faults {
        lines.push((f.at, format!("FAULT {:?} {}", f.kind, f.target)));
        if let Some(healed) = f.healed {
            lines.push((healed, format!("HEAL  {:?} {}", f.kind, f.target)));
        }
    }
    lines.sort_by_key(|(at, _)| *at);
    lines
        .iter()
        .map(|(at, text)| format!("{:>9.3}s {text}", (*at - origin).as_secs_f64()))
        .collect::<Vec<_>>()
        .join("\n")
}
