//! Digest authentication and the creator-only ACLs it brings: what an election's nodes look like
//! to a session with the credentials and to one without.
//!
//! ```sh
//! cargo run --features testkit --example digest_auth
//! ```
//!
//! It starts an embedded ZooKeeper ([`ZkServer`]) and a contender whose session authenticates as
//! `alice` (`SessionConfig::builder(..).digest_auth("alice", ..)`). With digest auth and no ACL
//! configured, every node the election creates (latch path, latch node, leader node, parents) is
//! creator-only (`NodeAcl::CreatorAll`). Once the contender leads, it prints:
//!
//! 1. the ACLs of those nodes, read by a client logged in as alice (since ZooKeeper 3.6 reading
//!    an ACL needs permission too), and the leader node's content, which alice may read;
//! 2. what a second, unauthenticated session may do with the leader node: see that it exists
//!    (`exists` checks no ACL), but neither read, overwrite nor delete it — each answered
//!    `ZkError::NoAuth` — nor list the latch.
//!
//! Every wait has a deadline; a missed one, or an unexpected answer, prints what was expected and
//! exits with status 1. Takes about two seconds.

mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};
use zk_election::testkit::Operator;

use actix::prelude::*;
use zk_election::session::GetStatus;
use zk_election::testkit::RecordingContender;
use zk_election::zk::{Delete, Exists, GetChildren, GetData, SetData};
use zk_election::{
    ElectionConfig, ElectionSupervisor, LeaderInfoCodec, LeadershipEvent, SessionConfig, StopElection, StopSession,
    Subscribe, ZkError, ZkSession,
};

const LATCH: &str = "/secured/election/latch";
const LEADER: &str = "/secured/leaders/jobmanager";
const USER: &str = "alice";
const PASSWORD: &str = "s3cret";
/// Deadline of every wait.
const DEADLINE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    support::run_on_embedded_zookeeper(run)
}

async fn run(connect: String) -> Result<(), String> {
    // The contender: a session authenticated as alice; the election sets no ACL of its own.
    let config = SessionConfig::builder(&connect)
        .session_timeout(Duration::from_secs(4))
        .request_timeout(Duration::from_secs(3))
        .digest_auth(USER, PASSWORD)
        .build()
        .map_err(|err| err.to_string())?;
    let session = ZkSession::start(config);
    let election = ElectionConfig::builder(LATCH).build().map_err(|err| err.to_string())?;
    let supervisor = ElectionSupervisor::start(session.clone(), election);
    let (contender, mut events) = RecordingContender::channel(supervisor.clone());
    let subscribe = Subscribe::new("jobmanager", "alice-host:6123", LEADER, contender.start().recipient());
    supervisor.send(subscribe).await.map_err(|err| err.to_string())?.map_err(|err| err.to_string())?;
    let leading = async {
        while let Some((_, event)) = events.recv().await {
            match event {
                LeadershipEvent::Published { fencing_token, .. } => return Ok(fencing_token),
                LeadershipEvent::Error { error, .. } => return Err(format!("the election failed: {error}")),
                _ => {}
            }
        }
        Err("the contender went away".to_owned())
    };
    let token = tokio::time::timeout(DEADLINE, leading)
        .await
        .map_err(|_| format!("no leader node published within {DEADLINE:?}"))??;
    let authenticated = session.send(GetStatus).await.map_err(|err| err.to_string())?.authenticated;
    println!("alice's contender leads (fencing token {token}); its session authenticated: {authenticated}");

    // 1. The ACLs, as alice sees them. The session actor has no ACL request; a plain client does.
    let alice = zookeeper_client::Client::connector()
        .with_auth("digest", format!("{USER}:{PASSWORD}").as_bytes())
        .connect(&connect)
        .await
        .map_err(|err| format!("alice's client: {err}"))?;
    let children = alice.list_children(LATCH).await.map_err(|err| format!("listing the latch: {err}"))?;
    let latch_node = format!("{LATCH}/{}", children.first().ok_or("the latch is empty")?);
    println!("\nACLs of the election's nodes (read as alice):");
    for path in ["/secured", "/secured/election", LATCH, latch_node.as_str(), "/secured/leaders", LEADER] {
        let (acl, _) = alice.get_acl(path).await.map_err(|err| format!("reading the ACL of {path}: {err}"))?;
        let acl: Vec<String> =
            acl.iter().map(|acl| format!("{}:{} {}", acl.scheme(), acl.id(), acl.permission())).collect();
        println!("  {}  {path}", acl.join(", "));
    }
    let (data, _) = alice.get_data(LEADER).await.map_err(|err| format!("alice reading {LEADER}: {err}"))?;
    let info = LeaderInfoCodec::Bincode.decode(&data).map_err(|err| err.to_string())?;
    println!("  alice reads the leader node: address {}, leader session {}", info.address, info.leader_session);

    // 2. The same leader node, seen from a session without credentials.
    let anonymous = ZkSession::start(
        SessionConfig::builder(&connect)
            .session_timeout(Duration::from_secs(4))
            .request_timeout(Duration::from_secs(3))
            .build()
            .map_err(|err| err.to_string())?,
    );
    wait_connected(&anonymous).await?;
    let stranger = Operator::start(&anonymous);
    println!("\nan unauthenticated session, on the leader node {LEADER} (and the latch):");
    let exists = stranger.send(Exists { path: LEADER.into() }).await.map_err(|err| err.to_string())?;
    match exists {
        Ok(Some(stat)) => {
            println!("  exists      → yes, ephemeral owner {:#x} (exists checks no ACL)", stat.ephemeral_owner)
        }
        other => return Err(format!("exists answered {other:?}")),
    }
    let read = stranger.send(GetData { path: LEADER.into() }).await.map_err(|err| err.to_string())?;
    refused("get_data", read.map(|_| ()))?;
    let write = SetData { path: LEADER.into(), data: b"hijacked".to_vec(), version: None };
    refused("set_data", stranger.send(write).await.map_err(|err| err.to_string())?.map(|_| ()))?;
    let delete = Delete { path: LEADER.into(), version: None };
    refused("delete", stranger.send(delete).await.map_err(|err| err.to_string())?)?;
    let list = stranger.send(GetChildren { path: LATCH.into() }).await.map_err(|err| err.to_string())?;
    refused("list latch", list.map(|_| ()))?;

    // The leader node is untouched.
    let (after, _) = alice.get_data(LEADER).await.map_err(|err| format!("alice reading {LEADER}: {err}"))?;
    println!("\nthe leader node is unchanged: {}", if after == data { "yes" } else { "NO" });
    if after != data {
        return Err("the leader node changed".into());
    }
    let _ = anonymous.send(StopSession).await;
    supervisor.send(StopElection).await.map_err(|err| err.to_string())?.map_err(|err| format!("stop: {err}"))?;
    let _ = session.send(StopSession).await;
    Ok(())
}

/// Prints the refusal of `what`; an error unless it was `NoAuth`.
fn refused(what: &str, answer: Result<(), ZkError>) -> Result<(), String> {
    match answer {
        Err(ZkError::NoAuth) => {
            println!("  {what:<11} → Err(ZkError::NoAuth): {}", ZkError::NoAuth);
            Ok(())
        }
        other => Err(format!("{what} by an unauthenticated session answered {other:?}, not NoAuth")),
    }
}

/// Waits until `session` is connected.
async fn wait_connected(session: &Addr<ZkSession>) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        if session.send(GetStatus).await.is_ok_and(|status| status.is_connected()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("the unauthenticated session did not connect within {DEADLINE:?}"))
}
