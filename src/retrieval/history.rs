//! The terms an observer saw: who led, from when to when, and how each term ended.
//!
//! How a term ended is read off the line of candidates, which a retriever lists when it knows
//! the latch path ([`LeaderRetriever::with_line`](super::LeaderRetriever::with_line)): once at
//! the start of each term and again when the next leader appears. ZooKeeper tells an observer
//! nothing more, so the reason is an inference, documented with [`TermEnd`].

use std::collections::VecDeque;
use std::time::SystemTime;

use actix::prelude::*;
use uuid::Uuid;

use crate::candidates::Candidate;

/// How many terms a retriever remembers unless told otherwise.
pub const DEFAULT_HISTORY: usize = 64;

/// How a leadership term ended, as the line of candidates shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TermEnd {
    /// The leader gave leadership up and queued again (a resign, a health step-down): its
    /// session stood in line again when the successor appeared, and the successor was next.
    Resigned,
    /// The leader handed over to a chosen successor: candidates that stood between the two lost
    /// their place (a transfer passes over them).
    Transferred,
    /// The successor has a higher priority than the leader had: a preferred leader took over
    /// (a transfer to a candidate of higher priority reads the same).
    Preempted,
    /// The leader left the line itself: it stopped, or it stepped down and sits out (a cooldown,
    /// a health step-down). Its session wrote the leave record as it deleted its place.
    Left,
    /// The leader's place in line vanished without its leave record: its session expired (the
    /// process crashed, froze, or was cut off for longer than its session timeout), or the
    /// session closed without leaving. A leader that writes no leave record (Curator's
    /// `LeaderLatch`, zk-election before 0.3) reads the same when it stops, and so does a latch
    /// node an operator deleted.
    SessionExpired,
    /// The leader stepped down while its connection was lost and led again on the same place in
    /// line once it was back (the standard connection-loss policy): the next term has the same
    /// ZooKeeper session and fencing token, and a new leader session.
    LostConnection,
    /// The retriever does not know the latch path, or could not list the line.
    Unknown,
}

impl TermEnd {
    /// The reason's name in JSON and logs: `resigned`, `transferred`, `preempted`, `left`,
    /// `session_expired`, `lost_connection`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            TermEnd::Resigned => "resigned",
            TermEnd::Transferred => "transferred",
            TermEnd::Preempted => "preempted",
            TermEnd::Left => "left",
            TermEnd::LostConnection => "lost_connection",
            TermEnd::SessionExpired => "session_expired",
            TermEnd::Unknown => "unknown",
        }
    }
}

/// One leadership term as an observer saw it.
#[derive(Clone, Debug, PartialEq, Eq, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub struct Term {
    /// The leader's address.
    pub address: String,
    /// The leader session ID of the term.
    pub leader_session: Uuid,
    /// The term's fencing token, when the codec carries one.
    pub fencing_token: Option<i64>,
    /// The ZooKeeper session that owned the leader node.
    pub zk_session: i64,
    /// When the observer first saw the term (this machine's clock); for the term found at
    /// start-up, that is later than it began.
    pub started: SystemTime,
    /// When the observer saw it end: the leader node went or named another leader.
    pub ended: Option<SystemTime>,
    /// How it ended; `None` while it lasts, and after its end until the successor appears
    /// (the successor is what tells).
    pub end: Option<TermEnd>,
}

/// Ask a [`LeaderRetriever`](super::LeaderRetriever) for the terms it remembers, oldest first.
#[derive(Clone, Copy, Debug, Message)]
#[rtype(result = "Vec<Term>")]
pub struct GetHistory;

/// Subscribe a recipient to the terms of a [`LeaderRetriever`](super::LeaderRetriever) that
/// ended: each is sent once, when the successor's arrival tells how it ended.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SubscribeTerms(pub Recipient<Term>);

/// A term and what is needed to tell how it ended.
#[derive(Debug)]
struct Record {
    term: Term,
    /// The line when the term began; `None` until listed (or without a latch path).
    line_at_start: Option<Vec<Candidate>>,
    /// Whether the observer saw the term begin (not found running at start-up).
    seen_start: bool,
}

/// The last terms of one leader path, oldest first.
#[derive(Debug)]
pub(super) struct History {
    records: VecDeque<Record>,
    capacity: usize,
}

impl History {
    pub(super) fn new(capacity: usize) -> History {
        History { records: VecDeque::new(), capacity: capacity.max(1) }
    }

    /// The node names `leader_session`: a new term unless it is the current one. Answers the
    /// term that began, if one did, and the tenure of the one it ended (if its start was seen).
    pub(super) fn leading(
        &mut self,
        address: &str,
        leader_session: Uuid,
        fencing_token: Option<i64>,
        zk_session: i64,
        now: SystemTime,
    ) -> Option<Began> {
        if self.current().is_some_and(|term| term.leader_session == leader_session) {
            return None;
        }
        let ended_tenure = self.vacant(now);
        // Not the first term this observer knows of: it saw this one begin.
        let seen_start = !self.records.is_empty();
        let term = Term {
            address: address.to_owned(),
            leader_session,
            fencing_token,
            zk_session,
            started: now,
            ended: None,
            end: None,
        };
        if self.records.len() == self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(Record { term, line_at_start: None, seen_start });
        Some(Began { ended_tenure, first: !seen_start })
    }

    /// The node names nobody: the current term, if any, ends. Answers its tenure if its start
    /// was seen.
    pub(super) fn vacant(&mut self, now: SystemTime) -> Option<std::time::Duration> {
        let record = self.records.back_mut().filter(|record| record.term.ended.is_none())?;
        record.term.ended = Some(now);
        record.seen_start.then(|| now.duration_since(record.term.started).unwrap_or_default())
    }

    /// The ZooKeeper session of the term before the one of `leader_session`, if its end is not
    /// told yet and `line` (listed as that term began) no longer holds a place of it: only then
    /// does the leave record tell how it ended.
    pub(super) fn gone_before(&self, leader_session: Uuid, line: &[Candidate]) -> Option<i64> {
        let index = self.records.iter().rposition(|record| record.term.leader_session == leader_session)?;
        let before = &self.records[index.checked_sub(1)?].term;
        let gone = before.end.is_none() && !line.iter().any(|candidate| candidate.zk_session == before.zk_session);
        gone.then_some(before.zk_session)
    }

    /// The line as listed just after the term of `leader_session` began: it is that term's
    /// line at start, and it tells how the term before it ended, with the session the latch's
    /// leave record names (`who_left`). Answers that term, once its end is known.
    pub(super) fn listed(
        &mut self,
        leader_session: Uuid,
        line: Option<Vec<Candidate>>,
        who_left: Option<i64>,
    ) -> Option<Term> {
        let index = self.records.iter().rposition(|record| record.term.leader_session == leader_session)?;
        let successor = self.records[index].term.zk_session;
        let successor_token = self.records[index].term.fencing_token;
        let mut told = None;
        if index > 0 {
            let before = &mut self.records[index - 1];
            if before.term.end.is_none() {
                let same_place = before.term.zk_session == successor && before.term.fencing_token == successor_token;
                before.term.end = Some(match (&before.line_at_start, &line) {
                    // The same session on the same latch node: it never left the line.
                    _ if same_place && successor_token.is_some() => TermEnd::LostConnection,
                    (Some(at_start), Some(now)) => {
                        why_it_ended(before.term.zk_session, at_start, now, successor, who_left)
                    }
                    _ => TermEnd::Unknown,
                });
                told = Some(before.term.clone());
            }
        }
        self.records[index].line_at_start = line;
        told
    }

    /// The term that lasts, if one does.
    pub(super) fn current(&self) -> Option<&Term> {
        self.records.back().map(|record| &record.term).filter(|term| term.ended.is_none())
    }

    pub(super) fn terms(&self) -> Vec<Term> {
        self.records.iter().map(|record| record.term.clone()).collect()
    }
}

/// A term began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Began {
    /// The tenure of the term it ended, if that one's start was seen.
    pub(super) ended_tenure: Option<std::time::Duration>,
    /// The first term this observer knows of (no transition seen).
    pub(super) first: bool,
}

/// How the term of the leader with session `ended` ended, from the line when it began
/// (`before`), the line once the leader with session `successor` took over (`after`) and the
/// session the latch's leave record names then (`who_left`).
fn why_it_ended(
    ended: i64,
    before: &[Candidate],
    after: &[Candidate],
    successor: i64,
    who_left: Option<i64>,
) -> TermEnd {
    let old_leader = before.iter().find(|candidate| candidate.zk_session == ended);
    let successor_now = after.iter().find(|candidate| candidate.zk_session == successor);
    if let (Some(old_leader), Some(successor_now)) = (old_leader, successor_now) {
        if successor_now.info.priority > old_leader.info.priority {
            return TermEnd::Preempted;
        }
    }
    // A hand-over deletes the place of every candidate that stood between the two.
    if let Some(successor_before) = before.iter().find(|candidate| candidate.zk_session == successor) {
        let passed_over = before
            .iter()
            .filter(|candidate| candidate.position < successor_before.position && candidate.zk_session != ended)
            .any(|candidate| !after.iter().any(|now| now.node == candidate.node));
        if passed_over {
            return TermEnd::Transferred;
        }
    }
    if after.iter().any(|candidate| candidate.zk_session == ended) {
        TermEnd::Resigned
    } else if who_left == Some(ended) {
        TermEnd::Left
    } else {
        TermEnd::SessionExpired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latch::CandidateInfo;

    fn candidate(position: usize, zk_session: i64, node: &str, priority: i32) -> Candidate {
        let info = CandidateInfo { id: format!("c{zk_session}"), priority, labels: Default::default() };
        Candidate { position, node: node.to_owned(), info, czxid: 100 + position as i64, zk_session }
    }

    #[test]
    fn how_terms_end() {
        let before = [candidate(0, 1, "n1", 0), candidate(1, 2, "n2", 0), candidate(2, 3, "n3", 0)];
        // 1 queued again behind 3; 2 leads.
        let resigned = [candidate(0, 2, "n2", 0), candidate(1, 3, "n3", 0), candidate(2, 1, "n4", 0)];
        assert_eq!(why_it_ended(1, &before, &resigned, 2, None), TermEnd::Resigned);
        // 1 is gone from the line, with its leave record: it left.
        assert_eq!(why_it_ended(1, &before, &resigned[..2], 2, Some(1)), TermEnd::Left);
        // Gone without one (or with the record of another leader's leave): its session ended.
        assert_eq!(why_it_ended(1, &before, &resigned[..2], 2, None), TermEnd::SessionExpired);
        assert_eq!(why_it_ended(1, &before, &resigned[..2], 2, Some(7)), TermEnd::SessionExpired);
        // 3 leads; 2, which stood between, lost its place and queued again.
        let transferred = [candidate(0, 3, "n3", 0), candidate(1, 1, "n4", 0), candidate(2, 2, "n5", 0)];
        assert_eq!(why_it_ended(1, &before, &transferred, 3, None), TermEnd::Transferred);
        // 3 has the higher priority.
        let before = [candidate(0, 1, "n1", 0), candidate(1, 2, "n2", 0), candidate(2, 3, "n3", 5)];
        let preempted = [candidate(0, 3, "n3", 5), candidate(1, 1, "n4", 0), candidate(2, 2, "n5", 0)];
        assert_eq!(why_it_ended(1, &before, &preempted, 3, None), TermEnd::Preempted);
        // A successor that joined after the term began passes over nobody.
        let late = [candidate(0, 9, "n9", 0), candidate(1, 1, "n4", 0)];
        assert_eq!(why_it_ended(1, &before[..1], &late, 9, None), TermEnd::Resigned);
    }

    #[test]
    fn the_leave_record_is_read_only_for_a_leader_gone_from_the_line() {
        let t0 = SystemTime::UNIX_EPOCH;
        let mut history = History::new(4);
        history.leading("a", Uuid::from_u128(1), Some(1), 1, t0);
        history.listed(Uuid::from_u128(1), Some(vec![candidate(0, 1, "n1", 0), candidate(1, 2, "n2", 0)]), None);
        history.leading("b", Uuid::from_u128(2), Some(2), 2, t0);
        let still_in_line = [candidate(0, 2, "n2", 0), candidate(1, 1, "n3", 0)];
        assert_eq!(history.gone_before(Uuid::from_u128(2), &still_in_line), None, "a resign: no record needed");
        let gone = [candidate(0, 2, "n2", 0)];
        assert_eq!(history.gone_before(Uuid::from_u128(2), &gone), Some(1));
        assert_eq!(history.gone_before(Uuid::from_u128(1), &gone), None, "no term before the first");
        let told = history.listed(Uuid::from_u128(2), Some(gone.to_vec()), Some(1)).expect("a's end");
        assert_eq!(told.end, Some(TermEnd::Left));
        assert_eq!(history.gone_before(Uuid::from_u128(2), &gone), None, "told once");
    }

    #[test]
    fn terms_are_kept_in_order_and_bounded() {
        let t0 = SystemTime::UNIX_EPOCH;
        let secs = std::time::Duration::from_secs;
        let mut history = History::new(2);
        let found = history.leading("a", Uuid::from_u128(1), Some(1), 1, t0).unwrap();
        assert!(found.first && found.ended_tenure.is_none(), "found running at start-up: no tenure");
        assert_eq!(history.leading("a", Uuid::from_u128(1), Some(1), 1, t0 + secs(1)), None, "a rewrite");
        let began = history.leading("b", Uuid::from_u128(2), Some(2), 2, t0 + secs(2)).unwrap();
        assert_eq!(began, Began { ended_tenure: None, first: false });
        assert_eq!(history.vacant(t0 + secs(5)), Some(secs(3)));
        assert_eq!(history.vacant(t0 + secs(6)), None, "nothing lasts");
        history.leading("c", Uuid::from_u128(3), Some(3), 3, t0 + secs(7));
        let told = history.listed(Uuid::from_u128(3), None, None).expect("b's end is known");
        assert_eq!(told.address, "b");
        let terms = history.terms();
        assert_eq!(terms.iter().map(|t| t.address.as_str()).collect::<Vec<_>>(), ["b", "c"]);
        assert_eq!((terms[0].ended, terms[0].end), (Some(t0 + secs(5)), Some(TermEnd::Unknown)));
        assert_eq!(history.current().map(|t| t.leader_session), Some(Uuid::from_u128(3)));
        // c's session leads again on its latch node (token 3) under a new leader session.
        history.vacant(t0 + secs(8));
        history.leading("c", Uuid::from_u128(4), Some(3), 3, t0 + secs(9));
        let told = history.listed(Uuid::from_u128(4), None, None).expect("c's end is known");
        assert_eq!(told.end, Some(TermEnd::LostConnection));
        // The same session on a new latch node (a resign of a lone candidate) is not that.
        history.leading("c", Uuid::from_u128(5), Some(7), 3, t0 + secs(10));
        let told = history.listed(Uuid::from_u128(5), None, None).expect("known");
        assert_eq!(told.end, Some(TermEnd::Unknown));
    }
}
