//! Exporting the election's metrics to Prometheus: the library records through the `metrics`
//! facade (feature `metrics`), the application installs a recorder and renders it.
//!
//! ```sh
//! cargo run --features testkit --example metrics_export
//! ```
//!
//! (`metrics-exporter-prometheus` comes with the default `cli` feature, which also turns
//! `metrics` on.) It installs `PrometheusBuilder::new().install_recorder()` before anything
//! records, registers the help texts (`zk_election::telemetry::describe`), starts an embedded
//! ZooKeeper ([`ZkServer`]) and runs one election with two contenders, each on its own session:
//! "alpha" leads, then resigns (`Resign`: revoked, back in line) and "bravo"
//! takes over. Both contenders live in this one process, so they subscribe under their own
//! component names to keep their series apart (a real deployment has one per process, told apart
//! by the scrape's `instance` label). Then it prints the rendered exposition's `zk_election_*`
//! lines: leadership per component, grants, revokes, latencies, ZooKeeper requests by kind,
//! session events. Every wait has a deadline; a missed one prints what was expected and exits
//! with status 1. Takes about two seconds.

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use actix::prelude::*;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::mpsc;
use zk_election::testkit::RecordingContender;
use zk_election::{
    ElectionConfig, ElectionSupervisor, LeadershipEvent, Resign, SessionConfig, StopElection, StopSession, Subscribe,
    ZkSession,
};

const LATCH: &str = "/metrics-demo/latch";
/// Deadline of every wait.
const DEADLINE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    support::init_logs();
    // First the recorder, so that nothing recorded before it is lost; then the help texts.
    let prometheus = match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => handle,
        Err(err) => {
            eprintln!("error: cannot install the Prometheus recorder: {err}");
            return ExitCode::FAILURE;
        }
    };
    zk_election::telemetry::describe();
    let server = match support::start_zookeeper() {
        Ok(server) => server,
        Err(code) => return code,
    };
    support::finish(System::new().block_on(run(server.connect_string(), prometheus)))
}

async fn run(connect: String, prometheus: PrometheusHandle) -> Result<(), String> {
    let t0 = Instant::now();
    let say = |what: &str| println!("[{:>5} ms] {what}", t0.elapsed().as_millis());

    let mut alpha = Contender::join(&connect, "alpha").await?;
    let token = alpha.until_published().await?;
    say(&format!("alpha leads (fencing token {token})"));
    let mut bravo = Contender::join(&connect, "bravo").await?;
    support::wait_for_participants(&alpha.session, LATCH, 2, DEADLINE).await?;
    say("bravo joined, behind alpha");

    say("alpha resigns (Resign): revoked, and queues again behind bravo");
    alpha.supervisor.send(Resign::new("alpha")).await.map_err(|err| err.to_string())?.map_err(|e| e.to_string())?;
    let token = bravo.until_published().await?;
    say(&format!("bravo leads (fencing token {token})"));

    let rendered = prometheus.render();
    let quantiles = rendered.lines().filter(|line| line.contains("quantile=")).count();
    println!("\nPrometheus exposition, the zk_election_ lines ({quantiles} summary quantile lines left out):");
    for line in rendered.lines().filter(|line| line.starts_with("zk_election_") && !line.contains("quantile=")) {
        println!("  {line}");
    }
    println!();

    say("stopping both contenders");
    for contender in [bravo, alpha] {
        let _ = contender.supervisor.send(StopElection).await;
        let _ = contender.session.send(StopSession).await;
    }
    Ok(())
}

/// One contender: its own session, its supervisor, the events of a contender that confirms
/// every grant.
struct Contender {
    name: &'static str,
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
    events: mpsc::UnboundedReceiver<(Instant, LeadershipEvent)>,
}

impl Contender {
    async fn join(connect: &str, name: &'static str) -> Result<Contender, String> {
        let config = SessionConfig::builder(connect)
            .session_timeout(Duration::from_secs(4))
            .request_timeout(Duration::from_secs(3))
            .build()
            .map_err(|err| err.to_string())?;
        let session = ZkSession::start(config);
        let election = ElectionConfig::builder(LATCH).build().map_err(|err| err.to_string())?;
        let supervisor = ElectionSupervisor::start(session.clone(), election);
        let (contender, events) = RecordingContender::channel(supervisor.clone());
        let leader_path = format!("/metrics-demo/leader/{name}");
        let subscribe = Subscribe::new(name, format!("{name}:6123"), leader_path, contender.start().recipient());
        match supervisor.send(subscribe).await {
            Ok(Ok(())) => Ok(Contender { name, session, supervisor, events }),
            Ok(Err(err)) => Err(format!("{name} could not subscribe: {err}")),
            Err(err) => Err(format!("{name} could not subscribe: {err}")),
        }
    }

    /// Waits until this contender's leader node is published; answers the fencing token.
    async fn until_published(&mut self) -> Result<i64, String> {
        let published = async {
            while let Some((_, event)) = self.events.recv().await {
                if let LeadershipEvent::Published { fencing_token, .. } = event {
                    return Some(fencing_token);
                }
            }
            None
        };
        match tokio::time::timeout(DEADLINE, published).await {
            Ok(Some(token)) => Ok(token),
            Ok(None) => Err(format!("{}'s contender went away", self.name)),
            Err(_) => Err(format!("{} did not publish within {DEADLINE:?}", self.name)),
        }
    }
}
