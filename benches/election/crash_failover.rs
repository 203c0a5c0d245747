//! Crash failover: the leader's connection is blackholed; the successor's node is seen; the
//! figure is that time minus the session timeout, split at the moment the server logged the
//! expiry.

use std::path::Path;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::json;
use tokio::sync::mpsc;
use zk_election::session::GetStatus;
use zk_election::testkit::FaultProxy;
use zk_election::{ElectionSupervisor, LeadershipEvent, StopElection, ZkSession};

use crate::observer::{await_node, Node, Observer, Seen, StopObserver};
use crate::setup::{
    await_children, close_sessions, connect, connected, drain_into, join_now, session, stop, Bench, Event,
    EVENT_DEADLINE, SECOND,
};
use crate::stats::{round3, row, Outcome, Samples};

const CRASH_RUNS: usize = 10;
const CRASH_SESSION_TIMEOUT: Duration = Duration::from_secs(2);

/// The leader's connection is blackholed; the successor's node is seen; minus the timeout.
pub(crate) async fn crash_failover(bench: &Bench) -> Result<Outcome, String> {
    let mut samples = CrashSamples::default();
    for run in 0..CRASH_RUNS {
        crash_once(bench, run, &mut samples).await?;
    }
    Ok(samples.outcome(bench.tick))
}

/// What the runs measured, in milliseconds.
#[derive(Default)]
struct CrashSamples {
    over: Samples,
    revoked: Samples,
    expiry_after: Samples,
    published_after_expiry: Samples,
    negotiated_ms: Vec<u64>,
}

/// One run: blackhole the leader at a random moment and time the successor's node.
async fn crash_once(bench: &Bench, run: usize, samples: &mut CrashSamples) -> Result<(), String> {
    let mut crash = CrashRun::start(bench, run).await?;
    samples.negotiated_ms.push(crash.negotiated.as_millis() as u64);
    // A crash comes at a random moment: without this pause every run would start at the
    // same phase of the server's tick (the setup follows the previous run's expiry) and
    // of the client's ping schedule, and the ten runs would sample only one point.
    let phase = 200.0 + 500.0 * rand::random::<f64>();
    tokio::time::sleep(Duration::from_secs_f64(phase / 1000.0)).await;

    let start = Instant::now();
    let wall_start = std::time::SystemTime::now();
    crash.proxy.blackhole();
    let successor = crash.successor_address.clone();
    let limit = crash.negotiated + 5 * SECOND;
    let at =
        await_node(&mut crash.seen, limit, "successor's node", |n| *n == Node::Leader(successor.clone())).await?.at;
    let took_ms = at.saturating_duration_since(start).as_secs_f64() * 1000.0;
    let negotiated_ms = crash.negotiated.as_secs_f64() * 1000.0;
    samples.over.push_ms(took_ms - negotiated_ms);
    // Split at the moment the server logged the expiry (millisecond log stamps).
    let expired = crash
        .crashing_id
        .and_then(|id| logged_expiry_ms_of_day(&bench.zk_log, id))
        .zip(local_ms_of_day(wall_start))
        .map(|(expiry, blackholed)| (expiry - blackholed).rem_euclid(86_400_000.0));
    if let Some(expired) = expired {
        samples.expiry_after.push_ms(expired - negotiated_ms);
        samples.published_after_expiry.push_ms(took_ms - expired);
    }
    let own_revoke = |e: &Event| e.tag == 0 && matches!(e.event, LeadershipEvent::Revoked { .. });
    drain_into(&mut crash.events, start, own_revoke, &mut samples.revoked);
    crash.tear_down().await;
    Ok(())
}

/// A leader in a session behind its own proxy, a successor queued behind it in a session of its
/// own, and an observer of the leader node.
struct CrashRun {
    observer: Addr<Observer>,
    seen: mpsc::UnboundedReceiver<Seen>,
    proxy: FaultProxy,
    crashing: Addr<ZkSession>,
    crashing_id: Option<i64>,
    negotiated: Duration,
    crash_supervisor: Addr<ElectionSupervisor>,
    successor_session: Addr<ZkSession>,
    successor: Addr<ElectionSupervisor>,
    successor_address: String,
    /// Events of the crashing leader (tag 0) and the successor (tag 1).
    events: mpsc::UnboundedReceiver<Event>,
}

impl CrashRun {
    /// Sets up run `run` on paths of its own and waits until the leader published and the
    /// successor is in the latch.
    async fn start(bench: &Bench, run: usize) -> Result<CrashRun, String> {
        let latch = format!("/bench/crash/{run}/latch");
        let leader_path = format!("/bench/crash/{run}/leader");
        let (observer, mut seen) = Observer::start(&bench.observer, &leader_path);
        await_node(&mut seen, EVENT_DEADLINE, "initial read", |n| *n == Node::Absent).await?;
        let proxy = FaultProxy::for_connect_string(&bench.connect).map_err(|e| e.to_string())?;
        let crashing = session(&proxy.connect_string(), CRASH_SESSION_TIMEOUT)?;
        let negotiated = connected(&crashing, 15 * SECOND).await?;
        let crashing_id = crashing.send(GetStatus).await.map_err(|e| e.to_string())?.zk_session;
        let (events, mut event_rx) = mpsc::unbounded_channel();
        let crash_address = format!("crash-{run}:6123");
        let crash_supervisor = join_now(&crashing, &latch, &leader_path, &crash_address, 0, &events).await?;
        await_node(&mut seen, EVENT_DEADLINE, "crashing leader's node", |n| *n == Node::Leader(crash_address.clone()))
            .await?;
        let successor_session = connect(&bench.connect, 6 * SECOND).await?;
        let successor_address = format!("successor-{run}:6123");
        let successor = join_now(&successor_session, &latch, &leader_path, &successor_address, 1, &events).await?;
        await_children(&bench.observer, &latch, 2, EVENT_DEADLINE).await?;
        while event_rx.try_recv().is_ok() {}
        Ok(CrashRun {
            observer,
            seen,
            proxy,
            crashing,
            crashing_id,
            negotiated,
            crash_supervisor,
            successor_session,
            successor,
            successor_address,
            events: event_rx,
        })
    }

    /// Tears down the crashed side first (its close cannot reach the server), then the rest.
    async fn tear_down(self) {
        self.proxy.stop();
        self.crash_supervisor.do_send(StopElection);
        let _ = stop(&self.successor).await;
        self.observer.do_send(StopObserver);
        close_sessions([self.crashing, self.successor_session]).await;
    }
}

impl CrashSamples {
    fn outcome(&self, tick: Option<Duration>) -> Outcome {
        let median = self.over.median();
        let max = self.over.max();
        let tick_ms = tick.map(|t| t.as_secs_f64() * 1000.0);
        let target = tick_ms.map(|t| 2.0 * t + 50.0);
        let met = target.map(|t| max <= t);
        let values = |samples: &Samples| samples.0.iter().map(|v| round3(*v)).collect::<Vec<_>>();
        Outcome {
            rows: vec![row(
                "crash_failover_over_timeout_ms median/max",
                format!("{median:.1} / {max:.1}"),
                &match (tick_ms, target) {
                    (Some(t), Some(x)) => format!("≤ 2 ticks + 50 = {x:.0} (tick {t:.0})"),
                    _ => "≤ 2 ticks + 50".to_owned(),
                },
                met,
            )],
            json: json!({
                "runs": self.over.len(),
                "requested_session_timeout_ms": CRASH_SESSION_TIMEOUT.as_millis() as u64,
                "negotiated_session_timeout_ms": self.negotiated_ms,
                "server_tick_ms": tick_ms,
                "over_timeout_ms": self.over.summary(),
                "values_ms": values(&self.over),
                "crashed_leader_revoked_itself_after_ms": self.revoked.summary(),
                "server_logged_expiry_over_timeout_ms": self.expiry_after.summary(),
                "server_logged_expiry_over_timeout_values_ms": values(&self.expiry_after),
                "successor_seen_after_logged_expiry_ms": self.published_after_expiry.summary(),
                "target_ms": target,
                "met": met,
            }),
        }
    }
}

/// Milliseconds since local midnight of a wall-clock time (the server logs local times).
fn local_ms_of_day(time: std::time::SystemTime) -> Option<f64> {
    let since_epoch = time.duration_since(std::time::UNIX_EPOCH).ok()?;
    let secs = since_epoch.as_secs() as libc::time_t;
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: localtime_r writes the struct it is given and reads only `secs`.
    let tm = unsafe {
        if libc::localtime_r(&secs, tm.as_mut_ptr()).is_null() {
            return None;
        }
        tm.assume_init()
    };
    let seconds = tm.tm_hour as f64 * 3600.0 + tm.tm_min as f64 * 60.0 + tm.tm_sec as f64;
    Some(seconds * 1000.0 + since_epoch.subsec_nanos() as f64 / 1e6)
}

/// Milliseconds since midnight at which the server logged `Expiring session 0x{zk_session}`.
fn logged_expiry_ms_of_day(log: &Path, zk_session: i64) -> Option<f64> {
    let needle = format!("Expiring session 0x{zk_session:x},");
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.contains(&needle))?;
    // slf4j-simple with showDateTime: "HH:mm:ss.SSS [thread] INFO ..."
    let stamp = line.split_whitespace().next()?;
    let (hms, millis) = stamp.split_once('.')?;
    let mut parts = hms.split(':').map(|p| p.parse::<f64>().ok());
    let (h, m, s) = (parts.next()??, parts.next()??, parts.next()??);
    Some(((h * 60.0 + m) * 60.0 + s) * 1000.0 + millis.parse::<f64>().ok()?)
}
