//! Against a real ZooKeeper 3.4 server (`scripts/install-zookeeper-3.4.sh` unpacks Debian 11's
//! 3.4.13 beside the current server), which has no persistent watches: a retriever asked for
//! one falls back to one-shot watches and still follows every leader.
//!
//! The 3.4 server is also older than `create2`, which every create of ours uses, so the nodes
//! are created by a client told the server's version; our session reads, writes and deletes
//! them.

mod common;

use std::time::Duration;

use actix::prelude::*;
use common::*;
use uuid::Uuid;
use zk_election::testkit::{Watched, ZkServer};
use zk_election::zk::{AddWatch, Delete, SetData};
use zk_election::{
    ConnectionState, LeaderInfo, LeaderInfoCodec, LeaderRetriever, LeaderState, Observation, SubscribeObservations,
    ZkError,
};

const SECOND: Duration = Duration::from_secs(1);
const HOME: &str = "/opt/zk-election/zookeeper-3.4";
const LEADER: &str = "/old/leader";

fn old_server() -> ZkServer {
    ZkServer::builder()
        .zookeeper_home(HOME)
        .start()
        .unwrap_or_else(|err| panic!("ZooKeeper 3.4 at {HOME} (scripts/install-zookeeper-3.4.sh): {err}"))
}

/// Creates `path` (persistent, empty) with a client that knows the server is 3.4, so that it
/// sends the old `create` rather than `create2`.
async fn create_on_old_server(connect: &str, path: &str) {
    let client = zookeeper_client::Client::connector()
        .with_server_version(3, 4, 13)
        .connect(connect)
        .await
        .expect("a 3.4 client connects");
    let options = zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    client.create(path, &[], &options).await.expect("create");
}

async fn until_state(observations: &mut Received<Observation>, within: Duration, wanted: &LeaderState) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if &observations.next(left).await.1.state == wanted {
            return;
        }
    }
}

#[actix_rt::test]
async fn a_persistent_watch_falls_back_to_one_shot_watches_on_a_3_4_server() {
    init_tracing();
    let server = old_server();
    let version = server.version().expect("srvr");
    assert!(version.starts_with("3.4."), "not a 3.4 server: {version}");
    let cs = server.connect_string();
    let (session, mut states) = connected_session(&cs, 10 * SECOND).await;

    // The server has no persistent watches: it says so, in our error.
    let (watcher, _fired) = probe();
    let refused = ops(&session).send(Watched { request: AddWatch::new("/"), watcher }).await.unwrap();
    assert_eq!(refused, Err(ZkError::Unimplemented));
    // ...and closes the connection after the refusal. A request sent before the close lands
    // may be read and then lost with the connection (and rightly asked again): wait it out.
    expect_state(&mut states, ConnectionState::Reconnected { same_session: true }, 15 * SECOND).await;

    let retriever = LeaderRetriever::new(session.clone(), LEADER, LeaderInfoCodec::Bincode)
        .expect("valid path")
        .with_persistent_watch()
        .start();
    let (recipient, mut observations) = probe::<Observation>();
    retriever.send(SubscribeObservations(recipient)).await.unwrap();
    until_state(&mut observations, 5 * SECOND, &LeaderState::Vacant).await;
    // The retriever's own refusal closes the connection too.
    expect_state(&mut states, ConnectionState::Reconnected { same_session: true }, 15 * SECOND).await;

    create_on_old_server(&cs, "/old").await;
    create_on_old_server(&cs, LEADER).await;
    let operator = ops(&session);
    // Each change after the first needs the one-shot watch the read before it set again.
    for (round, address) in ["a:1", "b:1", "c:1"].into_iter().enumerate() {
        let leader_session = Uuid::new_v4();
        let info = LeaderInfo::new(address, leader_session).with_fencing_token(round as i64 + 1);
        let data = LeaderInfoCodec::Bincode.encode(&info).unwrap();
        operator.send(SetData { path: LEADER.into(), data, version: None }).await.unwrap().expect("set");
        let wanted =
            LeaderState::Leading { address: address.into(), leader_session, fencing_token: Some(round as i64 + 1) };
        until_state(&mut observations, 5 * SECOND, &wanted).await;
    }
    operator.send(Delete { path: LEADER.into(), version: None }).await.unwrap().expect("delete");
    until_state(&mut observations, 5 * SECOND, &LeaderState::Vacant).await;

    // A 3.4 server closes the connection after answering a request it does not know: asked
    // once by the test, once by the retriever, and never again after a reconnect.
    let server = std::sync::Arc::new(server);
    let restarting = server.clone();
    blocking(move || restarting.restart()).await.expect("restart");
    expect_state(&mut states, ConnectionState::Reconnected { same_session: true }, 15 * SECOND).await;
    create_on_old_server(&cs, LEADER).await;
    let leader_session = Uuid::new_v4();
    let data = LeaderInfoCodec::Bincode.encode(&LeaderInfo::new("d:1", leader_session)).unwrap();
    operator.send(SetData { path: LEADER.into(), data, version: None }).await.unwrap().expect("set");
    let wanted = LeaderState::Leading { address: "d:1".into(), leader_session, fencing_token: None };
    until_state(&mut observations, 5 * SECOND, &wanted).await;
    let log = std::fs::read_to_string(server.log_path()).expect("server log");
    assert_eq!(log.matches("unknown type 106").count(), 2, "addWatch asked again after the fallback");
}
