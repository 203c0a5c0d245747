//! One round of one peer, which gives one sample of each figure:
//!
//! 1. on an empty election, start contender A: **time to first leader** = its start → it says it
//!    leads;
//! 2. start contender B and wait until it is a candidate (plus a short settle, so that B's own
//!    start-up is over);
//! 3. tell A to leave: **clean handover** = that moment → B says it leads;
//! 4. B leaves too, and the round ends once both are gone and the election is empty again.

use std::time::{Duration, Instant};

use crate::etcd::Etcd;
use crate::peer::{Announced, Peer};

/// After B is a candidate: time for it to finish what it does after joining (read the latch,
/// set its watch), so that the handover measures a standing candidate taking over. It is also
/// idle time, as a real standby's is: threads asleep, caches cooled (see BENCHMARKS.md: on this
/// machine a ZooKeeper round trip after 100 ms of idling costs ~4 times one right after another).
pub(crate) const SETTLE: Duration = Duration::from_millis(100);

/// What one round measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Measured {
    pub(crate) first_leader: Duration,
    pub(crate) first_granted: Option<Duration>,
    pub(crate) handover: Duration,
    pub(crate) handover_granted: Option<Duration>,
}

/// Runs one round; `tag` makes the addresses unique, `settle` is the pause before A leaves.
pub(crate) async fn round(peer: &Peer, etcd: Option<&Etcd>, tag: &str, settle: Duration) -> Result<Measured, String> {
    peer.await_candidates(0, etcd).await.map_err(|e| format!("before the round: {e}"))?;
    let start = Instant::now();
    let mut first = peer.spawn(&format!("{tag}-a:6123")).await?;
    let Announced { granted, leads } = first.announced().await.map_err(|e| format!("first leader: {e}"))?;
    let first_leader = leads.saturating_duration_since(start);
    let first_granted = granted.map(|g| g.saturating_duration_since(start));

    let mut second = peer.spawn(&format!("{tag}-b:6123")).await?;
    peer.await_candidates(2, etcd).await.map_err(|e| format!("second candidate: {e}"))?;
    tokio::time::sleep(settle).await;

    let left = first.leave().await?;
    let successor = second.announced().await.map_err(|e| format!("successor: {e}"))?;
    let handover = successor.leads.saturating_duration_since(left);
    let handover_granted = successor.granted.map(|g| g.saturating_duration_since(left));

    first.finish().await.map_err(|e| format!("leaving leader: {e}"))?;
    second.leave().await?;
    second.finish().await.map_err(|e| format!("second leader leaving: {e}"))?;
    Ok(Measured { first_leader, first_granted, handover, handover_granted })
}
