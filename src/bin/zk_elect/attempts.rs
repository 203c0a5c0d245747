//! Why connecting fails, for the message of `--connect-timeout-ms`.
//!
//! The library tells its users only about failures that retrying cannot fix (refused
//! credentials); why a connection attempt failed (refused, unresolvable host, no answer) exists
//! only in log events: the session's summary (`error` field of `zk_election::session` events) and
//! the client's per-server detail (`fails in connecting to {server} due to {error:?}` at debug
//! level). A tracing layer keeps the latest of each while recording is on, whatever `RUST_LOG`
//! says; recording is off unless a connect timeout waits for it, so it costs nothing otherwise.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{filter_fn, LevelFilter};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Whether the layer records.
static RECORDING: AtomicBool = AtomicBool::new(false);
/// What it recorded.
static FAILURES: Mutex<Failures> = Mutex::new(Failures { summary: None, servers: BTreeMap::new() });

/// The client's log line for one server it could not connect to.
const SERVER_FAILURE: &str = "fails in connecting to ";

/// The latest reasons.
struct Failures {
    /// Why the last attempt failed, as the session said.
    summary: Option<String>,
    /// Why the last connection to each server failed, as the client said.
    servers: BTreeMap<String, String>,
}

/// The layer to add to the subscriber; sees the session's and the client's events only, and
/// only while recording.
pub fn layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let relevant = |meta: &tracing::Metadata<'_>| {
        RECORDING.load(Ordering::Relaxed)
            && zk_election::session::LOG_TARGETS.iter().any(|target| meta.target().starts_with(target))
    };
    Recorder.with_filter(filter_fn(relevant).with_max_level_hint(LevelFilter::DEBUG))
}

/// Starts recording (until [`stop`]).
pub fn start() {
    RECORDING.store(true, Ordering::Relaxed);
}

/// Stops recording.
pub fn stop() {
    RECORDING.store(false, Ordering::Relaxed);
}

/// The reason the last attempt failed, if one was recorded: the session's summary, then each
/// server's own reason.
pub fn last_failure() -> Option<String> {
    let failures = FAILURES.lock().unwrap_or_else(PoisonError::into_inner);
    let servers: Vec<String> = failures.servers.iter().map(|(server, reason)| format!("{server}: {reason}")).collect();
    match (&failures.summary, servers.is_empty()) {
        (None, true) => None,
        (Some(summary), true) => Some(summary.clone()),
        (None, false) => Some(servers.join("; ")),
        (Some(summary), false) => Some(format!("{summary} ({})", servers.join("; "))),
    }
}

struct Recorder;

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut failures = FAILURES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(error) = fields.error {
            failures.summary = Some(error);
        }
        if let Some((server, reason)) = fields.message.as_deref().and_then(server_failure) {
            failures.servers.insert(server, reason);
        }
    }
}

/// The `message` and `error` fields of an event.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    error: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            "error" => self.error = Some(format!("{value:?}")),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_owned()),
            "error" => self.error = Some(value.to_owned()),
            _ => {}
        }
    }
}

/// `(server, reason)` from the client's "fails in connecting to {server} due to {error:?}"; the
/// reason is the I/O error's own message when the debug form has one
/// (`Os { code: 111, kind: ConnectionRefused, message: "Connection refused" }`).
fn server_failure(message: &str) -> Option<(String, String)> {
    let (server, error) = message.strip_prefix(SERVER_FAILURE)?.split_once(" due to ")?;
    let quoted = ["message: \"", "error: \""].iter().find_map(|key| {
        let start = error.find(key)? + key.len();
        let len = error[start..].find('"')?;
        Some(&error[start..start + len])
    });
    Some((server.to_owned(), quoted.unwrap_or(error).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_clients_reason_per_server() {
        let refused = r#"fails in connecting to tcp://127.0.0.1:1 due to Os { code: 111, kind: ConnectionRefused, message: "Connection refused" }"#;
        assert_eq!(server_failure(refused), Some(("tcp://127.0.0.1:1".into(), "Connection refused".into())));
        let lookup = r#"fails in connecting to tcp://zk.invalid:2181 due to Custom { kind: Uncategorized, error: "failed to lookup address information" }"#;
        assert_eq!(
            server_failure(lookup),
            Some(("tcp://zk.invalid:2181".into(), "failed to lookup address information".into()))
        );
        let other = "fails in connecting to tcp://a:1 due to TimedOut";
        assert_eq!(server_failure(other), Some(("tcp://a:1".into(), "TimedOut".into())));
        assert_eq!(server_failure("succeeds in connecting to tcp://a:1"), None);
    }
}
