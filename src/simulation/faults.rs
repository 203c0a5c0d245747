//! The faults a simulation injects, and the seeded schedule of them.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

use super::wire::ProcessId;

/// One fault, or an operator's or contender's act, at a moment of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The process's connection is reset: both sides notice at once; what was in flight is lost
    /// (applied or not, nobody can tell).
    Cut { process: ProcessId },
    /// The process's packets are dropped both ways for `span`: only silence tells.
    Partition { process: ProcessId, span: Duration },
    /// The process's ZooKeeper client freezes for `span` (a GC pause, a stopped VM): it sends,
    /// reads and times nothing; what arrives meanwhile is read at once when it runs again.
    Pause { process: ProcessId, span: Duration },
    /// A server stops for `span`; its clients' connections reset. (Server 0 leads: stopping it
    /// loses the quorum.)
    ServerCrash { server: usize, span: Duration },
    /// No quorum for `span`: nothing is served, no session expires; afterwards every session's
    /// timeout counts afresh.
    QuorumLoss { span: Duration },
    /// The next request of the process is applied, but its answer is lost with the connection.
    LoseNextAnswer { process: ProcessId },
    /// The next request of the process reaches a server its session has moved away from: it
    /// is answered `SessionMoved`, then the connection closes. ZooKeeper does not apply such a
    /// request; the simulation applies it half the time, so that the election must treat the
    /// outcome as unknown, as `ZkError::SessionMoved` documents.
    SessionMoved { process: ProcessId },
    /// At its next reconnect the process gets a new session ID without any expiry of the old
    /// one (a server bug: ClickHouse Keeper's #116690).
    SilentNewSession { process: ProcessId },
    /// A follower applies the log `lag` late for `span` (its reads are that stale).
    SlowFollower { server: usize, lag: Duration, span: Duration },
    /// An operator deletes the latch node of the `nth` participant in line.
    DeleteLatchNode { nth: usize },
    /// An operator deletes the whole latch path, children first.
    DeleteLatchPath,
    /// An operator deletes the leader node.
    DeleteLeaderNode,
    /// An operator writes garbage into the leader node.
    GarbageLeaderNode,
    /// An operator locks the leader path's parent against creates for `span`.
    LockLeaderParent { span: Duration },
    /// The process's contender resigns (and queues again).
    Resign { process: ProcessId },
    /// Every election is asked to transfer leadership to the `nth` candidate in line (only the
    /// leader's can).
    Transfer { nth: usize },
    /// The process's contender reports itself unhealthy until the election steps down, and
    /// healthy again after `span`.
    Unhealthy { process: ProcessId, span: Duration },
    /// The process stops its election, and starts a new one on the same session after `after`.
    StopAndRejoin { process: ProcessId, after: Duration },
    /// The process stops its election and closes its session; a new process takes its place
    /// after `after`.
    Restart { process: ProcessId, after: Duration },
    /// The process dies without a word (its session expires on the server); a new one takes its
    /// place after `after`.
    Crash { process: ProcessId, after: Duration },
}

impl Fault {
    /// The process the fault strikes, if it strikes one.
    pub fn process(&self) -> Option<ProcessId> {
        match self {
            Fault::Cut { process }
            | Fault::Partition { process, .. }
            | Fault::Pause { process, .. }
            | Fault::LoseNextAnswer { process }
            | Fault::SessionMoved { process }
            | Fault::SilentNewSession { process }
            | Fault::Resign { process }
            | Fault::Unhealthy { process, .. }
            | Fault::StopAndRejoin { process, .. }
            | Fault::Restart { process, .. }
            | Fault::Crash { process, .. } => Some(*process),
            _ => None,
        }
    }

    /// How long the fault lasts, if it is undone later (the schedule keeps the last one's end
    /// inside the fault window).
    pub fn span(&self) -> Duration {
        match self {
            Fault::Partition { span, .. }
            | Fault::Pause { span, .. }
            | Fault::ServerCrash { span, .. }
            | Fault::QuorumLoss { span }
            | Fault::SlowFollower { span, .. }
            | Fault::LockLeaderParent { span }
            | Fault::Unhealthy { span, .. } => *span,
            Fault::StopAndRejoin { after, .. } | Fault::Restart { after, .. } | Fault::Crash { after, .. } => *after,
            _ => Duration::ZERO,
        }
    }
}

/// `faults` faults at seeded moments of `window`, against `processes` processes and `servers`
/// servers whose session timeouts are about `timeout`.
pub(crate) fn schedule(
    rng: &mut StdRng,
    faults: usize,
    window: Duration,
    processes: usize,
    servers: usize,
    timeout: Duration,
) -> Vec<(Duration, Fault)> {
    let ms = |rng: &mut StdRng, low: u64, high: u64| Duration::from_millis(rng.gen_range(low..=high));
    let span = |rng: &mut StdRng| {
        // Mostly shorter than the session timeout, sometimes well beyond it.
        let timeout_ms = timeout.as_millis() as u64;
        if rng.gen_bool(0.3) {
            ms(rng, timeout_ms, timeout_ms * 3)
        } else {
            ms(rng, 50, timeout_ms * 2 / 3)
        }
    };
    let mut plan = Vec::with_capacity(faults);
    let mut last: Option<(Duration, ProcessId)> = None;
    for _ in 0..faults {
        // A third of the faults strike the process the previous one struck, soon after: bugs
        // hide in compounds (a resign, then a stop, while a partition holds the first's
        // request), which faults spread evenly over the window would hardly ever make.
        let (at, process) = match last {
            Some((previous, process)) if rng.gen_bool(0.35) => (previous + ms(rng, 0, 400), process),
            _ => (ms(rng, 500, window.as_millis() as u64), rng.gen_range(0..processes)),
        };
        last = Some((at, process));
        let fault = match rng.gen_range(0..100) {
            0..=11 => Fault::Cut { process },
            12..=23 => Fault::Partition { process, span: span(rng) },
            24..=35 => Fault::Pause { process, span: span(rng) },
            36..=40 => Fault::ServerCrash { server: rng.gen_range(0..servers), span: span(rng) },
            41..=43 => Fault::QuorumLoss { span: span(rng) },
            44..=46 => Fault::LoseNextAnswer { process },
            47..=49 => Fault::SessionMoved { process },
            50..=52 => Fault::SilentNewSession { process },
            53..=57 => {
                Fault::SlowFollower { server: rng.gen_range(1..servers.max(2)), lag: ms(rng, 5, 1500), span: span(rng) }
            }
            58..=62 => Fault::DeleteLatchNode { nth: rng.gen_range(0..processes) },
            63..=64 => Fault::DeleteLatchPath,
            65..=68 => Fault::DeleteLeaderNode,
            69..=71 => Fault::GarbageLeaderNode,
            72..=73 => Fault::LockLeaderParent { span: span(rng) },
            74..=77 => Fault::Resign { process },
            78..=80 => Fault::Transfer { nth: rng.gen_range(1..processes.max(2)) },
            81..=83 => Fault::Unhealthy { process, span: span(rng) },
            84..=90 => Fault::StopAndRejoin { process, after: ms(rng, 10, 3000) },
            91..=95 => Fault::Restart { process, after: ms(rng, 10, 3000) },
            _ => Fault::Crash { process, after: ms(rng, 10, 3000) },
        };
        // Every fault is over by the window's end: the quiet phase after it judges liveness.
        let at = at.min(window.saturating_sub(fault.span()));
        plan.push((at, fault));
    }
    plan.sort_by_key(|(at, _)| *at);
    plan
}
