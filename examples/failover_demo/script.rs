//! The script: the demo's steps, each waiting (within a deadline) for the timeline to show
//! what it expects; and the cast it starts and stops.

use std::time::{Duration, Instant};

use actix::prelude::*;
use zk_election::session::GetStatus;
use zk_election::testkit::{FaultProxy, Operator};
use zk_election::zk::Exists;
use zk_election::{StopSession, ZkSession};

use crate::actors::Observer;
use crate::cast::{address_of, start_session, Member, CAST, SESSION_TIMEOUT};
use crate::events::Log;
use crate::state::ContenderState;
use crate::summary::{Failover, Summary};
use crate::timeline::Timeline;
use crate::{Paths, STEP_DEADLINE};

/// How long the script lets things run after each step, so every leader leads for a moment.
const HOLD: Duration = Duration::from_millis(500);

/// The script, its timeline and the contenders it has started.
pub struct Demo {
    pub timeline: Timeline,
    log: Log,
    cast: Vec<Member>,
}

impl Demo {
    /// A demo with its timeline starting now, and nobody started yet.
    pub fn new() -> Demo {
        let (timeline, log) = Timeline::start();
        Demo { timeline, log, cast: Vec::new() }
    }

    /// Starts the observer on a session straight to ZooKeeper (no proxy); answers that session.
    pub async fn start_observer(&mut self, connect: &str, paths: &Paths) -> Result<Addr<ZkSession>, String> {
        let session = start_session(connect)?;
        Observer::start(session.clone(), paths.latch.clone(), paths.leader.clone(), self.log.clone());
        self.timeline
            .wait_until(STEP_DEADLINE, "the observer's ZooKeeper session", |state| {
                state.observer_connected.then_some(())
            })
            .await?;
        // ZooKeeper does not create a chroot; under a missing one every create fails.
        if let Some(chroot) = connect.find('/').map(|i| &connect[i..]) {
            let root = Operator::start(&session).send(Exists::new("/")).await;
            if !matches!(root, Ok(Ok(Some(_)))) {
                let _ = session.send(StopSession).await;
                return Err(format!("the chroot {chroot} does not exist on the server; create it first"));
            }
        }
        Ok(session)
    }

    /// Plays the steps of the module doc of `main.rs`; answers both failovers, or what did not
    /// happen in time.
    pub async fn script(&mut self, connect: &str, proxies: &[FaultProxy], paths: &Paths) -> Result<Summary, String> {
        // Joining one after the other makes the order in the latch, and so the story, the same
        // every run; nothing below depends on it.
        self.timeline.narrate("== alpha, bravo and charlie join the election, in that order");
        for (i, (name, address)) in CAST.into_iter().enumerate() {
            let member = self.join(name, address, &proxies[i], connect, paths).await?;
            self.cast.push(member);
            self.timeline
                .wait_until(STEP_DEADLINE, &format!("{name} in the latch"), |state| {
                    state.queue.as_ref().is_some_and(|queue| queue.iter().any(|id| id == address)).then_some(())
                })
                .await?;
        }
        let (first, _) = self
            .timeline
            .wait_until(STEP_DEADLINE, "a leader granted, published and seen in the leader node", |state| {
                state.visible_leader(&[])
            })
            .await?;
        self.timeline.hold(HOLD).await;

        // Failover 1: the leader leaves cleanly.
        self.timeline.narrate(&format!("== stopping {first} (clean shutdown: Stop, then StopSession)"));
        let step = Instant::now();
        self.stop_member(first).await;
        let (second, seen) = self
            .timeline
            .wait_until(STEP_DEADLINE, "a successor granted, published and seen in the leader node", |state| {
                state.visible_leader(&[first])
            })
            .await?;
        let clean = Failover {
            cause: "clean stop",
            from: first,
            to: second,
            took: seen.saturating_duration_since(step),
            detail: String::new(),
        };
        self.timeline.hold(HOLD).await;

        // Failover 2: the leader is partitioned from ZooKeeper.
        let partitioned = self.member(second);
        let negotiated = partitioned
            .session
            .send(GetStatus)
            .await
            .ok()
            .and_then(|status| status.negotiated_timeout)
            .unwrap_or(SESSION_TIMEOUT);
        let index = CAST.iter().position(|(name, _)| *name == second).expect("a cast member");
        self.timeline.narrate(&format!(
            "== partitioning {second} (blackhole: its ZooKeeper traffic is held, no connection is closed)"
        ));
        let step = Instant::now();
        proxies[index].blackhole();
        let takeover = 3 * negotiated + Duration::from_secs(5);
        let (third, seen) = self
            .timeline
            .wait_until(takeover, "the third contender to take over after the session timeout", |state| {
                state.visible_leader(&[first, second])
            })
            .await?;
        let revoked_after = self
            .timeline
            .wait_until(STEP_DEADLINE, &format!("{second} to be revoked"), |state| {
                state.contenders.get(second).and_then(|c| c.revoked_at).filter(|at| *at >= step)
            })
            .await?
            .saturating_duration_since(step);
        let partition = Failover {
            cause: "partition",
            from: second,
            to: third,
            took: seen.saturating_duration_since(step),
            detail: format!(
                "({second} revoked itself after {} ms; session timeout {} ms)",
                revoked_after.as_millis(),
                negotiated.as_millis()
            ),
        };
        self.timeline.hold(HOLD).await;

        // The partition heals: the old leader comes back as a follower.
        self.timeline.narrate(&format!("== healing {second} (pass)"));
        proxies[index].pass();
        let expected_queue = [address_of(third), address_of(second)];
        self.timeline
            .wait_until(
                4 * negotiated + STEP_DEADLINE,
                &format!("{second} back in the latch behind {third}"),
                |state| {
                    let back = state.queue.as_ref().is_some_and(|queue| queue.as_slice() == expected_queue);
                    let connected = state.contenders.get(second).is_some_and(|c| c.connected);
                    (back && connected).then_some(())
                },
            )
            .await?;
        self.timeline.hold(HOLD).await;
        if self.timeline.state.contenders.get(second).is_some_and(|c| c.granted.is_some()) {
            return Err(format!("{second} was granted leadership again after rejoining"));
        }
        if self.timeline.state.visible_leader(&[first, second]).is_none_or(|(leader, _)| leader != third) {
            return Err(format!("{third} lost the leader node when {second} rejoined"));
        }
        self.timeline.narrate(&format!("== {second} rejoined as a follower; {third} still leads"));
        Ok(Summary { failovers: vec![clean, partition] })
    }

    /// Starts a contender, and follows its state in the timeline from then on.
    async fn join(
        &mut self,
        name: &'static str,
        address: &'static str,
        proxy: &FaultProxy,
        connect: &str,
        paths: &Paths,
    ) -> Result<Member, String> {
        self.timeline.state.contenders.insert(name, ContenderState::default());
        Member::join(name, address, proxy, connect, paths, &self.log).await
    }

    fn member(&self, name: &str) -> &Member {
        self.cast.iter().find(|m| m.name == name).expect("a cast member")
    }

    /// Stops one contender, once.
    async fn stop_member(&mut self, name: &'static str) {
        let Some(member) = self.cast.iter_mut().find(|m| m.name == name && !m.stopped) else { return };
        member.stopped = true;
        member.stop(&self.log).await;
    }

    /// Stops every contender still running, the leader last.
    pub async fn stop_all(&mut self) {
        let mut running: Vec<&'static str> = self.cast.iter().filter(|m| !m.stopped).map(|m| m.name).collect();
        if running.is_empty() {
            return;
        }
        // Followers first: stopping the leader first would hand leadership to a follower that is
        // about to stop too.
        running.sort_by_key(|name| self.timeline.state.contenders.get(name).and_then(|c| c.granted).is_some());
        self.timeline.narrate(&format!("== stopping {}", running.join(" and ")));
        for name in running {
            self.stop_member(name).await;
        }
    }
}
