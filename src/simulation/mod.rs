//! A deterministic simulation of ZooKeeper for the election's actors (feature `simulation`).
//!
//! The latch, the leader-node cache and the supervisor run unchanged against a simulated
//! ensemble instead of a real one: they reach it through the same seam (`crate::port`) as they
//! reach a `ZkSession`. One seed decides everything — network delays, which server a client
//! reaches, every fault and when it strikes, the UUIDs the election draws — and time is
//! simulated (a paused tokio clock that jumps to the next timer), so a run of a minute takes a
//! few milliseconds and the same seed replays the same run, event for event.
//!
//! What a run does: a few processes (each a simulated session, an election supervisor and a
//! contender that confirms its grants, sometimes late) contend on one latch while faults strike
//! for [`SimConfig::window`]: connection resets and partitions, process pauses, server crashes
//! and quorum loss, answers lost after their request applied, a server that hands out a new
//! session without expiring the old, lagging followers, operators deleting latch and leader
//! nodes or locking the leader path, resignations, stops, restarts and crashes of contenders.
//! After every step the checker (`properties.rs`) looks for two leaders at once, shrinking
//! fencing tokens, events after a stop, confirms of revoked leaderships; after the faults end the
//! election must settle within [`SimConfig::settle`] (one leader, published), and once every
//! election is stopped nothing of ours may be left in the tree.
//!
//! The model and its limits are in `TESTING.md`.

mod client;
mod ensemble;
mod faults;
mod properties;
mod tree;
mod wire;
mod world;

use std::time::Duration;

use tokio::sync::oneshot;

use crate::policy::ConnectionLossPolicy;
pub use faults::Fault;

/// Where the simulated election lives.
pub(crate) const LATCH: &str = "/sim/latch";
/// Where its leader publishes.
pub(crate) const LEADER_PATH: &str = "/sim/leader/jm";
/// The contenders' component name.
pub(crate) const COMPONENT: &str = "jm";

/// What one run simulates.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Decides every choice of the run.
    pub seed: u64,
    /// Contending processes.
    pub processes: usize,
    /// Servers of the ensemble (the first leads).
    pub servers: usize,
    /// The session timeout the clients ask for.
    pub session_timeout: Duration,
    /// The servers' tick: negotiated timeouts lie in 2..=20 ticks.
    pub tick: Duration,
    /// The connection-loss policy of every election.
    pub policy: ConnectionLossPolicy,
    /// Faults scheduled in the window (when no script is given).
    pub faults: usize,
    /// How long faults strike.
    pub window: Duration,
    /// How long after the window the election must have settled.
    pub settle: Duration,
    /// Faults at given moments instead of seeded ones (the named scenarios).
    pub script: Option<Vec<(Duration, Fault)>>,
    /// Whether a session whose ID changed across a reconnect counts as lost (as `ZkSession`
    /// does); off only to show what trusting it would cost.
    pub detect_new_session_ids: bool,
    /// A one-way delay every packet takes on top of the seeded one (a slow or distant link).
    pub link_delay: Duration,
    /// Whether each election joins with a seeded priority in 0..=2 (so that leaders hand over
    /// to candidates of higher priority), or all with 0.
    pub priorities: bool,
    /// How long a contender that led waits before it queues again.
    pub cooldown: Duration,
}

impl SimConfig {
    /// The run of `seed`: its size, timing and policy drawn from the seed too.
    pub fn seeded(seed: u64) -> SimConfig {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed_cafe);
        let session_timeout = Duration::from_millis(rng.gen_range(2000..=6000));
        SimConfig {
            seed,
            processes: rng.gen_range(2..=5),
            servers: 3,
            session_timeout,
            tick: Duration::from_millis(200),
            policy: if rng.gen_bool(0.5) {
                ConnectionLossPolicy::Standard
            } else {
                ConnectionLossPolicy::SessionTolerant
            },
            faults: rng.gen_range(20..=40),
            window: Duration::from_secs(60),
            settle: session_timeout * 3 + Duration::from_secs(7),
            script: None,
            detect_new_session_ids: true,
            link_delay: Duration::ZERO,
            priorities: rng.gen_bool(0.5),
            cooldown: if rng.gen_bool(0.5) { Duration::from_millis(rng.gen_range(0..=1500)) } else { Duration::ZERO },
        }
    }
}

/// What one run saw.
#[derive(Debug)]
pub struct Outcome {
    /// Its seed.
    pub seed: u64,
    /// Simulated time it covered.
    pub simulated: Duration,
    /// Faults that struck.
    pub faults: u64,
    /// What broke (the run stops at the first).
    pub violations: Vec<String>,
    /// Every event, one line each, with its simulated time.
    pub log: Vec<String>,
}

thread_local! {
    /// Set on a simulation's thread while it runs: a panic there is a finding, recorded here.
    static PANICKED: std::cell::RefCell<Option<Option<String>>> = const { std::cell::RefCell::new(None) };
}

/// A panic in any actor of a simulation ends the run and is reported as a violation. (The
/// runtime would otherwise abort just the actor's task and leave the others running forever.)
fn watch_for_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let simulating = PANICKED.with(|slot| {
                let mut slot = slot.borrow_mut();
                match slot.as_mut() {
                    Some(recorded) => {
                        recorded.get_or_insert_with(|| info.to_string());
                        true
                    }
                    None => false,
                }
            });
            if simulating {
                actix::System::try_current().inspect(|system| system.stop());
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs one simulation on this thread and answers what it saw. A panic in the election's code
/// (or the model's) is caught and reported as a violation.
pub fn run(config: SimConfig) -> Outcome {
    let seed = config.seed;
    watch_for_panics();
    PANICKED.with(|slot| *slot.borrow_mut() = Some(None));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_system(config)));
    let panicked = PANICKED.with(|slot| slot.borrow_mut().take().flatten());
    let mut outcome = result.unwrap_or_else(|_| Outcome {
        seed,
        simulated: Duration::ZERO,
        faults: 0,
        violations: Vec::new(),
        log: Vec::new(),
    });
    if let Some(what) = panicked {
        outcome.violations.push(format!("no panic: {what}"));
    }
    outcome
}

fn run_system(config: SimConfig) -> Outcome {
    let seed = config.seed;
    crate::random::seed(seed);
    let runtime = || tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build();
    let system = actix_rt::System::with_tokio_rt(move || runtime().expect("a current-thread runtime builds"));
    let (done, outcome) = oneshot::channel();
    system.block_on(async move {
        use actix::Actor;
        world::World::new(config, done).start();
    });
    let _ = system.run();
    outcome.blocking_recv().unwrap_or(Outcome {
        seed,
        simulated: Duration::ZERO,
        faults: 0,
        violations: vec!["the run ended without an outcome".into()],
        log: Vec::new(),
    })
}
