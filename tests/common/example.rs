//! Running a built example as a reader would: bounded in time, its output collected.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What an example printed and how it ended.
pub struct ExampleRun {
    pub status: ExitStatus,
    pub stdout: String,
    /// Both streams, for failure messages.
    pub shown: String,
}

/// `<target>/<profile>/examples/<name>`, next to this test's `<target>/<profile>/deps/`.
fn example_binary(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test binary knows its path");
    let profile_dir = test.parent().and_then(|deps| deps.parent()).expect("tests live in <target>/<profile>/deps");
    let binary = profile_dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo test` (which builds the examples) or \
         `cargo build --features testkit --example {name}` first",
        binary.display()
    );
    binary
}

/// Reads a pipe to its end on a thread, so a full pipe never stalls the example.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

/// Runs the example `name` (without `RUST_LOG`) to its end; kills it and fails the test if it
/// takes longer than `deadline`.
pub fn run_example(name: &str, deadline: Duration) -> ExampleRun {
    let mut child = Command::new(example_binary(name))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example starts");
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the example can be waited for") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the example {name} did not finish within {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (out.join().expect("stdout reader"), err.join().expect("stderr reader"));
    let shown = format!("--- stdout\n{stdout}--- stderr\n{stderr}");
    ExampleRun { status, stdout, shown }
}
