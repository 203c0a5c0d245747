//! The failover demo: three contenders, one leader at a time, two failovers, one timeline.
//!
//! ```sh
//! cargo run --release --features testkit --example failover_demo            # embedded ZooKeeper
//! cargo run --release --features testkit --example failover_demo -- HOST:PORT  # your own
//! ```
//!
//! Without a connect string it starts a ZooKeeper server of its own ([`ZkServer`]). Three
//! contenders, "alpha", "bravo" and "charlie", each get their own ZooKeeper session (2 s session
//! timeout) through their own [`FaultProxy`], so any one of them can be cut off from ZooKeeper
//! alone; an observer session watches the latch and the leader node. The script:
//!
//! 1. the first leader is granted, confirms, and its address appears in the leader node;
//! 2. it stops cleanly (`Stop`, then `StopSession`), and the next in line takes over at once;
//! 3. the new leader is partitioned (its proxy blackholes: to ZooKeeper it looks crashed). It
//!    revokes itself when its connection is suspended; the third takes over once ZooKeeper
//!    expires the partitioned session;
//! 4. the partition heals and the partitioned contender rejoins, as a follower;
//! 5. everything stops, and a summary gives both failover times and checks, from the recorded
//!    confirmed-leadership intervals, that no two contenders ever led at the same time.
//!
//! Every wait has a deadline; a missed one prints what was expected and exits with status 1.
//! Set `RUST_LOG` (e.g. `RUST_LOG=zk_election=debug`) to see the library's own logs on stderr.

#[path = "../support/mod.rs"]
mod support;

mod actors;
mod cast;
mod events;
mod script;
mod state;
mod summary;
mod timeline;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use actix::prelude::*;
use clap::Parser;
use uuid::Uuid;
use zk_election::testkit::{FaultProxy, Operator, ZkServer};
use zk_election::zk::Delete;
use zk_election::{StopSession, ZkSession};

use cast::{CAST, REQUEST_TIMEOUT, SESSION_TIMEOUT};
use script::Demo;

/// Where the election lives (a run-specific node below it on an external ZooKeeper).
const BASE_PATH: &str = "/zk-election/failover-demo";
/// Deadline of the steps that need nothing but a working ZooKeeper.
const STEP_DEADLINE: Duration = Duration::from_secs(10);

/// Leader election failover demo: three contenders, a clean stop, a partition, a heal.
#[derive(Debug, Parser)]
#[command(name = "failover_demo")]
struct Args {
    /// ZooKeeper connect string of an existing ensemble; without it an embedded ZooKeeper is
    /// started (needs Java and ZooKeeper's jars, see scripts/install-zookeeper.sh).
    #[arg(value_name = "CONNECT")]
    connect: Option<String>,
    /// Same as the positional CONNECT.
    #[arg(long = "connect", value_name = "CONNECT", conflicts_with = "connect")]
    connect_flag: Option<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    support::init_logs();
    // Declared before the proxies, so it is dropped (and its JVM killed) after them.
    let server;
    let (connect, base_path) = match args.connect.or(args.connect_flag) {
        Some(connect) => {
            println!("ZooKeeper: {connect} (external)");
            // A path of its own, so parallel runs against one ensemble do not meet.
            (connect, format!("{BASE_PATH}/run-{}", &Uuid::new_v4().simple().to_string()[..8]))
        }
        None => {
            let started = Instant::now();
            server = match ZkServer::start() {
                Ok(server) => server,
                Err(err) => {
                    eprintln!("error: cannot start an embedded ZooKeeper: {err}");
                    eprintln!("(or pass the connect string of a running ZooKeeper as the first argument)");
                    return ExitCode::FAILURE;
                }
            };
            let version = server.version().unwrap_or_else(|_| "?".to_owned());
            let version = version.split('-').next().unwrap_or_default().to_owned();
            println!(
                "ZooKeeper {version}: embedded server on {} (started in {} ms)",
                server.connect_string(),
                started.elapsed().as_millis()
            );
            (server.connect_string(), BASE_PATH.to_owned())
        }
    };
    let mut proxies = Vec::new();
    for _ in CAST {
        match FaultProxy::for_connect_string(&connect) {
            Ok(proxy) => proxies.push(proxy),
            Err(err) => {
                eprintln!("error: cannot start a fault proxy in front of {connect}: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let paths = Paths { latch: format!("{base_path}/latch"), leader: format!("{base_path}/leader"), base: base_path };
    System::new().block_on(run(&connect, &proxies, &paths))
}

/// The znodes of this run.
struct Paths {
    base: String,
    latch: String,
    leader: String,
}

async fn run(connect: &str, proxies: &[FaultProxy], paths: &Paths) -> ExitCode {
    let mut demo = Demo::new();
    println!(
        "three contenders, each with its own ZooKeeper session (timeout {} ms) through its own fault proxy",
        SESSION_TIMEOUT.as_millis()
    );
    println!("latch {}, leader node {}\n", paths.latch, paths.leader);
    let observer = match demo.start_observer(connect, paths).await {
        Ok(observer) => observer,
        Err(err) => {
            println!("\nFAILED: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = demo.script(connect, proxies, paths).await;
    if let Err(err) = &outcome {
        demo.timeline.narrate(&format!("FAILED: {err}"));
    }
    // Whatever happened: heal, stop everyone, close the observer last.
    for proxy in proxies {
        proxy.pass();
    }
    demo.stop_all().await;
    if outcome.is_ok() {
        let emptied = demo
            .timeline
            .wait_until(STEP_DEADLINE, "the leader node and the latch to be empty", |state| {
                (state.leader_node.is_none() && state.queue.as_ref().is_some_and(Vec::is_empty)).then_some(())
            })
            .await;
        if let Err(err) = emptied {
            demo.timeline.narrate(&format!("warning: {err}"));
        }
    }
    clean_up_run_nodes(&observer, paths).await;
    let _ = observer.send(StopSession).timeout(STEP_DEADLINE).await;
    demo.timeline.drain();
    match outcome {
        Ok(summary) => {
            let overlaps = summary.print(&demo.timeline);
            if overlaps == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            println!("\nFAILED: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Removes the run's (now empty) latch and base nodes on an external ZooKeeper; best effort.
async fn clean_up_run_nodes(session: &Addr<ZkSession>, paths: &Paths) {
    if paths.base == BASE_PATH {
        return; // the embedded server's data dir goes away with it
    }
    for path in [&paths.latch, &paths.base] {
        let _ = Operator::start(session).send(Delete::new(path.clone())).timeout(REQUEST_TIMEOUT).await;
    }
}
