//! How fast the simulation explores: seeds of a minute of faults each, on every core.
//!
//! `cargo bench --features simulation --bench simulation` runs 1,000 seeds (`SIM_SEEDS` to
//! change it) on as many threads as the machine has cores, and prints seeds, simulated seconds,
//! faults, violations, wall time and how much faster than real time it ran; with the median and
//! the slowest seed's wall time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zk_election::simulation::{run, SimConfig};

fn main() {
    let seeds: u64 = std::env::var("SIM_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let first: u64 = std::env::var("SIM_FIRST_SEED").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = Arc::new(AtomicU64::new(first));
    let results = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (next, results) = (next.clone(), results.clone());
            std::thread::spawn(move || loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= first + seeds {
                    break;
                }
                let begun = Instant::now();
                let outcome = run(SimConfig::seeded(seed));
                let wall = begun.elapsed();
                if !outcome.violations.is_empty() {
                    eprintln!("seed {seed}: {}", outcome.violations.join("; "));
                }
                let mut results = results.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                results.push((wall, outcome.simulated, outcome.faults, outcome.violations.len()));
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    let wall = started.elapsed();
    let mut results = results.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    results.sort_by_key(|(wall, ..)| *wall);
    let simulated: Duration = results.iter().map(|(_, simulated, ..)| *simulated).sum();
    let faults: u64 = results.iter().map(|(_, _, faults, _)| *faults).sum();
    let violations: usize = results.iter().map(|(.., violations)| *violations).sum();
    let min_faults = results.iter().map(|(_, _, faults, _)| *faults).min().unwrap_or(0);
    let min_simulated = results.iter().map(|(_, simulated, ..)| *simulated).min().unwrap_or_default();
    let median = results.get(results.len() / 2).map_or(Duration::ZERO, |(wall, ..)| *wall);
    let slowest = results.last().map_or(Duration::ZERO, |(wall, ..)| *wall);
    println!("threads={threads}");
    println!("seeds={} simulated_s={} faults={} violations={violations}", results.len(), simulated.as_secs(), faults);
    println!("per seed: simulated ≥ {:.1} s, faults ≥ {min_faults}", min_simulated.as_secs_f64());
    println!(
        "wall_s={:.1} speedup_over_real_time={:.0}x",
        wall.as_secs_f64(),
        simulated.as_secs_f64() / wall.as_secs_f64()
    );
    println!(
        "seed wall ms: median {:.1}, slowest {:.1}",
        median.as_secs_f64() * 1000.0,
        slowest.as_secs_f64() * 1000.0
    );
}
