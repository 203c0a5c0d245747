//! Configuration the protocol or the server cannot honour is refused as a typed error before
//! anything connects: session timeouts, reserved paths, overlapping paths, and the messages of
//! the older checks.

use std::time::Duration;

use zk_election::session::StopSession;
use zk_election::{
    Backoff, ConfigError, ElectionConfig, ElectionError, ElectionSupervisor, LeaderInfoCodec, LeaderRetriever,
    LeadershipEvent, PathProblem, SessionConfig, ZkSession,
};

const MS: Duration = Duration::from_millis(1);

fn with_timeout(timeout: Duration) -> Result<SessionConfig, ConfigError> {
    SessionConfig::builder("127.0.0.1:2181").session_timeout(timeout).build()
}

/// ZooKeeper carries the session timeout as a signed 32-bit count of milliseconds: 2^31 ms used
/// to wrap to a negative number, which the server "negotiated" up to its minimum.
#[test]
fn session_timeouts_the_protocol_cannot_carry_are_refused() {
    let max = Duration::from_millis(i32::MAX as u64);
    assert_eq!(zk_election::config::MAX_SESSION_TIMEOUT, max);
    assert!(with_timeout(max).is_ok(), "the largest timeout the protocol carries is refused");
    for too_long in [max + MS, Duration::from_millis(u32::MAX as u64), Duration::from_secs(u64::MAX)] {
        let err = with_timeout(too_long).expect_err("accepted a timeout the protocol cannot carry");
        assert_eq!(err, ConfigError::SessionTimeoutTooLong { requested: too_long, max }, "{too_long:?}");
        assert!(err.to_string().contains("2147483647 ms"), "message does not name the limit: {err}");
    }
    // Only whole milliseconds travel; a fraction would be cut off silently.
    let fraction = Duration::from_micros(1_500_500);
    let err = with_timeout(fraction).expect_err("accepted a fraction of a millisecond");
    assert_eq!(err, ConfigError::SessionTimeoutFraction { requested: fraction });
}

/// Below the floor the server raises the timeout, but the timers derived from the request stay
/// short: leadership flapped on an idle connection.
#[test]
fn session_timeouts_below_the_floor_are_refused() {
    let floor = zk_election::config::MIN_SESSION_TIMEOUT;
    assert_eq!(floor, 1000 * MS);
    for short in [MS, 10 * MS, 999 * MS] {
        let err = with_timeout(short).expect_err("accepted a session timeout below the floor");
        assert_eq!(err, ConfigError::SessionTimeoutTooShort { requested: short, min: floor });
        assert!(err.to_string().contains("1000 ms"), "message does not name the floor: {err}");
    }
    assert!(with_timeout(floor).is_ok());
    // Zero keeps its own, older error.
    assert_eq!(with_timeout(Duration::ZERO), Err(ConfigError::ZeroTimeout { what: "session timeout" }));
}

/// `/zookeeper` is the server's own subtree (quotas, config): never ours to write or watch.
#[test]
fn zookeepers_reserved_subtree_is_refused_everywhere() {
    let reserved = |result: Result<(), ConfigError>| {
        matches!(result, Err(ConfigError::InvalidPath { problem: PathProblem::Reserved, .. }))
    };
    for path in ["/zookeeper", "/zookeeper/x", "/zookeeper/quota/app"] {
        assert!(reserved(ElectionConfig::builder(path).build().map(drop)), "latch path {path}");
        assert!(reserved(SessionConfig::builder("a:1").chroot(path).build().map(drop)), "chroot {path}");
        assert!(reserved(SessionConfig::builder(format!("a:1{path}")).build().map(drop)), "inline chroot {path}");
        let config = ElectionConfig::builder("/app/latch").build().unwrap();
        assert!(reserved(config.check_leader_path(path)), "leader path {path}");
    }
    // Only the segment is reserved, not the prefix.
    for path in ["/zookeeperx", "/zoo", "/app/zookeeper"] {
        assert!(ElectionConfig::builder(path).build().is_ok(), "{path} refused");
    }
}

/// The retriever and the supervisor refuse a reserved leader path too (no server needed: the
/// check comes before any request).
#[actix_rt::test]
async fn retriever_and_subscribe_refuse_reserved_leader_paths() {
    let session = ZkSession::connect("127.0.0.1:1").unwrap();
    let retriever = LeaderRetriever::new(session.clone(), "/zookeeper/leader", LeaderInfoCodec::Bincode);
    assert!(
        matches!(retriever, Err(ConfigError::InvalidPath { problem: PathProblem::Reserved, .. })),
        "retriever accepted a reserved path"
    );
    let supervisor = ElectionSupervisor::start(session.clone(), ElectionConfig::builder("/app/latch").build().unwrap());
    let contender = actix::Actor::start(Sink).recipient::<LeadershipEvent>();
    let answer = supervisor.send(zk_election::Subscribe::new("jm", "a:1", "/zookeeper", contender)).await.unwrap();
    assert!(
        matches!(answer, Err(ElectionError::Config(ConfigError::InvalidPath { problem: PathProblem::Reserved, .. }))),
        "{answer:?}"
    );
    session.send(StopSession).await.unwrap();
}

/// A contender that ignores everything.
struct Sink;

impl actix::Actor for Sink {
    type Context = actix::Context<Self>;
}

impl actix::Handler<LeadershipEvent> for Sink {
    type Result = ();

    fn handle(&mut self, _msg: LeadershipEvent, _ctx: &mut actix::Context<Self>) {}
}

/// A leader node inside the latch, or a latch inside the leader node's subtree, would put
/// foreign children in the latch or make the leader node's parent a latch participant.
#[test]
fn a_leader_path_overlapping_the_latch_path_is_refused() {
    let config = ElectionConfig::builder("/app/latch").build().unwrap();
    for overlapping in ["/app/latch", "/app/latch/leader", "/app", "/app/latch/a/b"] {
        assert_eq!(
            config.check_leader_path(overlapping),
            Err(ConfigError::OverlappingPaths { latch_path: "/app/latch".into(), leader_path: overlapping.into() }),
            "{overlapping}"
        );
    }
    for apart in ["/app/latchx", "/app/leader", "/app/lat", "/other/latch"] {
        assert_eq!(config.check_leader_path(apart), Ok(()), "{apart}");
    }
    // Invalid leader paths are named as such.
    assert!(matches!(config.check_leader_path("leader"), Err(ConfigError::InvalidPath { what: "leader path", .. })));
}

#[test]
fn backoff_with_max_below_initial_says_so() {
    let backoff = Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(1) };
    let err = SessionConfig::builder("a:1").backoff(backoff).build().expect_err("accepted max < initial");
    assert_eq!(err, ConfigError::BackoffMaxBelowInitial { initial: backoff.initial, max: backoff.max });
    let message = err.to_string();
    assert!(!message.contains("greater than zero"), "{message}");
    assert!(message.contains("1000 ms") && message.contains("2000 ms"), "{message}");
    let zero = Backoff { initial: Duration::ZERO, max: Duration::from_secs(1) };
    assert_eq!(
        SessionConfig::builder("a:1").backoff(zero).build(),
        Err(ConfigError::ZeroTimeout { what: "initial backoff" })
    );
}

#[test]
fn two_different_chroots_say_they_differ() {
    let err = SessionConfig::builder("a:1/app").chroot("/other").build().expect_err("accepted two chroots");
    assert_eq!(err, ConfigError::ConflictingChroots { in_connect_string: "/app".into(), explicit: "/other".into() });
    let message = err.to_string();
    assert!(!message.contains("not absolute"), "{message}");
    assert!(message.contains("/app") && message.contains("/other"), "{message}");
    // The same chroot twice is fine.
    assert!(SessionConfig::builder("a:1/app").chroot("/app").build().is_ok());
}

#[test]
fn an_empty_participant_id_is_refused() {
    let empty = ElectionConfig::builder("/app/latch").participant_id("").build();
    assert_eq!(empty, Err(ConfigError::EmptyParticipantId));
    assert!(ElectionConfig::builder("/app/latch").participant_id("jm-1").build().is_ok());
}

/// The supervisor refuses an overlapping leader path at subscribe, as the CLI does at start.
#[actix_rt::test]
async fn subscribe_refuses_a_leader_path_overlapping_the_latch() {
    let session = ZkSession::connect("127.0.0.1:1").unwrap();
    let supervisor = ElectionSupervisor::start(session.clone(), ElectionConfig::builder("/app/latch").build().unwrap());
    for (component, overlapping) in [("a", "/app/latch"), ("b", "/app/latch/leader"), ("c", "/app")] {
        let contender = actix::Actor::start(Sink).recipient::<LeadershipEvent>();
        let answer =
            supervisor.send(zk_election::Subscribe::new(component, "a:1", overlapping, contender)).await.unwrap();
        let expected =
            ConfigError::OverlappingPaths { latch_path: "/app/latch".into(), leader_path: overlapping.into() };
        assert_eq!(answer, Err(ElectionError::Config(expected)), "{overlapping}");
    }
    session.send(StopSession).await.unwrap();
}
