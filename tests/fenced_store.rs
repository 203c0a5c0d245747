//! The `fenced_store` example, run as a reader would run it: it must exit 0 and end with the
//! store rejecting the frozen leader's late write, whose token is lower than the one the store
//! has seen.
//!
//! `cargo test` builds the examples; `cargo test --test fenced_store` alone does not, so build it
//! first then (`cargo build --features testkit --example fenced_store`).

mod common;

use std::time::Duration;

use common::example::{run_example, ExampleRun};

/// The example takes about 4 s (a ZooKeeper start, a 3 s freeze); this bounds a hung run.
const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn a_frozen_leaders_late_write_is_rejected() {
    let ExampleRun { status, stdout, shown } = run_example("fenced_store", DEADLINE);

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
