//! The seeded fault schedule: the main mix of contender and ZooKeeper member faults, and the
//! plans that inject and heal each fault.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zk_election::testkit::ZkEnsemble;
use zk_election::{ReportHealth, Resign, Transfer};

use super::{blocking, report, Cluster, FaultKind, Recorder, COMPONENT};

/// The seed of this run: `CHAOS_SEED` if set, else fresh. Printed so a failing run can be
/// replayed (the schedule replays; the timing of a real ensemble does not, exactly).
pub fn seed() -> u64 {
    match std::env::var("CHAOS_SEED") {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("CHAOS_SEED={text:?} is not a u64")),
        Err(_) => rand::random(),
    }
}

/// How long the main fault mix runs: `CHAOS_SECS` if set, else `default`.
pub fn duration(default: Duration) -> Duration {
    match std::env::var("CHAOS_SECS") {
        Ok(text) => Duration::from_secs_f64(text.trim().parse().unwrap_or_else(|_| panic!("CHAOS_SECS={text:?}"))),
        Err(_) => default,
    }
}

/// A seeded generator, seed printed.
pub fn rng(label: &str) -> (u64, StdRng) {
    let seed = seed();
    report(&format!("chaos[{label}] seed={seed} (set CHAOS_SEED to replay the schedule)"));
    (seed, StdRng::seed_from_u64(seed))
}

/// Parameters of the main mix.
pub struct Mix {
    pub duration: Duration,
    /// Chance that a contender fault comes with a concurrent ZooKeeper member fault.
    pub combine: f64,
    /// Chance that a contender fault targets the current leader.
    pub aim_at_leader: f64,
}

/// Runs the main fault mix for `mix.duration`: one episode after another, each a contender
/// fault, a member fault, or both at once; never more than one member down. Returns when the
/// last fault has healed.
pub async fn run_mix(cluster: &mut Cluster, rng: &mut StdRng, mix: &Mix) -> Instant {
    let started = Instant::now();
    let mut last_heal = Instant::now();
    while started.elapsed() < mix.duration {
        let contender_fault = rng.gen_bool(0.8);
        let member_fault = !contender_fault || rng.gen_bool(mix.combine);
        let member_plan = member_fault.then(|| MemberPlan::pick(rng, cluster.session_timeout));
        let contender_plan = contender_fault.then(|| {
            let leader = cluster.current_leader();
            let target = match leader {
                Some(leader) if rng.gen_bool(mix.aim_at_leader) => leader,
                _ => rng.gen_range(0..cluster.slots.len()),
            };
            ContenderPlan::pick(rng, target, cluster.session_timeout)
        });
        let ensemble = cluster.ensemble.clone();
        let recorder = cluster.recorder.clone();
        let member = async move {
            if let Some(plan) = member_plan {
                plan.run(&ensemble, &recorder).await;
            }
        };
        let contender = async {
            if let Some(plan) = contender_plan {
                plan.run(cluster).await;
            }
        };
        tokio::join!(member, contender);
        last_heal = Instant::now();
        if started.elapsed() < mix.duration {
            tokio::time::sleep(millis(rng, 100..1200)).await;
        }
    }
    last_heal
}

fn millis(rng: &mut StdRng, range: std::ops::Range<u64>) -> Duration {
    Duration::from_millis(rng.gen_range(range))
}

/// A fault of one contender: what, whom, how long.
#[derive(Debug)]
pub struct ContenderPlan {
    pub kind: FaultKind,
    pub target: usize,
    pub hold: Duration,
}

impl ContenderPlan {
    fn pick(rng: &mut StdRng, target: usize, timeout: Duration) -> ContenderPlan {
        let t = timeout.as_millis() as u64;
        let (kind, hold) = match rng.gen_range(0..100) {
            // Blackholes from "unnoticed" (< T/3) through "suspended" to "session lost" (> T).
            0..=34 => (FaultKind::BlackholeContender, millis(rng, 100..2 * t)),
            35..=59 => (FaultKind::CutContender, millis(rng, 50..t * 3 / 4)),
            60..=74 => (FaultKind::StopContender, millis(rng, 100..t)),
            75..=84 => (FaultKind::Resign, Duration::ZERO),
            85..=92 => (FaultKind::Transfer, Duration::ZERO),
            _ => (FaultKind::Unhealthy, millis(rng, 100..t)),
        };
        ContenderPlan { kind, target, hold }
    }

    pub async fn run(self, cluster: &mut Cluster) {
        let slot = &cluster.slots[self.target];
        let (address, proxy) = (slot.address.clone(), slot.proxy.clone());
        // A transfer goes to the next contender's address (wherever it stands in line).
        let successor = cluster.slots[(self.target + 1) % cluster.slots.len()].address.clone();
        let supervisor = slot.live.as_ref().map(|live| live.supervisor.clone());
        let recorder = cluster.recorder.clone();
        match self.kind {
            FaultKind::BlackholeContender => {
                let fault = recorder.fault(self.kind, address);
                proxy.blackhole();
                tokio::time::sleep(self.hold).await;
                proxy.pass();
                recorder.healed(fault);
            }
            FaultKind::CutContender => {
                let fault = recorder.fault(self.kind, address);
                let cutting = proxy.clone();
                blocking(move || cutting.cut()).await;
                tokio::time::sleep(self.hold).await;
                proxy.pass();
                recorder.healed(fault);
            }
            FaultKind::StopContender => {
                let fault = recorder.fault(self.kind, address);
                cluster.halt(self.target).await;
                tokio::time::sleep(self.hold).await;
                cluster.launch(self.target).await;
                recorder.healed(fault);
            }
            FaultKind::Resign => {
                let fault = recorder.fault(self.kind, address);
                if let Some(supervisor) = supervisor {
                    let _ = supervisor.send(Resign::new(COMPONENT)).await;
                }
                recorder.healed(fault);
            }
            FaultKind::Transfer => {
                let fault = recorder.fault(self.kind, format!("{address} to {successor}"));
                if let Some(supervisor) = supervisor {
                    let _ = supervisor.send(Transfer::to_address(successor)).await;
                }
                recorder.healed(fault);
            }
            FaultKind::Unhealthy => {
                let fault = recorder.fault(self.kind, address);
                let report = |healthy| ReportHealth { component: COMPONENT.to_owned(), healthy };
                if let Some(supervisor) = &supervisor {
                    for _ in 0..zk_election::config::DEFAULT_HEALTH_FAILURES {
                        let _ = supervisor.send(report(false)).await;
                    }
                }
                tokio::time::sleep(self.hold).await;
                if let Some(supervisor) = &supervisor {
                    let _ = supervisor.send(report(true)).await;
                }
                recorder.healed(fault);
            }
            other => unreachable!("not a contender fault: {other:?}"),
        }
    }
}

/// A fault of one ZooKeeper member.
#[derive(Debug)]
pub struct MemberPlan {
    pub kind: FaultKind,
    pub member: usize,
    pub hold: Duration,
}

impl MemberPlan {
    fn pick(rng: &mut StdRng, timeout: Duration) -> MemberPlan {
        let t = timeout.as_millis() as u64;
        let kind = if rng.gen_bool(0.5) { FaultKind::KillMember } else { FaultKind::PauseMember };
        MemberPlan { kind, member: rng.gen_range(0..3), hold: millis(rng, 200..t) }
    }

    pub async fn run(self, ensemble: &Arc<ZkEnsemble>, recorder: &Recorder) {
        let fault = recorder.fault(self.kind, format!("zk member {}", self.member));
        let (e, m) = (ensemble.clone(), self.member);
        match self.kind {
            FaultKind::KillMember => blocking(move || e.kill(m)).await.expect("kill member"),
            FaultKind::PauseMember => blocking(move || e.pause(m)).await.expect("pause member"),
            other => unreachable!("not a member fault: {other:?}"),
        }
        tokio::time::sleep(self.hold).await;
        let e = ensemble.clone();
        match self.kind {
            // Restart waits until every running member serves again.
            FaultKind::KillMember => blocking(move || e.restart(m)).await.expect("restart member"),
            _ => blocking(move || e.resume(m).and_then(|()| e.wait_serving())).await.expect("resume member"),
        }
        recorder.healed(fault);
    }
}
