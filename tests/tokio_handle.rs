//! The handles for programs without actix, used as such a program would: plain `#[tokio::test]`s
//! (no actix runtime in the test itself) against a real ZooKeeper.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::time::timeout;
use uuid::Uuid;
use zk_election::testkit::ZkServer;
use zk_election::zk::{NodeAcl, NodeMode, WriteOp, WriteResult};
use zk_election::{
    ConfigError, ConfirmMode, ElectionConfig, ElectionError, ElectionHandle, LeaderChanged, LeaderInfoCodec,
    Leadership, RetrievalHandle, SessionConfig,
};

/// Deadline of every wait; a run takes a fraction of it.
const WITHIN: Duration = Duration::from_secs(10);
const LATCH: &str = "/tokio/latch";
const LEADER: &str = "/tokio/leader";

fn configs(server: &ZkServer) -> (SessionConfig, ElectionConfig) {
    let session = SessionConfig::builder(server.connect_string())
        .session_timeout(Duration::from_secs(4))
        .request_timeout(Duration::from_secs(3))
        .build()
        .expect("valid session config");
    (session, ElectionConfig::builder(LATCH).build().expect("valid election config"))
}

async fn start(server: &ZkServer, component: &str, address: &str) -> ElectionHandle {
    let (session, election) = configs(server);
    let builder = ElectionHandle::builder(session, election).component(component).address(address).leader_path(LEADER);
    builder.start().await.expect("handle started")
}

/// Waits until the watch satisfies `wanted`, and answers that value.
async fn until(
    rx: &mut watch::Receiver<Leadership>,
    what: &str,
    wanted: impl FnMut(&Leadership) -> bool,
) -> Leadership {
    let outcome = timeout(WITHIN, rx.wait_for(wanted)).await.map(|found| found.map(|value| *value));
    match outcome {
        Ok(Ok(value)) => value,
        Ok(Err(_)) => panic!("the leadership watch closed waiting for {what}"),
        Err(_) => panic!("not {what} within {WITHIN:?} (now {:?})", *rx.borrow()),
    }
}

/// Waits until `handle` leads; answers its leader session and fencing token.
async fn leading(handle: &ElectionHandle) -> (Uuid, i64) {
    let mut rx = handle.leadership();
    match until(&mut rx, &format!("{} leading", handle.component()), Leadership::is_leading).await {
        Leadership::Leading { leader_session, fencing_token, .. } => (leader_session, fencing_token),
        _ => unreachable!(),
    }
}

/// Waits until the retrieval watch names `address` as the leader; answers its token.
async fn retrieved(retrieval: &RetrievalHandle, address: &str) -> Option<i64> {
    let mut rx = retrieval.leader();
    let found = timeout(
        WITHIN,
        rx.wait_for(|change| matches!(change, Some(LeaderChanged::Leader { address: a, .. }) if a == address)),
    )
    .await
    .unwrap_or_else(|_| panic!("retrieval did not see {address} within {WITHIN:?} (sees {:?})", retrieval.current()))
    .expect("retrieval watch open")
    .clone();
    match found {
        Some(LeaderChanged::Leader { fencing_token, .. }) => fencing_token,
        _ => unreachable!(),
    }
}

fn create(path: &str, data: &[u8]) -> WriteOp {
    WriteOp::Create { path: path.to_owned(), data: data.to_vec(), mode: NodeMode::Persistent, acl: NodeAcl::Open }
}

/// Compiles only if the handles are `Send + Sync` and their futures `Send` (so a service can
/// use them from spawned tasks); never called.
#[allow(dead_code)]
fn handles_and_their_futures_are_send(handle: &ElectionHandle, retrieval: &RetrievalHandle) {
    fn send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
    fn send<T: Send>(_: T) {}
    send_sync(handle);
    send_sync(retrieval);
    send(handle.leader_write(Vec::new()));
    send(handle.prove_leadership());
    send(handle.confirm(Uuid::nil()));
    send(handle.resign());
    send(handle.shutdown());
    send(retrieval.shutdown());
}

/// Follower → Leading with a token; leader writes land from the leader and are refused from the
/// follower; retrieval follows; after the leader's shutdown the other takes over with a larger
/// token.
#[tokio::test]
async fn two_handles_lead_in_turn_with_growing_tokens() {
    let server = ZkServer::start().expect("zookeeper");
    let (session, _) = configs(&server);
    let retrieval = RetrievalHandle::start(session, LEADER, LeaderInfoCodec::Bincode).await.expect("retrieval");

    let alpha = start(&server, "jobmanager", "alpha:1").await;
    let mut alpha_rx = alpha.leadership();
    assert_eq!(*alpha_rx.borrow_and_update(), Leadership::Follower, "a handle starts as a follower");
    let (alpha_session, alpha_token) = leading(&alpha).await;
    assert!(alpha_token > 0);
    assert_eq!(alpha.fencing_token().await, Some(alpha_token));
    assert!(alpha.has_leadership().await);
    assert_eq!(alpha.prove_leadership().await, Ok(true));
    // Published follows the confirm.
    until(&mut alpha_rx, "alpha published", |l| matches!(l, Leadership::Leading { published: true, .. })).await;
    assert_eq!(retrieved(&retrieval, "alpha:1").await, Some(alpha_token));

    let bravo = start(&server, "jobmanager", "bravo:1").await;
    let written = alpha.leader_write(vec![create("/tokio-state", b"alpha")]).await.expect("the leader writes");
    assert!(matches!(written.as_slice(), [WriteResult::Created { path, .. }] if path == "/tokio-state"));
    assert_eq!(bravo.current(), Leadership::Follower);
    assert_eq!(bravo.leader_write(vec![create("/tokio-bravo", b"bravo")]).await, Err(ElectionError::NotLeader));
    assert_eq!(bravo.prove_leadership().await, Ok(false));
    assert_eq!(bravo.fencing_token().await, None);

    alpha.shutdown().await.expect("alpha stops cleanly");
    assert_eq!(*alpha_rx.borrow(), Leadership::Stopped);
    assert_eq!(alpha.leader_write_in(alpha_session, vec![]).await, Err(ElectionError::Stopped));
    assert_eq!(alpha.shutdown().await, Ok(()), "shutdown is idempotent");

    let (_, bravo_token) = leading(&bravo).await;
    assert!(bravo_token > alpha_token, "bravo's token {bravo_token} should exceed alpha's {alpha_token}");
    assert_eq!(retrieved(&retrieval, "bravo:1").await, Some(bravo_token));
    bravo.leader_write(vec![create("/tokio-bravo", b"bravo")]).await.expect("the new leader writes");

    // Resigning with rejoin: bravo is the only contender, so it is granted again, newer token.
    bravo.resign().await.expect("resign");
    let (_, again) = leading(&bravo).await;
    assert!(again > bravo_token);

    bravo.shutdown().await.expect("bravo stops cleanly");
    let mut leader = retrieval.leader();
    timeout(WITHIN, leader.wait_for(|change| change == &Some(LeaderChanged::NoLeader)))
        .await
        .expect("retrieval sees nobody leading after both stopped")
        .expect("retrieval watch open");
    retrieval.shutdown().await;
}

#[tokio::test]
async fn explicit_confirm_shows_granted_until_confirmed() {
    let server = ZkServer::start().expect("zookeeper");
    let (session, election) = configs(&server);
    let handle = ElectionHandle::builder(session, election)
        .component("jobmanager")
        .address("alpha:1")
        .leader_path(LEADER)
        .confirm(ConfirmMode::Explicit)
        .start()
        .await
        .expect("handle started");
    let mut rx = handle.leadership();
    let granted = until(&mut rx, "granted", |l| matches!(l, Leadership::Granted { .. })).await;
    let Leadership::Granted { leader_session, fencing_token } = granted else { unreachable!() };
    // Not leading until confirmed: no token, no writes.
    assert_eq!(handle.fencing_token().await, None);
    assert_eq!(handle.leader_write(vec![create("/early", b"x")]).await, Err(ElectionError::NotLeader));
    assert!(matches!(handle.confirm(Uuid::new_v4()).await, Err(ElectionError::StaleLeaderSession { .. })));
    assert_eq!(rx.borrow().leader_session(), None, "a stale confirm changes nothing");

    handle.confirm(leader_session).await.expect("confirm accepted");
    let now = until(&mut rx, "leading", Leadership::is_leading).await;
    assert_eq!(now.leader_session(), Some(leader_session));
    assert_eq!(now.fencing_token(), Some(fencing_token));
    assert_eq!(handle.fencing_token().await, Some(fencing_token));
    handle.confirm(leader_session).await.expect("a repeated confirm is accepted");

    // Two at once: the second waits for the first; both find the election stopped cleanly.
    let (first, second) = tokio::join!(handle.shutdown(), handle.shutdown());
    assert_eq!((first, second), (Ok(()), Ok(())), "two shutdowns at once");
    assert_eq!(handle.current(), Leadership::Stopped);
    assert_eq!(handle.confirm(leader_session).await, Err(ElectionError::Stopped));
}

/// A handle dropped without shutdown stops its election (so the next takes over at once, not
/// after a session timeout) without hanging or panicking; so does one dropped while leading.
#[tokio::test]
async fn dropping_a_handle_stops_it_promptly() {
    let server = ZkServer::start().expect("zookeeper");
    let alpha = start(&server, "jobmanager", "alpha:1").await;
    let (_, alpha_token) = leading(&alpha).await;
    let bravo = start(&server, "jobmanager", "bravo:1").await;
    let mut watcher = alpha.leadership();
    let clone = alpha.clone();
    drop(alpha);
    assert!(clone.current().is_leading(), "a clone keeps the contender running");

    let dropped = Instant::now();
    drop(clone);
    assert!(dropped.elapsed() < Duration::from_secs(3), "drop took {:?}", dropped.elapsed());
    assert_eq!(*watcher.borrow_and_update(), Leadership::Stopped, "a receiver outliving the handle sees Stopped");

    let (_, bravo_token) = leading(&bravo).await;
    // The session was closed, not left to time out (4 s).
    assert!(dropped.elapsed() < Duration::from_secs(3), "takeover took {:?}", dropped.elapsed());
    assert!(bravo_token > alpha_token);

    // Dropped before it was ever connected to anything useful: still no hang.
    let (_, election) = configs(&server);
    let nowhere = SessionConfig::builder("127.0.0.1:1").request_timeout(Duration::from_secs(1)).build().unwrap();
    let orphan = ElectionHandle::builder(nowhere, election)
        .component("jobmanager")
        .address("orphan:1")
        .leader_path(LEADER)
        .shutdown_timeout(Duration::from_secs(1))
        .start()
        .await
        .expect("subscribing needs no connection");
    let started = Instant::now();
    drop(orphan);
    assert!(started.elapsed() < Duration::from_secs(3), "drop took {:?}", started.elapsed());
    drop(bravo);
}

#[tokio::test]
async fn bad_input_is_a_typed_error_not_a_panic() {
    // Nothing listens here: every error below comes before a connection is needed.
    let session = SessionConfig::builder("127.0.0.1:1").build().unwrap();
    let election = ElectionConfig::builder(LATCH).build().unwrap();
    let start = |component: &'static str, address: &'static str, leader_path: &'static str| {
        ElectionHandle::builder(session.clone(), election.clone())
            .component(component)
            .address(address)
            .leader_path(leader_path)
            .start()
    };
    assert_eq!(start("", "a:1", LEADER).await.unwrap_err(), ConfigError::EmptyComponent.into());
    assert_eq!(start("c", "", LEADER).await.unwrap_err(), ConfigError::EmptyAddress.into());
    assert!(matches!(
        start("c", "a:1", "leader").await.unwrap_err(),
        ElectionError::Config(ConfigError::InvalidPath { .. })
    ));
    assert!(matches!(
        start("c", "a:1", "/tokio/latch/leader").await.unwrap_err(),
        ElectionError::Config(ConfigError::OverlappingPaths { .. })
    ));
    let retrieval = RetrievalHandle::start(session.clone(), "/zookeeper/x", LeaderInfoCodec::Java).await;
    assert!(matches!(retrieval.unwrap_err(), ElectionError::Config(ConfigError::InvalidPath { .. })));
    // A contender missing altogether is an empty component.
    let missing = ElectionHandle::builder(session, election).start().await.unwrap_err();
    assert_eq!(missing, ConfigError::EmptyComponent.into());
}
