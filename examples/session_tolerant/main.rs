//! The connection-loss policies side by side: what a `Standard` leader and a `SessionTolerant`
//! leader do when their connection to ZooKeeper blips, and when it is partitioned for good.
//!
//! ```sh
//! cargo run --features testkit --example session_tolerant
//! ```
//!
//! It starts an embedded ZooKeeper ([`ZkServer`]) and two elections, "standard"
//! ([`ConnectionLossPolicy::Standard`]) and "tolerant" ([`ConnectionLossPolicy::SessionTolerant`]),
//! each with one contender whose session (2 s session timeout) goes through its own
//! [`FaultProxy`]. Every leadership and connection event is printed with the milliseconds since
//! start. The script:
//!
//! 1. **a blip**: both proxies cut every connection and let traffic pass again 200 ms later, well
//!    within the session timeout. Both sessions survive. The standard leader is revoked at
//!    `Suspended` and granted again after `Reconnected` with a new leader session (its latch node
//!    survived with the session, and with it the fencing token): a failover to itself, which its
//!    clients see. The tolerant leader keeps its leadership and its leader session;
//! 2. **a partition**: both proxies blackhole traffic past the session timeout. Both step down:
//!    the standard leader at `Suspended`, the tolerant one when its session lease ends, a little
//!    before `Lost` and before the server may expire the session;
//! 3. the partition heals: each builds a new session and leads again with a new leader session.
//!
//! Every wait has a deadline; a missed one, or a leader that behaves otherwise, prints what was
//! expected and exits with status 1. Takes about three seconds.

#[path = "../support/mod.rs"]
mod support;

mod election;
mod script;
mod story;

use std::process::ExitCode;

fn main() -> ExitCode {
    support::run_on_embedded_zookeeper(script::run)
}
