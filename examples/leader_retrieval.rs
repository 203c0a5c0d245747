//! Finding the leader from outside the election: a [`LeaderRetriever`] follows a failover and
//! tells its subscriber every change of the leader node as a [`LeaderChanged`].
//!
//! ```sh
//! cargo run --features testkit --example leader_retrieval
//! ```
//!
//! It starts an embedded ZooKeeper ([`ZkServer`]) and a retriever on a session of its own, then
//! two contenders, "alpha" and "bravo", each with its own session, on one latch. Alpha leads and
//! the retriever names it; alpha stops, its leader node goes (`NoLeader`), bravo takes over with a
//! larger fencing token and the retriever names bravo; bravo stops and nobody leads. Every
//! `LeaderChanged` the subscriber receives is printed as it arrives. Every wait has a deadline; a
//! missed one prints what was expected and exits with status 1. Takes about two seconds.

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::mpsc;
use zk_election::testkit::RecordingContender;
use zk_election::{
    ElectionConfig, ElectionSupervisor, LeaderChanged, LeaderInfoCodec, LeaderRetriever, StopElection, StopRetriever,
    StopSession, Subscribe, SubscribeLeader, ZkSession,
};

const LATCH: &str = "/retrieval-demo/latch";
const LEADER: &str = "/retrieval-demo/leader/jobmanager";
/// Deadline of every wait.
const DEADLINE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    support::run_on_embedded_zookeeper(run)
}

async fn run(connect: String) -> Result<(), String> {
    let t0 = Instant::now();
    let say = |what: &str| println!("[{:>5} ms] {what}", t0.elapsed().as_millis());

    let observer = start_session(&connect)?;
    let retriever = LeaderRetriever::start(observer.clone(), LEADER, LeaderInfoCodec::Bincode)
        .map_err(|err| format!("retriever: {err}"))?;
    let (sender, mut changes) = mpsc::unbounded_channel();
    let subscriber = Subscriber { t0, sender }.start();
    retriever.send(SubscribeLeader(subscriber.recipient())).await.map_err(|err| err.to_string())?;
    say(&format!("retriever watching {LEADER}"));
    expect(&mut changes, "NoLeader before anyone joins", |c| matches!(c, LeaderChanged::NoLeader)).await?;

    let alpha = Contender::join(&connect, "alpha:6123").await?;
    say("alpha joined");
    let alpha_token = expect_leader(&mut changes, "alpha:6123").await?;
    let bravo = Contender::join(&connect, "bravo:6123").await?;
    support::wait_for_participants(&observer, LATCH, 2, DEADLINE).await?;
    say("bravo joined, behind alpha");

    say("stopping alpha (Stop, then StopSession)");
    alpha.stop().await;
    let bravo_token = expect_leader(&mut changes, "bravo:6123").await?;
    if bravo_token <= alpha_token {
        return Err(format!("bravo's token {bravo_token} is not larger than alpha's {alpha_token}"));
    }
    say(&format!("bravo took over with a larger fencing token ({alpha_token} → {bravo_token})"));

    say("stopping bravo");
    bravo.stop().await;
    expect(&mut changes, "NoLeader after the last contender left", |c| matches!(c, LeaderChanged::NoLeader)).await?;
    let _ = retriever.send(StopRetriever).await;
    let _ = observer.send(StopSession).await;
    Ok(())
}

/// A session with a 4 s session timeout and 3 s request deadline.
fn start_session(connect: &str) -> Result<Addr<ZkSession>, String> {
    support::start_session(connect, Duration::from_secs(4), Duration::from_secs(3)).map_err(|err| err.to_string())
}

/// One contender: its own session, its supervisor, and a contender that confirms every grant.
struct Contender {
    session: Addr<ZkSession>,
    supervisor: Addr<ElectionSupervisor>,
}

impl Contender {
    async fn join(connect: &str, address: &str) -> Result<Contender, String> {
        let session = start_session(connect)?;
        let config = ElectionConfig::builder(LATCH).build().map_err(|err| err.to_string())?;
        let supervisor = ElectionSupervisor::start(session.clone(), config);
        // The retriever tells the story; the contender's own events are not needed here.
        let contender = RecordingContender::new(supervisor.clone(), |_, _| {}).start();
        let subscribe = Subscribe::new("jobmanager", address, LEADER, contender.recipient());
        support::subscribe(&supervisor, subscribe, address).await?;
        Ok(Contender { session, supervisor })
    }

    /// Leaves the election (its latch and leader nodes are deleted) and closes the session.
    async fn stop(self) {
        let _ = self.supervisor.send(StopElection).await;
        let _ = self.session.send(StopSession).await;
    }
}

/// The retriever's subscriber: prints each change and passes it on to the script.
struct Subscriber {
    t0: Instant,
    sender: mpsc::UnboundedSender<LeaderChanged>,
}

impl Actor for Subscriber {
    type Context = Context<Self>;
}

impl Handler<LeaderChanged> for Subscriber {
    type Result = ();

    fn handle(&mut self, change: LeaderChanged, _ctx: &mut Context<Self>) {
        let what = match &change {
            LeaderChanged::Leader { address, leader_session, fencing_token } => {
                let token = fencing_token.map_or("-".to_owned(), |token| token.to_string());
                format!("Leader {{ address: {address}, leader_session: {leader_session}, fencing_token: {token} }}")
            }
            other => format!("{other:?}"),
        };
        println!("[{:>5} ms]   LeaderChanged::{what}", self.t0.elapsed().as_millis());
        let _ = self.sender.send(change);
    }
}

/// Waits for a change matching `wanted`; answers it.
async fn expect(
    changes: &mut mpsc::UnboundedReceiver<LeaderChanged>,
    what: &str,
    wanted: impl Fn(&LeaderChanged) -> bool,
) -> Result<LeaderChanged, String> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, changes.recv()).await {
            Ok(Some(change)) if wanted(&change) => return Ok(change),
            Ok(Some(_)) => continue,
            Ok(None) => return Err(format!("the retriever went away while waiting for {what}")),
            Err(_) => return Err(format!("no {what} within {DEADLINE:?}")),
        }
    }
}

/// Waits until the retriever names `address`; answers the leader's fencing token.
async fn expect_leader(changes: &mut mpsc::UnboundedReceiver<LeaderChanged>, address: &str) -> Result<i64, String> {
    let named = |c: &LeaderChanged| matches!(c, LeaderChanged::Leader { address: a, .. } if a == address);
    match expect(changes, &format!("Leader {address}"), named).await? {
        LeaderChanged::Leader { fencing_token: Some(token), .. } => Ok(token),
        other => Err(format!("no fencing token in {other:?}")),
    }
}
