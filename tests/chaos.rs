//! The randomized fault suite: K contenders, each with its own session behind its own proxy,
//! on a 3-node ensemble, under a seeded random schedule of partitions, cuts, member kills and
//! pauses, contender stops, resignations, transfers and health step-downs; then a checker over
//! the whole record (no overlap, tokens that only grow, nothing after a stop).
//!
//! `CHAOS_SEED` replays a schedule, `CHAOS_SECS` sets the length of each main mix (default
//! 22 s; the TLS mix runs half as long, so the four scenarios take about 75 s). Figures are printed for every run.

mod chaos_support;
mod common;

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chaos_support::*;
use rand::seq::SliceRandom;
use zk_election::ConnectionLossPolicy;

/// Session timeout of every contender: short, so that failovers are quick.
const SESSION_TIMEOUT: Duration = Duration::from_secs(2);
/// Contenders per run.
const CONTENDERS: usize = 4;
/// Liveness bound after the last fault heals (the "session timeout + 2 s").
const RECOVERY: Duration = Duration::from_secs(4);

/// The scenarios share two CPU cores with everything else; one at a time keeps their timing
/// honest.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run_alone(scenario: impl std::future::Future<Output = ()>) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    common::init_tracing();
    actix::System::new().block_on(scenario);
}

async fn main_mix(policy: ConnectionLossPolicy, label: &str) -> Figures {
    mix_over(Transport::Plain, policy, label, duration(Duration::from_secs(22))).await
}

async fn mix_over(transport: Transport, policy: ConnectionLossPolicy, label: &str, length: Duration) -> Figures {
    let (seed, mut rng) = rng(label);
    let began = Instant::now();
    let mut cluster = Cluster::start_over(transport, CONTENDERS, policy, SESSION_TIMEOUT).await;
    let mix = Mix { duration: length, combine: 0.25, aim_at_leader: 0.7 };
    run_mix(&mut cluster, &mut rng, &mix).await;
    let recovery = cluster.await_single_leader(RECOVERY).await;
    cluster.await_nobody_stuck(RECOVERY).await;
    let figures = Figures::compute(label, seed, &cluster, began, recovery);
    figures.print();
    let late = events_after_stop(&cluster.recorder.entries());
    assert!(late.is_empty(), "events reached stopped contenders: {late:?}");
    if policy == ConnectionLossPolicy::Standard && !figures.overlaps.is_empty() {
        panic!("{} overlaps under the Standard policy\n{}", figures.overlaps.len(), cluster.timeline());
    }
    if policy == ConnectionLossPolicy::Standard {
        let shrunk = tokens_that_did_not_grow(&cluster.recorder.entries());
        assert!(shrunk.is_empty(), "fencing tokens that did not grow: {shrunk:?}\n{}", cluster.timeline());
    }
    cluster.shutdown().await;
    figures
}

#[test]
fn chaos_standard_policy_never_has_two_leaders() {
    run_alone(async {
        let figures = main_mix(ConnectionLossPolicy::Standard, "standard").await;
        assert!(figures.terms > 1, "the mix caused no re-election at all");
    });
}

/// The same faults with every contender on mutual TLS: handshakes on every reconnect, through
/// the same proxies. Shorter than the main mixes (half their length by default).
#[test]
fn chaos_over_tls_never_has_two_leaders() {
    run_alone(async {
        let length = duration(Duration::from_secs(22)) / 2;
        let figures = mix_over(Transport::Tls, ConnectionLossPolicy::Standard, "standard-tls", length).await;
        assert!(figures.terms > 1, "the mix caused no re-election at all");
    });
}

#[test]
fn chaos_session_tolerant_policy_overlaps_are_reported_and_bounded() {
    run_alone(async {
        let figures = main_mix(ConnectionLossPolicy::SessionTolerant, "session-tolerant").await;
        // A tolerant leader declares Lost no later than one session timeout after the server
        // last heard from it, and nobody can succeed it before the server has heard nothing from
        // it for one session timeout: an overlap is only message delivery and scheduling delay
        // (a stalled thread on a busy machine), never anything near a whole session timeout.
        for overlap in &figures.overlaps {
            assert!(overlap.length < SESSION_TIMEOUT, "overlap of {:?}: {overlap:?}", overlap.length);
        }
    });
}

#[test]
fn chaos_quorum_lost_and_regained() {
    run_alone(async {
        let (seed, mut rng) = rng("quorum");
        let began = Instant::now();
        let cluster = Cluster::start(CONTENDERS, ConnectionLossPolicy::Standard, SESSION_TIMEOUT).await;
        let mut members = [0, 1, 2];
        members.shuffle(&mut rng);
        let (a, b) = (members[0], members[1]);

        // Brief: two members frozen for less than a session timeout; sessions survive.
        let fault = cluster.recorder.fault(FaultKind::QuorumLoss, format!("pause members {a},{b}"));
        let e = cluster.ensemble.clone();
        blocking(move || e.pause(a).and_then(|()| e.pause(b))).await.expect("pause two");
        tokio::time::sleep(SESSION_TIMEOUT / 2).await;
        let e = cluster.ensemble.clone();
        blocking(move || e.resume(a).and_then(|()| e.resume(b)).and_then(|()| e.wait_serving())).await.expect("resume");
        cluster.recorder.healed(fault);
        cluster.await_single_leader(RECOVERY).await;
        cluster.await_nobody_stuck(RECOVERY).await;

        // Long: two members killed for longer than a session timeout; every session is lost.
        let fault = cluster.recorder.fault(FaultKind::QuorumLoss, format!("kill members {a},{b}"));
        let e = cluster.ensemble.clone();
        blocking(move || e.kill(a).and_then(|()| e.kill(b))).await.expect("kill two");
        let lost_at = Instant::now();
        tokio::time::sleep(SESSION_TIMEOUT + Duration::from_secs(1)).await;
        assert!(
            cluster.current_leader().is_none(),
            "a leader still confirmed {:?} into a quorum loss\n{}",
            lost_at.elapsed(),
            cluster.timeline()
        );
        let e = cluster.ensemble.clone();
        blocking(move || e.restart(a).and_then(|()| e.restart(b))).await.expect("restart two");
        cluster.recorder.healed(fault);
        let recovery = cluster.await_single_leader(RECOVERY).await;
        cluster.await_nobody_stuck(RECOVERY).await;

        let figures = Figures::compute("quorum", seed, &cluster, began, recovery);
        figures.print();
        assert!(figures.overlaps.is_empty(), "overlaps across a quorum loss\n{}", cluster.timeline());
        cluster.shutdown().await;
    });
}
