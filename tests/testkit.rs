//! The testkit against real ZooKeeper JVMs: servers, ensembles and the fault proxy.
//!
//! Needs Java and ZooKeeper (`apt-get install zookeeper`); run with
//! `cargo test --features testkit --test testkit`.

use std::error::Error;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_election::testkit::{four_letter_word, FaultProxy, ProxyMode, ServerMode, ZkEnsemble, ZkServer};
use zookeeper_client::{Acls, Client, CreateMode, SessionState};

type TestResult = Result<(), Box<dyn Error>>;

/// Deadline for events the tests wait for (an election, a reconnect).
const EVENT_DEADLINE: Duration = Duration::from_secs(20);

/// Polls `probe` until it returns `Some`, failing the test after `EVENT_DEADLINE`.
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + EVENT_DEADLINE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn connect(connect_string: &str) -> Result<Client, zookeeper_client::Error> {
    Client::connector().with_session_timeout(Duration::from_secs(10)).connect(connect_string).await
}

async fn create_persistent(client: &Client, path: &str, data: &[u8]) -> TestResult {
    client.create(path, data, &CreateMode::Persistent.with_acls(Acls::anyone_all())).await?;
    Ok(())
}

/// Waits for the session to reach `wanted`, failing after `EVENT_DEADLINE`.
async fn session_reaches(client: &Client, wanted: SessionState) {
    let mut watcher = client.state_watcher();
    let reached = tokio::time::timeout(EVENT_DEADLINE, async {
        let mut state = client.state();
        while state != wanted {
            state = watcher.changed().await;
        }
    })
    .await;
    assert!(reached.is_ok(), "session never reached {wanted:?}, is {:?}", client.state());
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn standalone_server_answers_ruok_and_says_standalone() -> TestResult {
    let started = Instant::now();
    let server = ZkServer::start()?;
    eprintln!("standalone server ready in {:?}", started.elapsed());

    assert_eq!(server.four_letter("ruok")?, "imok");
    assert_eq!(server.mode()?, ServerMode::Standalone);
    assert!(server.version()?.starts_with("3."), "{}", server.version()?);
    assert_eq!(server.connect_string(), format!("127.0.0.1:{}", server.port()));
    assert!(server.log_path().is_file());

    let pid = server.pid().ok_or("running server has no pid")?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))?;
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(cmdline.contains("-Dzk_election.testkit=1"), "{cmdline}");
    Ok(())
}

#[tokio::test]
async fn restart_keeps_port_and_data() -> TestResult {
    let server = ZkServer::start()?;
    let port = server.port();
    let client = connect(&server.connect_string()).await?;
    create_persistent(&client, "/kept", b"across restarts").await?;
    drop(client);

    server.stop()?;
    assert!(!server.is_running());
    assert!(server.four_letter("ruok").is_err_and(|e| e.is_connection_refused()));

    // Controls are `&self` and thread-safe: restart from a blocking task, as async tests do.
    let server = Arc::new(server);
    let started = Instant::now();
    tokio::task::spawn_blocking({
        let server = Arc::clone(&server);
        move || server.restart()
    })
    .await??;
    eprintln!("restart ready in {:?}", started.elapsed());
    assert_eq!(server.port(), port);
    let client = connect(&server.connect_string()).await?;
    let (data, _) = client.get_data("/kept").await?;
    assert_eq!(data, b"across restarts");
    Ok(())
}

#[test]
fn killed_server_refuses_connections() -> TestResult {
    let server = ZkServer::start()?;
    let pid = server.pid().ok_or("running server has no pid")?;

    server.kill()?;

    assert!(!server.is_running());
    assert_eq!(server.pid(), None);
    assert!(!process_exists(pid), "killed JVM {pid} was not reaped");
    let refused = TcpStream::connect(server.addr()).map(drop).map_err(|e| e.kind());
    assert_eq!(refused, Err(ErrorKind::ConnectionRefused));
    Ok(())
}

#[test]
fn paused_server_answers_nothing_until_resumed() -> TestResult {
    let server = ZkServer::start()?;

    server.pause()?;
    assert!(server.is_paused() && server.is_running());
    let answer = server.four_letter_with_timeout("ruok", Duration::from_millis(300));
    assert!(answer.as_ref().is_err_and(|e| e.is_timeout()), "{answer:?}");

    server.resume()?;
    assert!(!server.is_paused());
    eventually("ruok after resume", || server.four_letter("ruok").ok().filter(|a| a == "imok"));
    Ok(())
}

#[test]
fn dropping_a_server_kills_it_even_paused_during_a_panic() -> TestResult {
    let server = ZkServer::start()?;
    let pid = server.pid().ok_or("running server has no pid")?;
    let log_path = server.log_path().to_path_buf();

    let unwound = std::panic::catch_unwind(move || {
        server.pause().expect("pause");
        panic!("deliberate panic: unwinding must kill the paused server");
    });

    assert!(unwound.is_err());
    assert!(!process_exists(pid), "JVM {pid} survived its ZkServer");
    assert!(!log_path.exists(), "temp dir survived its ZkServer");
    Ok(())
}

/// Set in the environment of the helper test process started by
/// `killed_test_process_takes_its_servers_along`.
const HELPER_ENV: &str = "ZK_ELECTION_TESTKIT_HELPER";

#[test]
fn killed_test_process_takes_its_servers_along() -> TestResult {
    let mut helper = Command::new(std::env::current_exe()?)
        .args(["--exact", "helper_starts_a_server_then_hangs", "--ignored", "--nocapture"])
        .env(HELPER_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = helper.stdout.take().ok_or("no stdout")?;
    let port: u16 = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("zk port ").and_then(|p| p.parse().ok()))
        .ok_or("the helper did not report a server")?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    // The thread that started the server has ended; the server must not have died with it.
    assert_eq!(four_letter_word(addr, "ruok", Duration::from_secs(5))?, "imok");

    helper.kill()?; // SIGKILL: no unwinding, no destructors
    helper.wait()?;

    eventually("the orphaned JVM to die", || {
        four_letter_word(addr, "ruok", Duration::from_secs(1)).is_err_and(|e| e.is_connection_refused()).then_some(())
    });
    Ok(())
}

#[test]
#[ignore = "helper process of killed_test_process_takes_its_servers_along"]
fn helper_starts_a_server_then_hangs() -> TestResult {
    if std::env::var_os(HELPER_ENV).is_none() {
        return Ok(());
    }
    // Started from a short-lived thread, as a test's own thread would be.
    let server = std::thread::spawn(ZkServer::start).join().map_err(|_| "starter thread panicked")??;
    println!("zk port {}", server.port());
    std::io::stdout().flush()?;
    loop {
        std::thread::park(); // until the parent test kills this process
    }
}

#[tokio::test]
async fn ensemble_replicates_and_elects_a_new_leader_when_the_leader_dies() -> TestResult {
    let started = Instant::now();
    let ensemble = ZkEnsemble::start()?;
    eprintln!("3-member ensemble ready in {:?}", started.elapsed());
    assert_eq!(ensemble.connect_string().split(',').count(), 3);

    let leader = ensemble.wait_for_leader()?;
    let writer = connect(&ensemble.member_connect_string((leader + 1) % 3)).await?;
    create_persistent(&writer, "/replicated", b"written via one member").await?;
    let reader = connect(&ensemble.member_connect_string((leader + 2) % 3)).await?;
    reader.sync("/replicated").await?;
    assert_eq!(reader.get_data("/replicated").await?.0, b"written via one member");

    let killed = Instant::now();
    ensemble.kill(leader)?;
    let successor = ensemble.wait_for_leader()?;
    eprintln!("new leader elected {:?} after killing the old one", killed.elapsed());
    assert_ne!(successor, leader);
    let survivor = connect(&ensemble.member_connect_string(successor)).await?;
    assert_eq!(survivor.get_data("/replicated").await?.0, b"written via one member");

    let restarted = Instant::now();
    ensemble.restart(leader)?;
    eprintln!("old leader rejoined in {:?}", restarted.elapsed());
    assert_eq!(ensemble.member(leader).mode()?, ServerMode::Follower);
    Ok(())
}

#[test]
fn ensemble_replaces_a_paused_leader_which_rejoins_as_follower() -> TestResult {
    let ensemble = ZkEnsemble::start()?;
    let leader = ensemble.wait_for_leader()?;

    let paused = Instant::now();
    ensemble.pause(leader)?;
    let successor = ensemble.wait_for_leader()?;
    eprintln!("paused leader replaced after {:?}", paused.elapsed());
    assert_ne!(successor, leader);

    ensemble.resume(leader)?;
    eventually("the old leader to follow", || {
        matches!(ensemble.member(leader).mode(), Ok(ServerMode::Follower)).then_some(())
    });
    assert_eq!(ensemble.leader_index(), Some(successor));
    Ok(())
}

#[test]
fn ensemble_serves_again_after_quorum_is_lost_and_restored() -> TestResult {
    let ensemble = ZkEnsemble::start()?;

    ensemble.kill(0)?;
    ensemble.kill(1)?;
    eventually("the last member to stop serving", || {
        matches!(ensemble.member(2).mode(), Ok(ServerMode::NotServing)).then_some(())
    });
    assert_eq!(ensemble.leader_index(), None);

    // One member back: a quorum of two again, so restart waits until both serve.
    let restarted = Instant::now();
    ensemble.restart(0)?;
    eprintln!("quorum restored in {:?}", restarted.elapsed());
    assert!(ensemble.member(0).mode()?.is_serving());
    assert!(ensemble.member(2).mode()?.is_serving());

    ensemble.restart(1)?;
    let leader = ensemble.wait_for_leader()?;
    assert!(ensemble.members().iter().all(|m| m.mode().is_ok_and(ServerMode::is_serving)));
    eprintln!("all three serve again, leader is member {leader}");
    Ok(())
}

#[test]
fn ensemble_member_restarts_alone_when_quorum_is_gone() -> TestResult {
    let ensemble = ZkEnsemble::builder().members(3).start()?;
    for index in 0..3 {
        ensemble.kill(index)?;
    }
    // Alone, it can only come up, not serve.
    ensemble.restart(0)?;
    assert_eq!(ensemble.member(0).mode()?, ServerMode::NotServing);
    // The second one makes a quorum: restart waits for both to serve.
    ensemble.restart(1)?;
    assert!(ensemble.leader_index().is_some_and(|l| l < 2));
    Ok(())
}

#[tokio::test]
async fn proxy_passes_cuts_and_blackholes() -> TestResult {
    let server = ZkServer::start()?;
    let proxy = FaultProxy::start(&[server.addr()])?;
    let proxied = proxy.addrs()[0];

    // Pass: a client works through the proxy.
    let client = connect(&proxy.connect_string()).await?;
    create_persistent(&client, "/through-proxy", b"proxied").await?;
    assert!(proxy.connections_accepted() >= 1);

    // Cut: the client is disconnected at once, and reconnects when traffic passes again.
    let mut states = client.state_watcher();
    proxy.cut();
    assert_eq!(proxy.mode(), ProxyMode::Cut);
    assert_eq!(proxy.open_connections(), 0);
    let after_cut = tokio::time::timeout(Duration::from_secs(5), states.changed()).await?;
    assert_eq!(after_cut, SessionState::Disconnected);
    proxy.pass();
    session_reaches(&client, SessionState::SyncConnected).await;
    assert_eq!(client.get_data("/through-proxy").await?.0, b"proxied");

    // Blackhole: connections are accepted and held, but nothing is answered.
    proxy.blackhole();
    let mut held = TcpStream::connect(proxied)?;
    held.write_all(b"ruok")?;
    held.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut answer = [0u8; 4];
    let silent = held.read(&mut answer).map_err(|e| e.kind());
    assert!(
        matches!(silent, Err(ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "blackholed proxy answered: {silent:?}"
    );
    let probe = four_letter_word(proxied, "ruok", Duration::from_millis(500));
    assert!(probe.as_ref().is_err_and(|e| e.is_timeout()), "{probe:?}");

    // Pass again: held connections resume (the held `ruok` is answered now) and new ones work.
    proxy.pass();
    held.set_read_timeout(Some(Duration::from_secs(5)))?;
    held.read_exact(&mut answer)?;
    assert_eq!(&answer, b"imok");
    assert_eq!(four_letter_word(proxied, "ruok", Duration::from_secs(5))?, "imok");
    session_reaches(&client, SessionState::SyncConnected).await;
    assert_eq!(client.get_data("/through-proxy").await?.0, b"proxied");
    assert!(proxy.connections_accepted() >= 4);

    // Stop: every connection and the listening port are closed.
    let accepted = proxy.connections_accepted();
    let mut idle = TcpStream::connect(proxied)?;
    eventually("the idle connection to be accepted", || (proxy.connections_accepted() > accepted).then_some(()));
    proxy.stop();
    idle.set_read_timeout(Some(Duration::from_secs(5)))?;
    let closed = idle.read(&mut answer).map_err(|e| e.kind());
    assert!(matches!(closed, Ok(0) | Err(ErrorKind::ConnectionReset)), "connection still open after stop: {closed:?}");
    let refused = TcpStream::connect(proxied).map(drop).map_err(|e| e.kind());
    assert_eq!(refused, Err(ErrorKind::ConnectionRefused));
    Ok(())
}
