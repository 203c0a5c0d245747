//! A plain tokio service taking part in a leader election: no actix in sight.
//!
//! ```sh
//! cargo run --features testkit --example tokio_service
//! ```
//!
//! It starts an embedded ZooKeeper ([`ZkServer`]), then two [`ElectionHandle`]s, "alpha" and
//! "bravo", on one latch, and a [`RetrievalHandle`] that watches who leads. Alpha joins first
//! and leads; bravo follows. Alpha shuts down; bravo takes over with a larger fencing token, and
//! retrieval follows. Then everything shuts down. Every wait has a deadline; a missed one prints
//! what was expected and exits with status 1. Takes about two seconds.

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use zk_election::{
    ElectionConfig, ElectionHandle, LeaderChanged, LeaderInfoCodec, Leadership, RetrievalHandle, SessionConfig,
};

const LATCH: &str = "/tokio-service/latch";
const LEADER: &str = "/tokio-service/leader";
/// Deadline of every wait.
const DEADLINE: Duration = Duration::from_secs(10);

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    support::init_logs();
    // Blocks for about a second; nothing else runs yet.
    let server = match support::start_zookeeper() {
        Ok(server) => server,
        Err(code) => return code,
    };
    support::finish(run(&server.connect_string()).await)
}

async fn run(connect: &str) -> Result<(), String> {
    let t0 = Instant::now();
    let session = SessionConfig::builder(connect)
        .session_timeout(Duration::from_secs(4))
        .request_timeout(Duration::from_secs(3))
        .build()
        .map_err(|err| err.to_string())?;
    let election = ElectionConfig::builder(LATCH).build().map_err(|err| err.to_string())?;
    let say = |what: String| println!("[{:>5} ms] {what}", t0.elapsed().as_millis());

    let retrieval = RetrievalHandle::start(session.clone(), LEADER, LeaderInfoCodec::Bincode)
        .await
        .map_err(|err| format!("retrieval: {err}"))?;
    let start = |name: &'static str, address: &'static str| {
        let (session, election) = (session.clone(), election.clone());
        async move {
            ElectionHandle::builder(session, election)
                .component("service")
                .address(address)
                .leader_path(LEADER)
                .start()
                .await
                .map_err(|err| format!("starting {name}: {err}"))
        }
    };

    let alpha = start("alpha", "alpha.example:8080").await?;
    let alpha_token = leads(&alpha, "alpha").await?;
    say(format!("alpha leads (fencing token {alpha_token})"));
    let bravo = start("bravo", "bravo.example:8080").await?;
    say(format!("bravo joined: {:?}", bravo.current()));
    say(format!("retrieval: {}", retrieved(&retrieval, "alpha.example:8080").await?));

    say("shutting down alpha (the leader)".into());
    alpha.shutdown().await.map_err(|err| format!("alpha's shutdown: {err}"))?;
    let bravo_token = leads(&bravo, "bravo").await?;
    say(format!("bravo took over (fencing token {bravo_token})"));
    if bravo_token <= alpha_token {
        return Err(format!("bravo's token {bravo_token} is not larger than alpha's {alpha_token}"));
    }
    say(format!("retrieval: {}", retrieved(&retrieval, "bravo.example:8080").await?));

    say("shutting down bravo and retrieval".into());
    bravo.shutdown().await.map_err(|err| format!("bravo's shutdown: {err}"))?;
    retrieval.shutdown().await;
    Ok(())
}

/// Waits until `handle` leads; answers its fencing token.
async fn leads(handle: &ElectionHandle, name: &str) -> Result<i64, String> {
    let mut leadership: watch::Receiver<Leadership> = handle.leadership();
    let outcome = tokio::time::timeout(DEADLINE, leadership.wait_for(Leadership::is_leading)).await;
    match outcome {
        Ok(Ok(now)) => Ok(now.fencing_token().unwrap_or_default()),
        Ok(Err(_)) => Err(format!("{name}'s leadership watch closed")),
        Err(_) => Err(format!("{name} did not lead within {DEADLINE:?} (it is {:?})", handle.current())),
    }
}

/// Waits until retrieval names `address`; answers how it reads.
async fn retrieved(retrieval: &RetrievalHandle, address: &str) -> Result<String, String> {
    let mut leader = retrieval.leader();
    let named = |change: &Option<LeaderChanged>| matches!(change, Some(LeaderChanged::Leader { address: a, .. }) if a == address);
    let outcome =
        tokio::time::timeout(DEADLINE, leader.wait_for(named)).await.map(|found| found.map(|change| change.clone()));
    match outcome {
        Ok(Ok(Some(LeaderChanged::Leader { address, fencing_token, .. }))) => {
            Ok(format!("the leader is {address} (fencing token {})", fencing_token.unwrap_or_default()))
        }
        Ok(Ok(_)) => unreachable!("waited for a leader"),
        Ok(Err(_)) => Err("the retrieval watch closed".into()),
        Err(_) => {
            Err(format!("retrieval did not name {address} within {DEADLINE:?} (it sees {:?})", retrieval.current()))
        }
    }
}
