//! Leadership operators steer: a preferred leader (priority) and a transfer to a named
//! successor, with the line of candidates printed after each step.
//!
//! ```sh
//! cargo run --features testkit --example preferred_leader
//! ```
//!
//! It starts an embedded ZooKeeper and two contenders of priority 0, "old-1" and "old-2"
//! (old-1 leads). Then "new-1" joins with priority 1 and the label `version=2`: after the grace
//! period (500 ms here) old-1 hands over to it, although old-2 stands ahead of it in line. Then
//! new-1 transfers leadership to old-2 by address: old-2 leads next and nobody in between, and
//! new-1 queues again, behind. But new-1's priority is the highest in line, so after the grace
//! old-2 hands back to it: a preference holds until the preferred candidate leaves. Every wait
//! has a deadline; a missed one prints what was expected and exits with status 1. Takes about
//! three seconds.

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::mpsc;
use zk_election::{
    candidates, Confirm, ElectionConfig, ElectionSupervisor, LeadershipEvent, StopElection, StopSession, Subscribe,
    Transfer, ZkSession,
};

const LATCH: &str = "/preferred-demo/latch";
const LEADER: &str = "/preferred-demo/leader";
/// Deadline of every wait.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long a candidate of higher priority stands in line before the leader hands over.
const GRACE: Duration = Duration::from_millis(500);

fn main() -> ExitCode {
    support::run_on_embedded_zookeeper(run)
}

async fn run(connect: String) -> Result<(), String> {
    let t0 = Instant::now();
    let (sender, mut published) = mpsc::unbounded_channel();
    let observer = start_session(&connect)?;

    let old_1 = Contender::join(&connect, "old-1:80", 0, &[], &sender).await?;
    expect_leader(&mut published, "old-1:80", t0).await?;
    let old_2 = Contender::join(&connect, "old-2:80", 0, &[], &sender).await?;
    support::wait_for_participants(&observer, LATCH, 2, DEADLINE).await?;
    print_line(&observer, "two candidates of priority 0").await?;

    let new_1 = Contender::join(&connect, "new-1:80", 1, &[("version", "2")], &sender).await?;
    println!("[{:>5} ms] new-1 joined with priority 1", t0.elapsed().as_millis());
    expect_leader(&mut published, "new-1:80", t0).await?;
    print_line(&observer, "after the preemption").await?;

    let target = match new_1.supervisor.send(Transfer::to_address("old-2:80")).await {
        Ok(Ok(node)) => node,
        Ok(Err(err)) => return Err(format!("transfer refused: {err}")),
        Err(err) => return Err(format!("transfer: {err}")),
    };
    println!("[{:>5} ms] new-1 transfers to old-2 ({target})", t0.elapsed().as_millis());
    expect_leader(&mut published, "old-2:80", t0).await?;
    print_line(&observer, "after the transfer").await?;
    expect_leader(&mut published, "new-1:80", t0).await?;
    println!("[{:>5} ms] the preferred candidate leads again", t0.elapsed().as_millis());

    for contender in [old_1, old_2, new_1] {
        contender.stop().await;
    }
    observer.send(StopSession).await.map_err(|err| err.to_string())?;
    Ok(())
}

/// Waits for the next publication and checks it is `address`'s.
async fn expect_leader(
    published: &mut mpsc::UnboundedReceiver<(String, i64)>,
    address: &str,
    t0: Instant,
) -> Result<(), String> {
    match tokio::time::timeout(DEADLINE, published.recv()).await {
        Ok(Some((who, token))) if who == address => {
            println!("[{:>5} ms] {who} leads, fencing token {token}", t0.elapsed().as_millis());
            Ok(())
        }
        Ok(Some((who, _))) => Err(format!("expected {address} to lead, but {who} does")),
        _ => Err(format!("nobody published within {DEADLINE:?}; expected {address}")),
    }
}

/// Prints the line as `zk-elect candidates` would.
async fn print_line(observer: &Addr<ZkSession>, title: &str) -> Result<(), String> {
    let line = candidates(observer.clone(), LATCH).await.map_err(|err| format!("candidates: {err}"))?;
    println!("  line {title}:");
    for candidate in line {
        let labels: Vec<String> = candidate.info.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "    {} {:<9} priority {} {}",
            candidate.position,
            candidate.info.id,
            candidate.info.priority,
            labels.join(",")
        );
    }
    Ok(())
}

fn start_session(connect: &str) -> Result<Addr<ZkSession>, String> {
    support::start_session(connect, Duration::from_secs(4), Duration::from_secs(2)).map_err(|err| err.to_string())
}

/// One contender process: its own session and supervisor, confirming every grant and telling
/// `published` whenever its leader node is written.
struct Contender {
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
}

impl Contender {
    async fn join(
        connect: &str,
        address: &str,
        priority: i32,
        labels: &[(&str, &str)],
        published: &mpsc::UnboundedSender<(String, i64)>,
    ) -> Result<Contender, String> {
        let session = start_session(connect)?;
        let mut config = ElectionConfig::builder(LATCH).priority(priority).preempt_after(GRACE);
        for (key, value) in labels {
            config = config.label(*key, *value);
        }
        let config = config.build().map_err(|err| err.to_string())?;
        let supervisor = ElectionSupervisor::start(session.clone(), config);
        let me =
            Confirmer { supervisor: supervisor.clone(), address: address.to_owned(), published: published.clone() };
        let subscribe = Subscribe::new("service", address, LEADER, me.start().recipient());
        support::subscribe(&supervisor, subscribe, address).await?;
        Ok(Contender { session, supervisor })
    }

    async fn stop(self) {
        let _ = self.supervisor.send(StopElection).await;
        let _ = self.session.send(StopSession).await;
    }
}

/// Confirms every grant at once; reports every publication.
struct Confirmer {
    supervisor: Addr<ElectionSupervisor>,
    address: String,
    published: mpsc::UnboundedSender<(String, i64)>,
}

impl Actor for Confirmer {
    type Context = Context<Self>;
}

impl Handler<LeadershipEvent> for Confirmer {
    type Result = ();

    fn handle(&mut self, event: LeadershipEvent, _ctx: &mut Context<Self>) {
        match event {
            LeadershipEvent::Granted { component, leader_session, .. } => {
                self.supervisor.do_send(Confirm { component, leader_session });
            }
            LeadershipEvent::Published { fencing_token, .. } => {
                let _ = self.published.send((self.address.clone(), fencing_token));
            }
            _ => {}
        }
    }
}
