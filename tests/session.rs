//! The session actor against real ZooKeeper servers: operations, watches, connection states
//! across restarts, partitions and ensemble failures, and configuration errors.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use zk_election::port::WatchFired;
use zk_election::session::GetStatus;
use zk_election::testkit::{FaultProxy, ZkEnsemble, ZkServer};
use zk_election::zk::{
    Create, Delete, Exists, GetChildren, GetData, GuardedMulti, NodeMode, Parents, SetData, WatchEvent, WriteOp,
};
use zk_election::{ConfigError, ConnectionState, SessionConfig, StopSession, ZkError, ZkSession};

const SECOND: Duration = Duration::from_secs(1);

#[actix_rt::test]
async fn create_read_set_delete_and_watches() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let (session, _states) = connected_session(&server.connect_string(), 4 * SECOND).await;

    create_persistent(&session, "/app/config", b"v1").await;
    let (data, stat) = read(&session, "/app/config").await.expect("node exists");
    assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 0));

    let stat = ops(&session)
        .send(SetData { path: "/app/config".into(), data: b"v2".to_vec(), version: Some(0) })
        .await
        .unwrap()
        .expect("set at version 0");
    assert_eq!(stat.version, 1);
    let stale =
        ops(&session).send(SetData { path: "/app/config".into(), data: b"v3".to_vec(), version: Some(0) }).await;
    assert_eq!(stale.unwrap(), Err(ZkError::BadVersion));

    let ephemeral =
        ops(&session).send(Create::new("/app/eph", b"e".to_vec(), NodeMode::Ephemeral)).await.unwrap().unwrap();
    let status = session.send(GetStatus).await.unwrap();
    assert_eq!(Some(ephemeral.stat.ephemeral_owner), status.zk_session);
    let seq1 =
        ops(&session).send(Create::new("/app/seq-", vec![], NodeMode::EphemeralSequential)).await.unwrap().unwrap();
    let seq2 =
        ops(&session).send(Create::new("/app/seq-", vec![], NodeMode::EphemeralSequential)).await.unwrap().unwrap();
    assert!(seq1.path.starts_with("/app/seq-") && seq1.path.len() == "/app/seq-".len() + 10, "{}", seq1.path);
    assert!(seq2.path > seq1.path);
    let mut children = ops(&session).send(GetChildren { path: "/app".into() }).await.unwrap().unwrap();
    children.sort();
    assert_eq!(children.len(), 4, "{children:?}");
    assert_eq!(
        ops(&session).send(Create::new("/app/config", vec![], NodeMode::Persistent)).await.unwrap(),
        Err(ZkError::NodeExists)
    );
    assert_eq!(
        ops(&session).send(Create::new("/missing/child", vec![], NodeMode::Persistent)).await.unwrap().map(|_| ()),
        Err(ZkError::NoNode)
    );

    // Missing parents are created on request, whether none exists or only some do.
    for path in ["/deep/a/b/c/leaf", "/app/x/y/leaf", "/app/x/z/leaf"] {
        let create = Create::new(path, b"l".to_vec(), NodeMode::Persistent).parents(Parents::Persistent);
        ops(&session).send(create).await.unwrap().unwrap_or_else(|err| panic!("{path}: {err}"));
    }
    for path in ["/deep", "/deep/a", "/deep/a/b", "/deep/a/b/c", "/app/x", "/app/x/y", "/app/x/z"] {
        let stat = ops(&session).send(Exists { path: path.into() }).await.unwrap().unwrap();
        assert_eq!(stat.map(|stat| stat.ephemeral_owner), Some(0), "{path} is not a persistent parent");
    }
    assert_eq!(read(&session, "/deep/a/b/c/leaf").await.unwrap().0, b"l");
    ops(&session).send(Delete { path: "/app/x/y/leaf".into(), version: None }).await.unwrap().unwrap();
    for path in ["/app/x/y", "/app/x/z/leaf", "/app/x/z", "/app/x"] {
        ops(&session).send(Delete { path: path.into(), version: None }).await.unwrap().unwrap();
    }

    // One-shot watches: data change, creation, deletion — each delivered once, typed.
    let (watcher, mut fired) = probe::<WatchFired>();
    ops(&session).send(Watched::new(GetData { path: "/app/config".into() }, watcher.clone())).await.unwrap().unwrap();
    ops(&session).send(Watched::new(Exists { path: "/app/later".into() }, watcher.clone())).await.unwrap().unwrap();
    ops(&session)
        .send(SetData { path: "/app/config".into(), data: b"v4".to_vec(), version: None })
        .await
        .unwrap()
        .unwrap();
    ops(&session).send(Create::new("/app/later", vec![], NodeMode::Persistent)).await.unwrap().unwrap();
    let mut got = [fired.next(5 * SECOND).await.1, fired.next(5 * SECOND).await.1];
    got.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!((got[0].path.as_str(), &got[0].event), ("/app/config", &WatchEvent::DataChanged));
    assert_eq!((got[1].path.as_str(), &got[1].event), ("/app/later", &WatchEvent::Created));
    ops(&session)
        .send(SetData { path: "/app/config".into(), data: b"v5".to_vec(), version: None })
        .await
        .unwrap()
        .unwrap();
    assert!(fired.drain_for(Duration::from_millis(300)).await.is_empty(), "one-shot watch fired twice");

    ops(&session).send(Watched::new(GetData { path: "/app/later".into() }, watcher)).await.unwrap().unwrap();
    ops(&session).send(Delete { path: "/app/later".into(), version: None }).await.unwrap().unwrap();
    assert_eq!(fired.next(5 * SECOND).await.1.event, WatchEvent::Deleted);
    assert_eq!(
        ops(&session).send(Delete { path: "/app/later".into(), version: None }).await.unwrap(),
        Err(ZkError::NoNode)
    );

    // Guarded multi: applies when the guard exists, writes nothing when it does not.
    let guarded = GuardedMulti {
        guard: ephemeral.path.clone(),
        guard_version: None,
        ops: vec![WriteOp::SetData { path: "/app/config".into(), data: b"guarded".to_vec(), version: None }],
    };
    ops(&session).send(guarded.clone()).await.unwrap().expect("guard holds");
    assert_eq!(read(&session, "/app/config").await.unwrap().0, b"guarded");
    ops(&session).send(Delete { path: ephemeral.path.clone(), version: None }).await.unwrap().unwrap();
    let refused = GuardedMulti {
        ops: vec![WriteOp::SetData { path: "/app/config".into(), data: b"stale".to_vec(), version: None }],
        ..guarded
    };
    assert_eq!(ops(&session).send(refused).await.unwrap(), Err(ZkError::GuardFailed { path: ephemeral.path }));
    assert_eq!(read(&session, "/app/config").await.unwrap().0, b"guarded");

    // Stop closes the session: the server drops our ephemerals at once.
    let (other, _other_states) = connected_session(&server.connect_string(), 4 * SECOND).await;
    assert!(exists(&other, &seq1.path).await);
    session.send(StopSession).await.unwrap();
    assert!(!exists(&other, &seq1.path).await, "ephemeral survived a clean close");
    assert!(session.send(GetStatus).await.is_err(), "session actor still running after stop");
}

#[actix_rt::test]
async fn server_restart_within_timeout_keeps_session_and_watches() {
    init_tracing();
    let server = Arc::new(ZkServer::start().expect("zookeeper"));
    let (session, mut states) = connected_session(&server.connect_string(), 6 * SECOND).await;
    let before = session.send(GetStatus).await.unwrap();
    create_persistent(&session, "/watched", b"0").await;
    ops(&session).send(Create::new("/mine", vec![], NodeMode::Ephemeral)).await.unwrap().unwrap();
    let (watcher, mut fired) = probe::<WatchFired>();
    ops(&session).send(Watched::new(GetData { path: "/watched".into() }, watcher)).await.unwrap().unwrap();

    let restarting = server.clone();
    blocking(move || restarting.kill()).await.expect("kill");
    expect_state(&mut states, ConnectionState::Suspended, 5 * SECOND).await;
    let restarting = server.clone();
    blocking(move || restarting.restart()).await.expect("restart");
    let (_, event) = states.next(10 * SECOND).await;
    assert_eq!(event.state, ConnectionState::Reconnected { same_session: true });
    assert_eq!(event.zk_session, before.zk_session);

    assert!(exists(&session, "/mine").await, "ephemeral node lost across a short outage");
    let (other, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    ops(&other).send(SetData { path: "/watched".into(), data: b"1".to_vec(), version: None }).await.unwrap().unwrap();
    let (_, watch) = fired.next(5 * SECOND).await;
    assert_eq!((watch.path.as_str(), watch.event), ("/watched", WatchEvent::DataChanged));
    assert!(states.try_drain().iter().all(|e| e.state != ConnectionState::Lost));
}

#[actix_rt::test]
async fn partition_longer_than_timeout_loses_session_then_recovers() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let proxy = FaultProxy::for_connect_string(&server.connect_string()).expect("proxy");
    let timeout = 2 * SECOND;
    let (session, mut states) = connected_session(&proxy.connect_string(), timeout).await;
    let negotiated = session.send(GetStatus).await.unwrap().negotiated_timeout.expect("negotiated");
    let (observer, _s) = connected_session(&server.connect_string(), 4 * SECOND).await;
    let node = ops(&session).send(Create::new("/eph", vec![], NodeMode::Ephemeral)).await.unwrap().unwrap().path;

    let cut_at = Instant::now();
    proxy.blackhole();
    expect_state(&mut states, ConnectionState::Suspended, negotiated).await;
    let lost_at = expect_state(&mut states, ConnectionState::Lost, negotiated + 2 * SECOND).await;
    let lost_after = lost_at - cut_at;
    assert!(lost_after <= negotiated + SECOND, "Lost {lost_after:?} after the cut (timeout {negotiated:?})");

    // The server expires the session on its own clock; our ephemeral goes with it.
    eventually(negotiated + 2 * SECOND, "old ephemeral removed by expiry", || async {
        (!exists(&observer, &node).await).then_some(())
    })
    .await;
    proxy.pass();
    let (_, event) = states.next(negotiated * 3).await;
    assert_eq!(event.state, ConnectionState::Reconnected { same_session: false });
    assert!(!exists(&session, &node).await);
    ops(&session).send(Create::new("/eph", vec![], NodeMode::Ephemeral)).await.unwrap().expect("new session works");
}

/// The index of the ensemble member that holds `zk_session`'s connection.
fn member_serving(ensemble: &ZkEnsemble, zk_session: i64) -> usize {
    let needle = format!("sid={zk_session:#x}");
    (0..ensemble.len())
        .find(|&i| ensemble.member(i).four_letter("cons").is_ok_and(|cons| cons.contains(&needle)))
        .expect("some member serves our session")
}

#[actix_rt::test]
async fn ensemble_member_failures() {
    init_tracing();
    let ensemble = Arc::new(ZkEnsemble::start().expect("ensemble"));
    let (session, mut states) = connected_session(&ensemble.connect_string(), 4 * SECOND).await;
    let status = session.send(GetStatus).await.unwrap();
    let serving = member_serving(&ensemble, status.zk_session.expect("session"));

    // Losing the member we talk to: the client moves to another one within the same session.
    let e = ensemble.clone();
    blocking(move || e.kill(serving)).await.expect("kill");
    expect_state(&mut states, ConnectionState::Suspended, 5 * SECOND).await;
    let (_, event) = states.next(10 * SECOND).await;
    assert_eq!(event.state, ConnectionState::Reconnected { same_session: true });
    create_persistent(&session, "/still-writable", b"").await;
    let e = ensemble.clone();
    blocking(move || e.restart(serving)).await.expect("restart");
    assert!(states.try_drain().iter().all(|e| e.state != ConnectionState::Lost), "Lost with a quorum up");

    // Losing the quorum: Lost after the timeout, then a new session once it is back.
    let others: Vec<usize> = (0..3).filter(|&i| i != serving).collect();
    let e = ensemble.clone();
    let down = others.clone();
    blocking(move || down.iter().try_for_each(|&i| e.kill(i))).await.expect("kill two");
    expect_state(&mut states, ConnectionState::Suspended, 5 * SECOND).await;
    expect_state(&mut states, ConnectionState::Lost, 6 * SECOND).await;
    let e = ensemble.clone();
    blocking(move || others.iter().try_for_each(|&i| e.restart(i))).await.expect("restart two");
    let (_, event) = states.until(30 * SECOND, |e| matches!(e.state, ConnectionState::Reconnected { .. })).await;
    assert_eq!(event.state, ConnectionState::Reconnected { same_session: false });
    create_persistent(&session, "/after-quorum-loss", b"").await;
}

#[actix_rt::test]
async fn no_server_retries_quietly_and_stops() {
    init_tracing();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = SessionConfig::builder(format!("127.0.0.1:{port}"))
        .session_timeout(2 * SECOND)
        .request_timeout(SECOND)
        .build()
        .unwrap();
    let session = ZkSession::start(config);
    let wall = Instant::now();
    let cpu = cpu_time();
    tokio::time::sleep(3 * SECOND).await; // measuring idleness needs a fixed window
    let used = cpu_time() - cpu;
    let elapsed = wall.elapsed();
    assert!(used < elapsed / 10, "used {used:?} CPU in {elapsed:?} with no server");
    let status = session.send(GetStatus).await.unwrap();
    assert_eq!(status.state, None);
    assert!(status.generation >= 2, "no retry happened: generation {}", status.generation);
    let request = ops(&session).send(Create::new("/x", vec![], NodeMode::Persistent)).await.unwrap();
    assert_eq!(request.map(|_| ()), Err(ZkError::NotConnected));
    tokio::time::timeout(5 * SECOND, session.send(StopSession)).await.expect("stop answers").unwrap();
}

#[actix_rt::test]
async fn bad_configuration_is_a_typed_error_before_connecting() {
    assert_eq!(ZkSession::connect("").err(), Some(ConfigError::EmptyConnectString));
    assert!(matches!(ZkSession::connect("127.0.0.1:zk"), Err(ConfigError::InvalidPort { .. })));
    assert!(matches!(
        SessionConfig::builder("127.0.0.1:2181").chroot("relative/root").build(),
        Err(ConfigError::InvalidPath { what: "chroot", .. })
    ));
    assert_eq!(
        SessionConfig::builder("127.0.0.1:2181").session_timeout(Duration::ZERO).build(),
        Err(ConfigError::ZeroTimeout { what: "session timeout" })
    );
}
