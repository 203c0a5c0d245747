//! ACLs and digest auth against a real ZooKeeper: with digest auth every node the election
//! creates (latch node, leader node and the parents created on the way) is creator-only; without
//! auth they are open. Checked with a plain `zookeeper-client` client, as an outsider would.

mod common;

use std::time::Duration;

use actix::prelude::*;
use common::*;
use zk_election::testkit::ZkServer;
use zk_election::{
    ElectionConfig, ElectionError, ElectionSupervisor, LeadershipEvent, SessionConfig, StopElection, StopSession,
    ZkError, ZkSession,
};
use zookeeper_client::{Acl, Client, Permission};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/secured/election/latch";
const LEADER: &str = "/secured/leaders/jobmanager";

/// A session authenticated as `user:password` (digest scheme), once connected.
async fn digest_session(connect: &str, user: &str, password: &str) -> Addr<ZkSession> {
    let config = SessionConfig::builder(connect)
        .session_timeout(4 * SECOND)
        .request_timeout(5 * SECOND)
        .digest_auth(user, password)
        .build()
        .expect("valid config");
    let session = ZkSession::start(config);
    let (recipient, mut states) = probe::<zk_election::ConnectionStateChanged>();
    let status = session.send(zk_election::session::SubscribeConnection(recipient)).await.unwrap();
    assert!(status.authenticated);
    if !status.is_connected() {
        expect_state(&mut states, zk_election::ConnectionState::Connected, 15 * SECOND).await;
    }
    session
}

/// A contender on `session` that confirms its grant; returns once its leader node is published.
async fn lead(session: &Addr<ZkSession>, address: &str) -> (Addr<ElectionSupervisor>, Events) {
    let supervisor = ElectionSupervisor::start(session.clone(), ElectionConfig::builder(LATCH).build().unwrap());
    let mut events = subscribe(&supervisor, "jobmanager", address, LEADER, true).await;
    let granted = expect_grant(&mut events, 5 * SECOND).await;
    assert_eq!(expect_published(&mut events, 5 * SECOND).await, granted);
    (supervisor, events)
}

/// A plain client, authenticated with `auth` (`user:password`) if given.
async fn outsider(connect: &str, auth: Option<&str>) -> Client {
    let mut connector = Client::connector();
    if let Some(auth) = auth {
        connector = connector.with_auth("digest", auth.as_bytes());
    }
    connector.connect(connect).await.expect("outsider connects")
}

/// Our latch node (the only child of the latch path).
async fn latch_node(client: &Client) -> String {
    let children = client.list_children(LATCH).await.expect("latch children");
    assert_eq!(children.len(), 1, "{children:?}");
    format!("{LATCH}/{}", children[0])
}

/// Whether `acl` is exactly "everything for the digest identity of `user`".
fn is_creator_all_for(acl: &[Acl], user: &str) -> bool {
    // The id is `user:base64(sha1(user:password))`: 28 characters after the colon.
    matches!(acl, [only] if only.permission() == Permission::ALL
        && only.scheme() == "digest"
        && only.id().strip_prefix(user).and_then(|rest| rest.strip_prefix(':')).is_some_and(|hash| hash.len() == 28))
}

#[actix_rt::test]
async fn with_digest_auth_nodes_are_creator_only() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let session = digest_session(&cs, "alice", "s3cret").await;
    let (supervisor, _events) = lead(&session, "alice-host:6123").await;

    let alice = outsider(&cs, Some("alice:s3cret")).await;
    let anonymous = outsider(&cs, None).await;
    // Not even its name is visible to others: listing the latch needs READ on it.
    assert_eq!(anonymous.list_children(LATCH).await, Err(zookeeper_client::Error::NoAuth));
    let latch_node = latch_node(&alice).await;
    // Every node we created, parents included. Since ZooKeeper 3.6 reading an ACL needs READ or
    // ADMIN permission, so only alice may even look.
    for path in [LATCH, "/secured/election", "/secured", "/secured/leaders", LEADER, latch_node.as_str()] {
        let (acl, _) = alice.get_acl(path).await.unwrap_or_else(|e| panic!("get_acl {path}: {e}"));
        assert!(is_creator_all_for(&acl, "alice"), "{path} has ACL {acl:?}");
        assert_eq!(anonymous.get_acl(path).await.map(|_| ()), Err(zookeeper_client::Error::NoAuth), "{path}");
    }

    // Neither an anonymous client nor another user may read, change or delete them.
    let mallory = outsider(&cs, Some("mallory:guess")).await;
    for (who, client) in [("anonymous", &anonymous), ("mallory", &mallory)] {
        for path in [LEADER, latch_node.as_str()] {
            assert_eq!(client.delete(path, None).await, Err(zookeeper_client::Error::NoAuth), "{who} deleted {path}");
            let overwritten = client.set_data(path, b"hijacked", None).await.map(|_| ());
            assert_eq!(overwritten, Err(zookeeper_client::Error::NoAuth), "{who} overwrote {path}");
            assert_eq!(
                client.get_data(path).await.map(|_| ()),
                Err(zookeeper_client::Error::NoAuth),
                "{who} read {path}"
            );
        }
        let squat = client
            .create(
                &format!("{LATCH}/_c_squatter-latch-"),
                b"x",
                &zookeeper_client::CreateMode::EphemeralSequential.with_acls(zookeeper_client::Acls::anyone_all()),
            )
            .await;
        assert_eq!(squat.map(|_| ()), Err(zookeeper_client::Error::NoAuth), "{who} joined the latch");
    }
    // The same credentials are the same identity: a client logged in as alice may read.
    let (data, _) = alice.get_data(LEADER).await.expect("alice reads her leader node");
    let info = zk_election::LeaderInfoCodec::Bincode.decode(&data).expect("leader info");
    assert_eq!(info.address, "alice-host:6123");

    supervisor.send(StopElection).await.unwrap().expect("stop deletes what it created");
    assert_eq!(alice.check_stat(LEADER).await, Ok(None));
    session.send(StopSession).await.unwrap();
}

#[actix_rt::test]
async fn contenders_sharing_the_credentials_hand_over() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let first = digest_session(&cs, "alice", "s3cret").await;
    let (first_supervisor, _first_events) = lead(&first, "first:1").await;

    // Same user, other process: queues up and takes over (it may use alice's parents).
    let second = digest_session(&cs, "alice", "s3cret").await;
    let second_supervisor = ElectionSupervisor::start(second.clone(), ElectionConfig::builder(LATCH).build().unwrap());
    let mut second_events = subscribe(&second_supervisor, "jobmanager", "second:2", LEADER, true).await;
    // Another user cannot even queue: creating its latch node under alice's latch path is refused.
    let bob = digest_session(&cs, "bob", "hunter2").await;
    let bob_supervisor = ElectionSupervisor::start(bob.clone(), ElectionConfig::builder(LATCH).build().unwrap());
    let mut bob_events = subscribe(&bob_supervisor, "jobmanager", "bob:3", LEADER, true).await;
    let (_, error) = bob_events.until(5 * SECOND, |e| matches!(e, LeadershipEvent::Error { .. })).await;
    assert!(
        matches!(error, LeadershipEvent::Error { error: ElectionError::ZooKeeper(ZkError::NoAuth), .. }),
        "{error:?}"
    );

    first_supervisor.send(StopElection).await.unwrap().unwrap();
    let granted = expect_grant(&mut second_events, 5 * SECOND).await;
    assert_eq!(expect_published(&mut second_events, 5 * SECOND).await, granted);
    assert!(!bob_events.try_drain().iter().any(|e| matches!(e, LeadershipEvent::Granted { .. })));
    let alice = outsider(&cs, Some("alice:s3cret")).await;
    let (acl, stat) = alice.get_acl(LEADER).await.unwrap();
    assert!(is_creator_all_for(&acl, "alice"), "{acl:?}");
    let second_id = second.send(zk_election::session::GetStatus).await.unwrap().zk_session;
    assert_eq!(Some(stat.ephemeral_owner), second_id, "the successor owns the leader node");
    for session in [first, second, bob] {
        session.send(StopSession).await.unwrap();
    }
}

#[actix_rt::test]
async fn without_auth_nodes_are_open() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (session, _states) = connected_session(&cs, 4 * SECOND).await;
    let (_supervisor, _events) = lead(&session, "open:1").await;
    let anonymous = outsider(&cs, None).await;
    let latch_node = latch_node(&anonymous).await;
    for path in [LATCH, "/secured/leaders", LEADER, latch_node.as_str()] {
        let (acl, _) = anonymous.get_acl(path).await.unwrap();
        assert_eq!(acl, [Acl::new(Permission::ALL, zookeeper_client::AuthId::anyone())], "{path}");
    }
    // Open means anyone may delete them (the election then rewrites its leader node).
    anonymous.delete(LEADER, None).await.expect("anonymous delete of an open node");
}
