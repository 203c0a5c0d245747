//! The election benchmarks: failover latency, time to first leader, scale, footprint.
//!
//! ```sh
//! cargo bench --features testkit --bench election            # every figure
//! cargo bench --features testkit --bench election -- herd    # only figures whose name contains "herd"
//! ```
//!
//! Starts its own standalone ZooKeeper (testkit, `forceSync=no`), prints the machine and a
//! markdown table, and writes `target/bench/election.json`. Every wait has a deadline; a figure
//! that fails is reported as failed and the others still run. `RUST_LOG=zk_election=debug`
//! shows the library's own timings on stderr.
//!
//! How each figure is taken (see BENCHMARKS.md for what bounds it):
//!
//! * Leader nodes are observed by an [`Observer`](observer::Observer) in a session of its own: a
//!   get-data watch while the node exists, an exists watch while it does not. A change is dated
//!   when the watch fires (or when the read that found it returns, if it was already there).
//! * Contenders (the testkit's [`RecordingContender`](zk_election::testkit::RecordingContender))
//!   confirm every grant at once.
//! * Sessions of different "processes" are separate [`ZkSession`]s, each on its own arbiter
//!   (thread), exactly as in separate processes; supervisors and contenders share the bench's
//!   main arbiter.
//!
//! One module per figure (listed in [`FIGURES`]); shared set-up in `setup`, `observer`, `stats`,
//! `procfs` and `machine`.

mod clean_failover;
mod crash_failover;
mod elections;
mod first_leader;
mod footprint;
mod handover;
mod herd;
mod herd_member;
mod herd_processes;
mod machine;
mod observer;
mod procfs;
mod retrieval;
mod setup;
mod stats;
mod tls_cost;
mod zk_rtt;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::{json, Value};
use zk_election::testkit::{ZkEnsemble, ZkServer};
use zk_election::ZkSession;

use machine::{bench_dir, build_contender_example, cpu_model, kernel, load_average, server_tick};
use setup::{close_sessions, connect, Bench, SECOND};
use stats::{round3, row, since, table, Outcome, Row};

/// A figure's measurement, over the context every figure shares.
type FigureFn = for<'a> fn(&'a Bench) -> Pin<Box<dyn Future<Output = Result<Outcome, String>> + 'a>>;

/// The figures, in the order they run: name (arguments select figures by substring of a name;
/// `+` joins the names of a figure with several rows), time limit, measurement.
const FIGURES: &[(&str, Duration, FigureFn)] = &[
    ("zk_rtt", Duration::from_secs(60), |b| Box::pin(zk_rtt::zk_round_trip(b))),
    ("first_leader_ms", Duration::from_secs(60), |b| Box::pin(first_leader::first_leader(b))),
    ("clean_failover_ms", Duration::from_secs(90), |b| Box::pin(clean_failover::clean_failover(b))),
    ("clean_failover_tls+tcp_ms", Duration::from_secs(120), |b| Box::pin(tls_cost::tls_cost(b))),
    ("handover_gap_ms", Duration::from_secs(120), |b| Box::pin(handover::handover_gaps(b))),
    ("elections_1000_ms", Duration::from_secs(120), |b| Box::pin(elections::elections_1000(b))),
    ("elections_10000_ms+rss_bytes_per_idle_election", Duration::from_secs(120), |b| {
        Box::pin(elections::elections_10000(b))
    }),
    ("herd_requests_per_failover", Duration::from_secs(120), |b| Box::pin(herd::herd(b))),
    ("retriever_requests_per_leader_change+rss_bytes_per_retriever", Duration::from_secs(120), |b| {
        Box::pin(retrieval::retrieval_costs(b))
    }),
    ("herd_processes", Duration::from_secs(300), |b| Box::pin(herd_processes::herd_processes(b))),
    ("crash_failover_over_timeout_ms", Duration::from_secs(120), |b| Box::pin(crash_failover::crash_failover(b))),
    ("idle_cpu_pct+rss_mib", Duration::from_secs(60), |b| Box::pin(footprint::footprint(b))),
];

fn main() {
    machine::init_logs();
    // The multi-process herd starts copies of this binary as its member processes.
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--herd-member") {
        std::process::exit(herd_member::run(&args[at + 1..]));
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` / `--all-targets` does not, and must
    // stay fast. Other arguments select figures by substring.
    if !std::env::args().any(|a| a == "--bench") {
        println!("election benchmark: skipped (run it with `cargo bench --features testkit --bench election`)");
        return;
    }
    // Figures write into it as they go (the contender's log), not only the report at the end.
    let dir = bench_dir();
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {err}", dir.display());
        std::process::exit(1);
    }
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    // `--ensemble`: the election figures on a 3-member ensemble instead of a standalone server.
    let on_ensemble = std::env::args().any(|a| a == "--ensemble");
    let selected = |name: &str| {
        let default = !on_ensemble || ENSEMBLE_FIGURES.iter().any(|f| name.starts_with(f));
        if filters.is_empty() {
            default
        } else {
            filters.iter().any(|f| name.contains(f.as_str()))
        }
    };
    let started = Instant::now();
    let load_before = load_average();

    // Built before anything is measured, so the compiler does not compete with the figures.
    let example = if selected("idle_cpu_pct") || selected("rss_mib") {
        eprintln!("building the contender example (release)...");
        build_contender_example()
    } else {
        Err("not selected".to_owned())
    };

    let system = System::new();
    if on_ensemble {
        let ensemble = start_ensemble();
        // The quorum leader expires sessions and sees every write: its pid, log and counters.
        let leader = ensemble.leader_index().unwrap_or(0);
        let setup = "3-member ensemble; server figures are the quorum leader's";
        let (machine, tick) = describe_machine(ensemble.member(leader), setup, Vec::new(), &load_before);
        let connect = ensemble.connect_string();
        let (rows, figures) =
            run_figures(&system, ensemble.member(leader), Some(connect), tick, example, &selected, started);
        drop(ensemble);
        write_report(machine, &rows, figures, started, &dir.join("election-ensemble.json"));
    } else {
        let (server, jvm_args) = start_server();
        let (machine, tick) = describe_machine(&server, "standalone", jvm_args, &load_before);
        let (rows, figures) = run_figures(&system, &server, None, tick, example, &selected, started);
        drop(server);
        write_report(machine, &rows, figures, started, &dir.join("election.json"));
    }
}

/// The figures `--ensemble` runs unless others are named: those about one election's latency
/// and cost (the scale and footprint figures measure this process, not the servers).
const ENSEMBLE_FIGURES: &[&str] = &["zk_rtt", "first_leader", "clean_failover_ms", "herd", "crash_failover"];

/// Starts a 3-member ensemble (`forceSync=no`), or exits.
fn start_ensemble() -> ZkEnsemble {
    match ZkEnsemble::builder().force_sync(false).start().and_then(|e| e.wait_for_leader().map(|_| e)) {
        Ok(ensemble) => ensemble,
        Err(err) => {
            eprintln!("cannot start the ZooKeeper ensemble: {err}");
            std::process::exit(1);
        }
    }
}

/// Starts the standalone server, or exits; answers it and the extra JVM flags it runs with.
fn start_server() -> (ZkServer, Vec<String>) {
    // Extra JVM flags for the server, e.g. ZK_BENCH_JVM_ARGS="-XX:TieredStopAtLevel=4" to give
    // it the optimising JIT the testkit turns off for fast test start-up.
    let jvm_args: Vec<String> =
        std::env::var("ZK_BENCH_JVM_ARGS").unwrap_or_default().split_whitespace().map(str::to_owned).collect();
    let mut builder = ZkServer::builder().force_sync(false);
    for arg in &jvm_args {
        builder = builder.jvm_arg(arg.clone());
    }
    match builder.start() {
        Ok(server) => (server, jvm_args),
        Err(err) => {
            eprintln!("cannot start ZooKeeper: {err}");
            std::process::exit(1);
        }
    }
}

/// Prints the header (machine and server); answers it as JSON for the report, and the server's
/// tick.
fn describe_machine(
    server: &ZkServer,
    setup: &str,
    jvm_args: Vec<String>,
    load_before: &str,
) -> (Value, Option<Duration>) {
    let version = server.version().unwrap_or_else(|e| format!("unknown ({e})"));
    let tick = server_tick(server);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let machine = json!({
        "cores": cores,
        "cpu_model": cpu_model(),
        "kernel": kernel(),
        "zookeeper_version": version,
        "zookeeper_tick_ms": tick.map(|t| t.as_millis() as u64),
        "zookeeper_force_sync": false,
        "setup": setup,
        "zookeeper_extra_jvm_args": jvm_args,
        "load_average_before": load_before,
    });
    println!("# zk-election benchmarks\n");
    println!(
        "machine: {cores} cores, {} · Linux {} · ZooKeeper {version} ({setup}, forceSync=no, tickTime={} ms) · load average {load_before}\n",
        cpu_model(),
        kernel(),
        tick.map_or("?".to_owned(), |t| t.as_millis().to_string()),
    );
    (machine, tick)
}

/// Runs every selected figure against `server`, one after another; answers the table's rows
/// and each figure's JSON record by name.
fn run_figures(
    system: &SystemRunner,
    server: &ZkServer,
    connect: Option<String>,
    tick: Option<Duration>,
    example: Result<PathBuf, String>,
    selected: &dyn Fn(&str) -> bool,
    started: Instant,
) -> (Vec<Row>, serde_json::Map<String, Value>) {
    let connect = connect.unwrap_or_else(|| server.connect_string());
    let zk_pid = server.pid();
    let zk_log = server.log_path().to_owned();
    let zk_addr = server.addr();
    system.block_on(async move {
        let mut rows = Vec::new();
        let mut figures = serde_json::Map::new();
        let observer = match connect_observer(&connect).await {
            Ok(o) => o,
            Err(err) => {
                eprintln!("cannot connect the observer session: {err}");
                return (rows, figures);
            }
        };
        let bench = Bench { connect, observer, tick, zk_pid, zk_log, zk_addr, example, tls: None };
        for &(name, limit, figure) in FIGURES {
            if !name.split('+').any(selected) {
                continue;
            }
            run_figure(&bench, (name, limit, figure), started, &mut rows, &mut figures).await;
        }
        close_sessions([bench.observer.clone()]).await;
        (rows, figures)
    })
}

/// Runs one figure within its time limit; a failure becomes a failed row and an error record.
async fn run_figure(
    bench: &Bench,
    (name, limit, figure): (&str, Duration, FigureFn),
    started: Instant,
    rows: &mut Vec<Row>,
    figures: &mut serde_json::Map<String, Value>,
) {
    let start = Instant::now();
    eprintln!("[{:6.1} s] {name}...", since(started));
    let err = match tokio::time::timeout(limit, figure(bench)).await {
        Ok(Ok(outcome)) => {
            rows.extend(outcome.rows);
            let mut record = outcome.json;
            record["wall_s"] = round3(since(start));
            figures.insert(name.to_owned(), record);
            return;
        }
        Ok(Err(err)) => err,
        Err(_) => format!("did not finish within {limit:?}"),
    };
    eprintln!("FIGURE FAILED: {name}: {err}");
    rows.push(row(name, format!("failed: {err}"), "", Some(false)));
    figures.insert(name.to_owned(), json!({ "error": err }));
}

/// Prints the table and writes the JSON report to `path`.
fn write_report(
    mut machine: Value,
    rows: &[Row],
    figures: serde_json::Map<String, Value>,
    started: Instant,
    path: &Path,
) {
    let load_after = load_average();
    machine["load_average_after"] = json!(load_after);
    println!("{}", table(rows));
    println!("\nload average after: {load_after} · total {:.1} s", since(started));

    let report = json!({
        "command": "cargo bench --features testkit --bench election",
        "machine": machine,
        "total_s": round3(since(started)),
        "figures": figures,
        "table_markdown": table(rows),
    });
    let written = std::fs::write(path, serde_json::to_string_pretty(&report).unwrap_or_default());
    match written {
        Ok(()) => println!("wrote {}", path.display()),
        Err(err) => eprintln!("cannot write {}: {err}", path.display()),
    }
}

async fn connect_observer(connect_string: &str) -> Result<Addr<ZkSession>, String> {
    connect(connect_string, 6 * SECOND).await
}
