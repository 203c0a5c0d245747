//! etcd's election as a peer: `etcdctl elect NAME PROPOSAL` processes. etcdctl prints the
//! election key and then the proposal once it is leader, and on SIGINT resigns (deletes its key)
//! and exits.

use std::path::PathBuf;
use std::process::Command;

use crate::peer::{LeaveBy, Line, ProcessPeer};

/// Contenders in election `name` against `endpoints`; the proposal is the address.
pub(crate) fn peer(endpoints: &str, name: &str, log: PathBuf) -> ProcessPeer {
    let (endpoints, name) = (endpoints.to_owned(), name.to_owned());
    ProcessPeer {
        command: Box::new(move |address| {
            let mut command = Command::new("etcdctl");
            command.env("ETCDCTL_API", "3").arg(format!("--endpoints={endpoints}")).args(["elect", &name, address]);
            command
        }),
        classify,
        leave_by: LeaveBy::Interrupt,
        log,
    }
}

/// The proposal alone on a line: it leads (etcd has no step between winning and announcing).
fn classify(line: &str, address: &str) -> Line {
    if line == address {
        Line::Leads
    } else {
        Line::Other
    }
}

/// The key prefix of election `name`'s candidates.
pub(crate) fn prefix(name: &str) -> String {
    format!("{name}/")
}
