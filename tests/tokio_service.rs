//! The `tokio_service` example, run as a reader would run it: it must exit 0 by itself, having
//! shown alpha lead, alpha shut down and bravo take over with a larger fencing token.
//!
//! `cargo test` builds the examples; `cargo test --test tokio_service` alone does not, so build it
//! first then (`cargo build --features testkit --example tokio_service`).

mod common;

use std::time::Duration;

use common::example::{run_example, ExampleRun};

/// The example takes about 2 s (a ZooKeeper start, two elections); this bounds a hung run.
const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn the_second_service_takes_over_when_the_leader_shuts_down() {
    let ExampleRun { status, stdout, shown } = run_example("tokio_service", DEADLINE);

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
