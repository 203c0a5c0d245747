//! Lines that mix a real Apache Curator `LeaderLatch` (a JVM: the testkit's `CuratorContender`)
//! and zk-election candidates, against a real ZooKeeper: the Curator participant is listed with
//! its ID and priority 0, a transfer passes over it (it queues again behind the target, never
//! leading in between), and succession between the two kinds goes both ways.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use zk_election::testkit::{CuratorContender, ZkServer};
use zk_election::{candidates, ElectionConfig, LeadershipEvent, StopElection, Transfer};

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/mixed/latch";
const LEADER: &str = "/mixed/leader";
const CURATOR_LEADER: &str = "/mixed/curator-leader";
const COMPONENT: &str = "jobmanager";

/// A running Curator contender: its stdin and the lines it prints.
struct Curator {
    child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl Curator {
    fn start(compiled: &CuratorContender, connect: &str, address: &str) -> Curator {
        let mut command = tokio::process::Command::from(compiled.command(connect, LATCH, CURATOR_LEADER, address));
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
        let mut child = command.spawn().expect("java runs");
        let stdout = child.stdout.take().expect("piped");
        let (sender, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = sender.send(line);
            }
        });
        Curator { child, lines }
    }

    /// Waits for a line starting with `prefix`; answers every line seen before it.
    async fn expect(&mut self, prefix: &str, within: Duration) -> Vec<String> {
        let mut before = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) if line.starts_with(prefix) => return before,
                Ok(Some(line)) => before.push(line),
                Ok(None) => panic!("the Curator contender ended before {prefix:?}: {before:?}"),
                Err(_) => panic!("no {prefix:?} from the Curator contender within {within:?}: {before:?}"),
            }
        }
    }

    async fn quit(mut self) {
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.write_all(b"quit\n").await;
        }
        self.expect("stopped", 10 * SECOND).await;
        let _ = self.child.wait().await;
    }
}

async fn zk_election(connect: &str, address: &str) -> Participant {
    let config = ElectionConfig::builder(LATCH).no_preemption().build().unwrap();
    Participant::start(connect, config, COMPONENT, address, LEADER, true, 6 * SECOND).await
}

async fn line_ids(observer: &actix::Addr<zk_election::ZkSession>) -> Vec<(String, i32)> {
    let line = candidates(observer.clone(), LATCH).await.unwrap();
    line.into_iter().map(|c| (c.info.id, c.info.priority)).collect()
}

async fn await_ids(observer: &actix::Addr<zk_election::ZkSession>, expected: &[&str]) {
    eventually(15 * SECOND, &format!("line {expected:?}"), || async {
        let ids: Vec<String> = line_ids(observer).await.into_iter().map(|(id, _)| id).collect();
        (ids == expected).then_some(())
    })
    .await;
}

#[actix_rt::test]
async fn a_transfer_passes_over_a_curator_participant_and_succession_goes_both_ways() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let dir = tempfile::tempdir().unwrap();
    let compiled = CuratorContender::compile(dir.path()).expect("Curator (scripts/install-curator.sh)");
    let (observer, _s) = connected_session(&cs, 6 * SECOND).await;

    let mut a = zk_election(&cs, "a:1").await;
    expect_published(&mut a.events, 5 * SECOND).await;
    let mut curator = Curator::start(&compiled, &cs, "curator:1");
    await_ids(&observer, &["a:1", "curator:1"]).await;
    let mut c = zk_election(&cs, "c:1").await;
    await_ids(&observer, &["a:1", "curator:1", "c:1"]).await;
    assert_eq!(line_ids(&observer).await[1], ("curator:1".to_owned(), 0), "Curator's ID and priority 0");

    // The zk-election leader hands over to c, past the Curator participant.
    a.supervisor.send(Transfer::to_address("c:1")).await.unwrap().expect("transfer");
    expect_published(&mut c.events, 5 * SECOND).await;
    eventually(15 * SECOND, "curator and a behind c", || async {
        let ids: Vec<String> = line_ids(&observer).await.into_iter().map(|(id, _)| id).collect();
        let mut rest = ids.get(1..).map(<[String]>::to_vec).unwrap_or_default();
        rest.sort();
        (ids.first().map(String::as_str) == Some("c:1") && rest == ["a:1", "curator:1"]).then_some(())
    })
    .await;

    // Passed over, the Curator participant never led.
    let mut said = Vec::new();
    while let Ok(line) = curator.lines.try_recv() {
        said.push(line);
    }
    assert!(said.iter().all(|l| l != "granted"), "Curator led between a and c: {said:?}");

    // c leaves; whoever stands next leads, Curator or zk-election.
    let next = line_ids(&observer).await[1].0.clone();
    c.supervisor.send(StopElection).await.unwrap().unwrap();
    if next == "curator:1" {
        curator.expect("granted", 10 * SECOND).await;
        curator.expect("leader curator:1", 5 * SECOND).await;
    } else {
        a.events.until(10 * SECOND, |e| matches!(e, LeadershipEvent::Published { .. })).await;
    }
    // Then the other kind: the one that led leaves.
    if next == "curator:1" {
        curator.quit().await;
        a.events.until(10 * SECOND, |e| matches!(e, LeadershipEvent::Published { .. })).await;
        a.supervisor.send(StopElection).await.unwrap().unwrap();
    } else {
        a.supervisor.send(StopElection).await.unwrap().unwrap();
        curator.expect("granted", 10 * SECOND).await;
        curator.quit().await;
    }
    await_ids(&observer, &[]).await;
}
