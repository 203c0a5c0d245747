//! `--connect-timeout-ms`: give up when no ZooKeeper session is established in time.

use std::time::Duration;

use actix::Addr;
use zk_election::session::GetStatus;
use zk_election::{StopSession, ZkSession};

use crate::attempts;
use crate::commands::Failure;
use crate::output::Output;

/// Ends the process with exit code 1 unless `session` has established a session within `limit`
/// from now. The message names `connect` and why the last attempt failed, if that is known.
pub fn arm(session: Addr<ZkSession>, limit: Duration, connect: String, out: Output) {
    attempts::start();
    actix_rt::spawn(async move {
        tokio::time::sleep(limit).await;
        attempts::stop();
        // The session is gone only when the command is ending by itself.
        let Ok(status) = session.send(GetStatus).await else { return };
        if status.state.is_some() {
            return;
        }
        // Without a session nothing of ours exists in ZooKeeper: there is nothing to leave. The
        // session is stopped so that none is made while we exit.
        let _ = session.send(StopSession).await;
        let reason = attempts::last_failure().map_or_else(String::new, |reason| format!("; last failure: {reason}"));
        let message = format!("no ZooKeeper session with {connect} within {} ms{reason}", limit.as_millis());
        Failure::from(message).exit(out)
    });
}
