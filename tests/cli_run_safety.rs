//! Safety of `zk-elect run` and of a clean stop, against a real ZooKeeper:
//!
//! - whatever CMD started (background jobs, double-forked orphans, `setsid` daemons) is gone
//!   soon after zk-elect dies by SIGKILL, before a successor could start its own CMD, and also
//!   after a clean quit and after CMD's own exit;
//! - a leader that stops cleanly prints `revoked` (and, for `run`, `child_exited` first) before
//!   its successor prints `granted`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use zk_election::testkit::ZkServer;

const SECOND: Duration = Duration::from_secs(1);
/// How soon CMD's whole tree must be gone after zk-elect is SIGKILLed.
const TREE_GONE_WITHIN: Duration = SECOND;

/// The `ts_ms` of a JSON line.
fn ts(event: &Value) -> u64 {
    event["ts_ms"].as_u64().unwrap_or_else(|| panic!("no ts_ms: {event}"))
}

/// The three ways a process escapes its parent shell, as CMD starts them.
const KINDS: [&str; 3] = ["background", "double-fork", "setsid"];

/// A tempdir with the scripts CMD runs and the pid files they write. When dropped (also when a
/// test fails) it SIGKILLs every `sleep` whose pid a file holds, so no test leaves one behind.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().expect("tempdir");
        // Writes its own pid atomically (the test never reads half a file), then becomes `sleep`.
        let sleeper = "echo $$ > \"$1.tmp\" && mv \"$1.tmp\" \"$1\"\nexec sleep 1000\n";
        // $1: the tempdir; $2: `wait` (run until stopped) or `exit` (exit 3 once all are up).
        let tree = r#"d=$1
a=$ZK_ELECT_ADDRESS
sh "$d/sleeper.sh" "$d/$a.background" &
sh -c 'sh "$1" "$2" &' double-fork "$d/sleeper.sh" "$d/$a.double-fork"
setsid sh "$d/sleeper.sh" "$d/$a.setsid" &
if [ "$2" = exit ]; then
  while [ ! -e "$d/$a.background" ] || [ ! -e "$d/$a.double-fork" ] || [ ! -e "$d/$a.setsid" ]; do sleep 0.05; done
  exit 3
fi
wait
"#;
        std::fs::write(dir.path().join("sleeper.sh"), sleeper).expect("write sleeper.sh");
        std::fs::write(dir.path().join("tree.sh"), tree).expect("write tree.sh");
        Tree { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// CMD for `zk-elect run`.
    fn command(&self, mode: &str) -> Vec<String> {
        let dir = self.path().to_string_lossy().into_owned();
        vec!["sh".into(), format!("{dir}/tree.sh"), dir, mode.into()]
    }

    fn pid_file(&self, address: &str, kind: &str) -> PathBuf {
        self.path().join(format!("{address}.{kind}"))
    }

    /// The pids of the processes CMD of `address` started, once all have written their files;
    /// checks that they escaped the way their names say.
    async fn pids(&self, address: &str, command_pid: u32) -> Vec<(&'static str, u32)> {
        let pids = eventually(5 * SECOND, &format!("pid files of {address}"), || async {
            KINDS
                .iter()
                .map(|&kind| {
                    let text = std::fs::read_to_string(self.pid_file(address, kind)).ok()?;
                    Some((kind, text.trim().parse::<u32>().ok()?))
                })
                .collect::<Option<Vec<_>>>()
        })
        .await;
        for &(kind, pid) in &pids {
            let (_, ppid, session) = stat(pid).unwrap_or_else(|| panic!("{kind} {pid} is not running"));
            match kind {
                "double-fork" => assert_ne!(ppid, command_pid, "the double-forked sleep is still CMD's child"),
                "setsid" => assert_eq!(session, pid, "the setsid sleep does not lead a session of its own"),
                _ => {}
            }
        }
        pids
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir(self.path()) else { return };
        for entry in entries.flatten() {
            let Some(pid) = std::fs::read_to_string(entry.path()).ok().and_then(|t| t.trim().parse::<u32>().ok())
            else {
                continue;
            };
            // Either a sleep or, just before its exec, the sleeper script (named by our path).
            let ours = |line: String| line == "sleep 1000" || line.contains(&*self.path().to_string_lossy());
            if alive(pid) && ours(cmdline(pid)) {
                eprintln!("cleanup: killing leftover sleep {pid} ({})", entry.path().display());
                // SAFETY: kill has no memory-safety preconditions; the pid is a sleep we started.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
        }
    }
}

/// `run` with a 3000 ms session timeout on one election.
fn run_args<'a>(connect: &'a str, paths: (&'a str, &'a str), address: &'a str, command: &'a [String]) -> Vec<&'a str> {
    let mut args = vec!["run", "--connect", connect, "--latch-path", paths.0, "--leader-path", paths.1];
    args.extend(["--address", address, "--session-timeout-ms", "3000", "--grace-ms", "2000", "--json", "--"]);
    args.extend(command.iter().map(String::as_str));
    args
}

fn campaign_args<'a>(connect: &'a str, paths: (&'a str, &'a str), address: &'a str) -> Vec<&'a str> {
    vec!["campaign", "--connect", connect, "--latch-path", paths.0, "--leader-path", paths.1, "--address", address]
        .into_iter()
        .chain(["--session-timeout-ms", "3000", "--json"])
        .collect()
}

/// Waits until all of `pids` have ended; returns how long that took (at most `limit`).
async fn await_gone(pids: &[(&str, u32)], limit: Duration) -> Duration {
    let start = Instant::now();
    while pids.iter().any(|&(_, pid)| alive(pid)) && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    start.elapsed()
}

fn survivors(pids: &[(&'static str, u32)]) -> Vec<(&'static str, u32)> {
    pids.iter().copied().filter(|&(_, pid)| alive(pid)).collect()
}

#[actix_rt::test]
async fn sigkill_of_zk_elect_ends_the_whole_command_tree_before_a_successor_starts() {
    init_tracing();
    let tree = Tree::new();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (zk, _s) = connected_session(&cs, 4 * SECOND).await;
    let paths = ("/safety/latch", "/safety/leader");
    let command = tree.command("wait");
    let mut a = ZkElect::spawn("run A", &run_args(&cs, paths, "A", &command));
    await_children(&zk, paths.0, 1, 10 * SECOND).await;
    let mut b = ZkElect::spawn("run B", &run_args(&cs, paths, "B", &command));
    await_children(&zk, paths.0, 2, 10 * SECOND).await;

    let command_pid = a.expect("child_started", 10 * SECOND).await["pid"].as_u64().expect("pid") as u32;
    let mut pids = tree.pids("A", command_pid).await;
    pids.push(("command", command_pid));
    // Whatever stands between zk-elect and the command must not outlive it either.
    let (_, parent, _) = stat(command_pid).expect("the command runs");
    if parent != a.pid() {
        pids.push(("command's parent", parent));
    }

    a.sigkill();
    let took = await_gone(&pids, 5 * TREE_GONE_WITHIN).await;
    let gone_at = Instant::now();
    println!("A's command tree was gone {took:?} after zk-elect was SIGKILLed");
    assert!(
        survivors(&pids).is_empty() && took < TREE_GONE_WITHIN,
        "still running after {took:?}: {:?}",
        survivors(&pids)
    );
    let early = b.printed_so_far();
    assert!(early.iter().all(|e| e["event"] != "child_started"), "B started its command too early: {early:?}");

    // B takes over once A's session has expired, well after A's tree is gone.
    let (started_at, started) = b.expect_at("child_started", 15 * SECOND).await;
    assert!(started_at > gone_at);
    println!("B started its command {:?} after A's tree was gone", started_at - gone_at);

    // A clean quit ends B's tree, the setsid sleep (which SIGTERM to CMD's group misses) too.
    let b_pids = tree.pids("B", started["pid"].as_u64().expect("pid") as u32).await;
    b.say("quit").await;
    b.expect("child_exited", 5 * SECOND).await;
    assert!(survivors(&b_pids).is_empty(), "still running after B's child_exited: {:?}", survivors(&b_pids));
    let (_, status) = b.until_stopped().await;
    assert_eq!(status.code(), Some(0));
}

#[actix_rt::test]
async fn when_the_command_exits_by_itself_its_leftover_processes_end_too() {
    init_tracing();
    let tree = Tree::new();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let command = tree.command("exit");
    let mut c = ZkElect::spawn("run C", &run_args(&cs, ("/exit/latch", "/exit/leader"), "C", &command));
    let command_pid = c.expect("child_started", 10 * SECOND).await["pid"].as_u64().expect("pid") as u32;
    let pids = tree.pids("C", command_pid).await;
    let exited = c.expect("child_exited", 5 * SECOND).await;
    assert_eq!((exited["code"].as_i64(), exited.get("signal")), (Some(3), None), "{exited}");
    assert!(survivors(&pids).is_empty(), "still running after C's child_exited: {:?}", survivors(&pids));
    let (_, status) = c.until_stopped().await;
    assert_eq!(status.code(), Some(3));
}

/// Position of the first event named `name` in `events`.
fn position(events: &[Value], name: &str) -> Option<usize> {
    events.iter().position(|e| e["event"] == name)
}

/// Tells `leader` to quit; checks it printed `revoked` (after `before_revoked`, if given) no later
/// than `successor` printed `granted`. Returns the two timestamps.
async fn quit_and_hand_over(leader: &mut ZkElect, successor: &mut ZkElect, before_revoked: Option<&str>) -> (u64, u64) {
    leader.say("quit").await;
    let (events, status) = leader.until_stopped().await;
    let granted = successor.expect("granted", 10 * SECOND).await;
    assert_eq!(status.code(), Some(0));
    let revoked = position(&events, "revoked").unwrap_or_else(|| panic!("{}: no revoked: {events:?}", leader.name));
    assert_eq!(events.iter().filter(|e| e["event"] == "revoked").count(), 1, "{events:?}");
    if let Some(first) = before_revoked {
        let at = position(&events, first).unwrap_or_else(|| panic!("{}: no {first}: {events:?}", leader.name));
        assert!(at < revoked, "{first} after revoked: {events:?}");
    }
    let (revoked_ts, granted_ts) = (ts(&events[revoked]), ts(&granted));
    assert!(revoked_ts <= granted_ts, "{} revoked at {revoked_ts}, successor granted at {granted_ts}", leader.name);
    (revoked_ts, granted_ts)
}

#[actix_rt::test]
async fn a_leader_that_quits_prints_revoked_before_its_successor_is_granted() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (zk, _s) = connected_session(&cs, 4 * SECOND).await;
    let paths = ("/order/latch", "/order/leader");
    let mut leader = ZkElect::spawn("campaign 0", &campaign_args(&cs, paths, "c0"));
    leader.expect("published", 10 * SECOND).await;
    let started = Instant::now();
    let mut margins = Vec::new();
    for round in 1..=10 {
        let address = format!("c{round}");
        let mut follower = ZkElect::spawn(&format!("campaign {round}"), &campaign_args(&cs, paths, &address));
        await_children(&zk, paths.0, 2, 10 * SECOND).await;
        let (revoked, granted) = quit_and_hand_over(&mut leader, &mut follower, None).await;
        margins.push(granted - revoked);
        follower.expect("published", 5 * SECOND).await;
        leader = follower;
    }
    println!("campaign: successor granted this many ms after the old leader's revoked: {margins:?}");
    println!("10 handovers took {:?}", started.elapsed());

    // `run`: the command has ended (child_exited) before revoked, and both before the grant.
    let paths = ("/order/run/latch", "/order/run/leader");
    let command = ["sleep".to_owned(), "1000".to_owned()];
    let mut first = ZkElect::spawn("run first", &run_args(&cs, paths, "r1", &command));
    first.expect("child_started", 10 * SECOND).await;
    let mut second = ZkElect::spawn("run second", &run_args(&cs, paths, "r2", &command));
    await_children(&zk, paths.0, 2, 10 * SECOND).await;
    quit_and_hand_over(&mut first, &mut second, Some("child_exited")).await;
    second.expect("child_started", 5 * SECOND).await;
    for process in [&mut leader, &mut second] {
        process.say("quit").await;
        let (events, status) = process.until_stopped().await;
        assert_eq!((status.code(), position(&events, "revoked").is_some()), (Some(0), true), "{events:?}");
    }
}
