//! The peers benchmark: zk-election next to Apache Curator and etcd, in one run on one machine.
//!
//! ```sh
//! scripts/install-peers.sh                                   # etcd, Curator jars, a JDK
//! cargo bench --features testkit --bench peers               # every peer, both setups
//! cargo bench --features testkit --bench peers -- zk-elect library standalone   # a selection
//! ```
//!
//! Peers (each a contender that leads, is told to leave cleanly, and is replaced):
//!
//! * `zk-elect`: the crate's command line, `zk-elect campaign --json`, one process per
//!   contender, leaving on a line `quit`;
//! * `library`: the crate in this process, what one zk-elect process holds without the process;
//! * `curator`: Apache Curator's `LeaderLatch` with Flink's classic publish step
//!   (`java/CuratorContender.java`), one JVM per contender, leaving on `quit`;
//! * `etcd`: `etcdctl elect`, one process per contender, leaving on SIGINT.
//!
//! Figures, on the bench's one clock (the moment a contender's stdout line is read, or its
//! event arrives): **clean handover**, from telling the leader to leave to the successor saying
//! it leads; **time to first leader**, from starting a contender on an empty election to it
//! saying it leads. "Leads" is each peer's own announcement: zk-elect's `published`, the
//! library's `Published`, the Curator contender's `leader` line (after the leader node is
//! written, as Flink requires), etcdctl's proposal line. `granted` is reported as well.
//!
//! Two setups, one after the other: standalone (one testkit ZooKeeper, `forceSync=no`; one etcd,
//! `--unsafe-no-fsync`, data on tmpfs) and ensemble (a 3-server `ZkEnsemble`, a 3-member etcd
//! cluster), all on 127.0.0.1. In each, a warm-up comes first (not measured): back-to-back
//! in-process handovers until the ZooKeeper JVM's paths are compiled, then a few rounds of every
//! peer. Then `PEERS_ROUNDS` (default 40) rounds of every peer, round-robin. Results and what
//! bounds them: `BENCHMARKS.md`.
//!
//! Set `ZK_ELECT_BIN` to measure another zk-elect build, `ZK_ELECT_BASELINE_BIN` to measure a
//! second one beside it (peer `zk-elect-baseline`). Output: a markdown table on stdout,
//! `target/bench/peers.json`, contenders' and etcd's stderr under `target/bench/peers-logs/`.

#[allow(dead_code)] // shared with the election bench, which uses all of it
#[path = "../election/machine.rs"]
mod machine;
#[allow(dead_code)]
#[path = "../election/setup.rs"]
mod setup;
#[allow(dead_code)]
#[path = "../election/stats.rs"]
mod stats;

mod child;
mod curator;
mod etcd;
mod etcdctl;
mod library;
mod peer;
mod report;
mod round;
mod schedule;
mod setups;
mod zk_elect;

use std::path::{Path, PathBuf};
use std::time::Instant;

use actix::prelude::*;
use serde_json::json;

use machine::{bench_dir, cpu_model, kernel, load_average};
use report::SetupResult;
use setup::close_sessions;
use setups::{Kind, Servers, Tools, PEERS};
use stats::round3;

/// Measured rounds per peer and setup, unless `PEERS_ROUNDS` says otherwise.
const ROUNDS: usize = 40;

fn main() {
    machine::init_logs();
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not, and must
    // stay fast.
    if !std::env::args().any(|a| a == "--bench") {
        println!("peers benchmark: skipped (run it with `cargo bench --features testkit --bench peers`)");
        return;
    }
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    // Words that name peers select peers, words that name setups select setups; no word of a
    // kind selects all of that kind.
    let selects = |names: &[&str]| {
        let any = filters.iter().any(|f| names.contains(&f.as_str()));
        let filters = filters.clone();
        move |name: &str| !any || filters.iter().any(|f| f == name)
    };
    let peer_selected = selects(&PEERS);
    let setup_selected = selects(&[Kind::Standalone.name(), Kind::Ensemble.name()]);
    let rounds = std::env::var("PEERS_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(ROUNDS);

    let dir = bench_dir();
    let logs = dir.join("peers-logs");
    if let Err(err) = std::fs::create_dir_all(&logs) {
        eprintln!("cannot create {}: {err}", logs.display());
        std::process::exit(1);
    }
    let started = Instant::now();
    let load_before = load_average();

    // Built before anything is measured, so that no compiler competes with the figures.
    let tools = prepare(&peer_selected, &dir);
    let versions = versions(&tools);
    println!("# zk-election next to its peers\n");
    println!("machine: {} cores, {} · Linux {} · load average {load_before}", cores(), cpu_model(), kernel());
    println!("versions: {}\n", describe_versions(&versions));
    println!(
        "Each setup starts with a warm-up, not measured: {} s or more of back-to-back in-process handovers \
         (the ZooKeeper server's JIT), then a few seconds of rounds of every peer.\n",
        schedule::BURST_TIME.as_secs()
    );

    println!(
        "clean handover: the leader is told to leave (`quit` on stdin; etcdctl: SIGINT; library: Stop) → the \
         successor says it leads. first leader: a contender is started on an empty election (process spawned; \
         library: session started) → it says it leads. \"Leads\": zk-elect `published`, the library's \
         `Published`, the Curator contender's `leader` line (after Flink's publish), etcdctl's proposal line. \
         Milliseconds on the bench's clock; {rounds} rounds per peer and setup, round-robin, a standby idle for \
         {} ms before each handover.\n",
        round::SETTLE.as_millis()
    );
    let system = System::new();
    let mut results = Vec::new();
    for kind in Kind::ALL.into_iter().filter(|k| setup_selected(k.name())) {
        eprintln!("[{:6.1} s] {}...", started.elapsed().as_secs_f64(), kind.name());
        let result = system.block_on(run_setup(kind, &tools, &peer_selected, rounds, &logs));
        println!("{}", result.markdown());
        results.push(result);
    }

    let load_after = load_average();
    println!("load average after: {load_after} · total {:.1} s", started.elapsed().as_secs_f64());
    let report = json!({
        "command": "cargo bench --features testkit --bench peers",
        "machine": { "cores": cores(), "cpu_model": cpu_model(), "kernel": kernel(),
                     "load_average_before": load_before, "load_average_after": load_after },
        "versions": versions,
        "rounds_per_setup": rounds,
        "setups": results.iter().map(|r| (r.kind.name().to_owned(), r.json())).collect::<serde_json::Map<_, _>>(),
        "table_markdown": results.iter().map(SetupResult::markdown).collect::<Vec<_>>().join("\n"),
        "total_s": round3(started.elapsed().as_secs_f64()),
    });
    let path = dir.join("peers.json");
    match std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap_or_default()) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(err) => eprintln!("cannot write {}: {err}", path.display()),
    }
}

/// Builds zk-elect and compiles the Curator contender (for the selected peers).
fn prepare(selected: &dyn Fn(&str) -> bool, dir: &Path) -> Tools {
    let zk_elect = if selected("zk-elect") {
        eprintln!("building zk-elect (release)...");
        zk_elect::binary()
    } else {
        Err("not selected".to_owned())
    };
    let curator = if selected("curator") {
        eprintln!("compiling the Curator contender...");
        curator::compile(&dir.join("peers-java"))
    } else {
        Err("not selected".to_owned())
    };
    for (name, err) in [("zk-elect", zk_elect.as_ref().err()), ("curator", curator.as_ref().err())] {
        if let Some(err) = err.filter(|e| *e != "not selected") {
            eprintln!("{name} will be skipped: {err}");
        }
    }
    let baseline = std::env::var_os("ZK_ELECT_BASELINE_BIN").map(PathBuf::from);
    Tools { zk_elect, baseline, curator }
}

fn versions(tools: &Tools) -> serde_json::Value {
    let (etcd, etcdctl) = etcd::versions();
    json!({
        "zk-elect": format!("{} ({})", env!("CARGO_PKG_VERSION"),
                            tools.zk_elect.as_ref().map_or_else(|e| e.clone(), |p| p.display().to_string())),
        "curator": tools.curator.as_ref().map_or_else(|e| e.clone(), |c| c.curator_version.clone()),
        "java": curator::java_version(),
        "etcd": etcd,
        "etcdctl": etcdctl,
        "debian_packages": debian_packages(),
    })
}

/// The versions on one line.
fn describe_versions(versions: &serde_json::Value) -> String {
    let text = |key: &str| versions[key].as_str().unwrap_or("?").to_owned();
    format!(
        "zk-elect {} · Curator {} · {} · {} · {} · Debian packages: {}",
        text("zk-elect"),
        text("curator"),
        text("java"),
        text("etcd"),
        text("etcdctl"),
        text("debian_packages"),
    )
}

/// The Debian packages of the peers and their versions (best effort: empty without dpkg).
fn debian_packages() -> String {
    let packages = ["zookeeper", "libcurator-recipes-java", "etcd-server", "etcd-client", "openjdk-17-jre-headless"];
    std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Package} ${Version}\n"])
        .args(packages)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.lines().collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
}

/// Starts one setup's servers, measures every peer in it, and stops them.
async fn run_setup(
    kind: Kind,
    tools: &Tools,
    selected: &dyn Fn(&str) -> bool,
    rounds: usize,
    logs: &Path,
) -> SetupResult {
    let failed = |error: String| SetupResult {
        kind,
        servers: serde_json::Value::Null,
        warmup: None,
        peers: Vec::new(),
        error: Some(error),
    };
    let servers = match Servers::start(kind, logs) {
        Ok(servers) => servers,
        Err(err) => return failed(err),
    };
    if let Err(err) = &servers.etcd {
        eprintln!("  etcd will be skipped: {err}");
    }
    let session = match servers.bench_session().await {
        Ok(session) => session,
        Err(err) => return failed(format!("the bench's own session: {err}")),
    };
    let mut peers = Vec::new();
    let mut skipped = Vec::new();
    for peer in servers.peers(tools, &session, selected, logs) {
        match peer {
            Ok(peer) => peers.push(peer),
            Err(reason) => skipped.push(reason),
        }
    }
    let burst = servers.warmup_peer(&session);
    let (figures, warmup) = schedule::run(&peers, &burst, servers.etcd.as_ref().ok(), rounds, kind.name()).await;
    let mut measured: Vec<(&'static str, Result<_, String>)> =
        peers.iter().map(|p| p.name).zip(figures.into_iter().map(Ok)).collect();
    measured.extend(skipped.into_iter().map(|(name, why)| (name, Err(why))));
    measured.sort_by_key(|(name, _)| PEERS.iter().position(|p| p == name));
    drop((peers, burst));
    close_sessions([session]).await;
    SetupResult { kind, servers: servers.describe(), warmup: Some(warmup), peers: measured, error: None }
}
