//! The `tokio_service` example, run as a reader would run it: it must exit 0 by itself, having
//! shown alpha lead, alpha shut down and bravo take over with a larger fencing token.
//!
//! `cargo test` builds the examples; `cargo test --test tokio_service` alone does not, so build it
//! first then (`cargo build --features testkit --example tokio_service`).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The example takes about 2 s (a ZooKeeper start, two elections); this bounds a hung run.
const DEADLINE: Duration = Duration::from_secs(30);

/// `<target>/debug/examples/tokio_service`, next to this test's `<target>/debug/deps/`.
fn example_binary() -> PathBuf {
    let test = std::env::current_exe().expect("the test binary knows its path");
    let profile_dir = test.parent().and_then(|deps| deps.parent()).expect("tests live in <target>/<profile>/deps");
    let binary = profile_dir.join("examples").join(format!("tokio_service{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo test` (which builds the examples) or \
         `cargo build --features testkit --example tokio_service` first",
        binary.display()
    );
    binary
}

/// Waits for `child` to exit within `DEADLINE`; kills it and fails the test otherwise.
fn wait_bounded(child: &mut Child) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("the example can be waited for") {
            return status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the example did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads a pipe to its end on a thread, so a full pipe never stalls the example.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

#[test]
fn the_second_service_takes_over_when_the_leader_shuts_down() {
    let mut child = Command::new(example_binary())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let status = wait_bounded(&mut child);
    let (stdout, stderr) = (out.join().expect("stdout reader"), err.join().expect("stderr reader"));
    let shown = format!("--- stdout\n{stdout}--- stderr\n{stderr}");

    assert!(status.success(), "the example exited with {status}\n{shown}");
    let token = |pattern: &str| -> i64 {
        let line = regex_lite::Regex::new(pattern).expect("a valid pattern");
        let captures = line.captures(&stdout).unwrap_or_else(|| panic!("no line matching {pattern}\n{shown}"));
        captures[1].parse().expect("tokens are numbers")
    };
    let alpha = token(r"(?m)\] alpha leads \(fencing token (\d+)\)$");
    let bravo = token(r"(?m)\] bravo took over \(fencing token (\d+)\)$");
    assert!(bravo > alpha, "bravo's token {bravo} should exceed alpha's {alpha}\n{shown}");
    assert_eq!(token(r"(?m)retrieval: the leader is alpha\.example:8080 \(fencing token (\d+)\)$"), alpha, "{shown}");
    assert_eq!(token(r"(?m)retrieval: the leader is bravo\.example:8080 \(fencing token (\d+)\)$"), bravo, "{shown}");
    let order = ["alpha leads", "shutting down alpha", "bravo took over", "done"];
    let at: Vec<usize> =
        order.iter().map(|line| stdout.find(line).unwrap_or_else(|| panic!("no {line:?} line\n{shown}"))).collect();
    assert!(at.windows(2).all(|pair| pair[0] < pair[1]), "lines out of order\n{shown}");
}
