//! The `fenced_store` example, run as a reader would run it: it must exit 0 and end with the
//! store rejecting the frozen leader's late write, whose token is lower than the one the store
//! has seen.
//!
//! `cargo test` builds the examples; `cargo test --test fenced_store` alone does not, so build it
//! first then (`cargo build --features testkit --example fenced_store`).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The example takes about 4 s (a ZooKeeper start, a 3 s freeze); this bounds a hung run.
const DEADLINE: Duration = Duration::from_secs(30);

/// `<target>/debug/examples/fenced_store`, next to this test's `<target>/debug/deps/`.
fn example_binary() -> PathBuf {
    let test = std::env::current_exe().expect("the test binary knows its path");
    let profile_dir = test.parent().and_then(|deps| deps.parent()).expect("tests live in <target>/<profile>/deps");
    let binary = profile_dir.join("examples").join(format!("fenced_store{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo test` (which builds the examples) or \
         `cargo build --features testkit --example fenced_store` first",
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

#[test]
fn a_frozen_leaders_late_write_is_rejected() {
    let mut child = Command::new(example_binary())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    // Read on threads, so a full pipe never stalls the example while we wait for it.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = wait_bounded(&mut child);
    let (stdout, stderr) = (out.join().expect("stdout reader"), err.join().expect("stderr reader"));
    let shown = format!("--- stdout\n{stdout}--- stderr\n{stderr}");

    assert!(status.success(), "the example exited with {status}\n{shown}");
    let rejected = regex_lite::Regex::new(r"(?m)^late write from A \(token (\d+)\) rejected: store has seen (\d+)$")
        .expect("a valid pattern");
    let captures = rejected.captures(&stdout).unwrap_or_else(|| panic!("no \"rejected\" line\n{shown}"));
    let token = |i: usize| captures[i].parse::<i64>().expect("tokens are numbers");
    let (late, seen) = (token(1), token(2));
    assert!(late < seen, "the late token {late} should be lower than the one the store has seen ({seen})\n{shown}");
    assert!(
        stdout.contains("FROZEN") && stdout.contains("REJECTED"),
        "the timeline shows the freeze and the rejection\n{shown}"
    );
}
