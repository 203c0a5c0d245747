//! `--http ADDR`: a sidecar HTTP server beside the command.
//!
//! - `GET /metrics`: Prometheus text exposition of the library's metrics (empty without the
//!   `metrics` feature);
//! - `GET /leader`: who leads, as JSON: `{"address":…,"leader_session":…,"fencing_token":…}`,
//!   or `{"address":null}` (plus `"error"` when the node cannot be read or decoded);
//! - `GET /leader/watch`: the same as server-sent events, one `data:` line per change, starting
//!   with the current value;
//! - `GET /healthz`: 200 while the session is connected, or suspended within its lease; 503
//!   otherwise.
//!
//! A deliberately small HTTP/1.1 responder: one request per connection (`Connection: close`),
//! the request head read within a deadline and a size limit, any body ignored, 404 for other
//! paths, 405 for other methods. It serves only where `--http` says and never fails the command:
//! a broken connection ends that connection alone. The HTTP/1.1 plumbing is `wire.rs`.

mod wire;

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tracing::debug;
use zk_election::port::Lease;
use zk_election::{ConnectionState, LeaderChanged};

use crate::commands::Failure;
use crate::output::{Event, Output};
use wire::{parse_head, read_head, respond, write_all, HeadError};

/// Longest request head (request line and headers) we read.
const MAX_HEAD: usize = 8 * 1024;
/// Most header lines we accept.
const MAX_HEADERS: usize = 64;
/// Time a client gets to send its request head.
const READ_HEAD_WITHIN: Duration = Duration::from_secs(5);
/// Time one write may take before the client counts as gone.
const WRITE_WITHIN: Duration = Duration::from_secs(10);
/// Connections served at once (event streams included); more are closed at once.
const MAX_CONNECTIONS: usize = 64;
/// Pause between SSE comments that keep an idle stream (and the proxies on its way) alive.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// What the command tells the sidecar; cheap to update whether or not anything is served.
pub struct Sidecar {
    leader: watch::Sender<Option<LeaderChanged>>,
    connection: watch::Sender<Option<ConnectionState>>,
    /// The bound listener until [`Sidecar::serve`] starts serving it.
    listener: Option<TcpListener>,
    metrics: Metrics,
    serving: bool,
}

impl Sidecar {
    /// Binds `addr` if given (and installs the metrics recorder), printing the `http` event with
    /// the address bound; without `addr`, a sidecar that serves nothing. Must run before the
    /// session starts, so that every metric reaches the recorder.
    pub async fn bind(addr: Option<SocketAddr>, out: Output) -> Result<Sidecar, Failure> {
        let (leader, _) = watch::channel(None);
        let (connection, _) = watch::channel(None);
        let mut sidecar = Sidecar { leader, connection, listener: None, metrics: Metrics::none(), serving: false };
        let Some(addr) = addr else { return Ok(sidecar) };
        let listener = TcpListener::bind(addr).await.map_err(|err| format!("cannot listen on {addr}: {err}"))?;
        let bound = listener.local_addr().map_err(|err| format!("cannot listen on {addr}: {err}"))?;
        sidecar.metrics = Metrics::install()?;
        sidecar.listener = Some(listener);
        sidecar.serving = true;
        out.emit(Event::Http { address: bound });
        Ok(sidecar)
    }

    /// Whether an HTTP server runs (or will, once [`Sidecar::serve`] is called).
    pub fn is_serving(&self) -> bool {
        self.serving
    }

    /// Starts serving, judging health by `lease` and the connection states we are told.
    pub fn serve(&mut self, lease: Lease) {
        let Some(listener) = self.listener.take() else { return };
        let shared = Rc::new(Shared {
            leader: self.leader.subscribe(),
            connection: self.connection.subscribe(),
            lease,
            metrics: self.metrics.clone(),
        });
        actix_rt::spawn(accept_loop(listener, shared));
    }

    /// The connection is now in `state`.
    pub fn set_connection(&self, state: Option<ConnectionState>) {
        self.connection.send_replace(state);
    }

    /// The leader retriever says `change`.
    pub fn set_leader(&self, change: &LeaderChanged) {
        self.leader.send_replace(Some(change.clone()));
    }
}

/// The metrics recorder's handle, if there is one.
#[derive(Clone)]
struct Metrics {
    #[cfg(feature = "metrics")]
    handle: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl Metrics {
    fn none() -> Metrics {
        Metrics {
            #[cfg(feature = "metrics")]
            handle: None,
        }
    }

    /// Installs the Prometheus recorder as the process's recorder.
    fn install() -> Result<Metrics, Failure> {
        #[cfg(feature = "metrics")]
        {
            use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), zk_election::telemetry::SECONDS_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|err| format!("cannot install the metrics recorder: {err}"))?;
            zk_election::telemetry::describe();
            Ok(Metrics { handle: Some(handle) })
        }
        #[cfg(not(feature = "metrics"))]
        Ok(Metrics::none())
    }

    /// The Prometheus text exposition; empty without a recorder.
    fn render(&self) -> String {
        #[cfg(feature = "metrics")]
        if let Some(handle) = &self.handle {
            return handle.render();
        }
        String::new()
    }
}

/// What the request handlers read.
struct Shared {
    leader: watch::Receiver<Option<LeaderChanged>>,
    connection: watch::Receiver<Option<ConnectionState>>,
    lease: Lease,
    metrics: Metrics,
}

impl Shared {
    /// Connected, or suspended while the lease says the server still holds our session.
    fn healthy(&self) -> (bool, Option<ConnectionState>) {
        let state = *self.connection.borrow();
        let healthy = match state {
            Some(ConnectionState::Connected | ConnectionState::Reconnected { .. }) => true,
            Some(ConnectionState::Suspended) => self.lease.holds(),
            Some(ConnectionState::Lost) | None => false,
        };
        (healthy, state)
    }
}

async fn accept_loop(listener: TcpListener, shared: Rc<Shared>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // Out of file descriptors, or a connection reset before we took it: wait a little.
                debug!(error = %err, "http: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            debug!("http: too many connections; closing a new one");
            continue;
        };
        let shared = shared.clone();
        actix_rt::spawn(async move {
            let _slot = slot;
            if let Err(err) = serve_connection(stream, &shared).await {
                debug!(error = %err, "http: connection ended");
            }
        });
    }
}

async fn serve_connection(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let head = tokio::time::timeout(READ_HEAD_WITHIN, read_head(&mut stream)).await.unwrap_or(Err(HeadError::Gone));
    let request = match head.and_then(|head| parse_head(&head)) {
        Ok(request) => request,
        Err(HeadError::Gone) => return Ok(()),
        Err(HeadError::Bad) => return respond(&mut stream, 400, "text/plain", &[], b"bad request\n").await,
        Err(HeadError::TooLarge) => {
            return respond(&mut stream, 431, "text/plain", &[], b"request header fields too large\n").await
        }
    };
    let known = ["/metrics", "/leader", "/leader/watch", "/healthz"];
    if !known.contains(&request.path.as_str()) {
        return respond(&mut stream, 404, "text/plain", &[], b"not found\n").await;
    }
    if request.method != "GET" {
        return respond(&mut stream, 405, "text/plain", &[("Allow", "GET")], b"method not allowed\n").await;
    }
    match request.path.as_str() {
        "/metrics" => {
            let body = shared.metrics.render();
            respond(&mut stream, 200, "text/plain; version=0.0.4; charset=utf-8", &[], body.as_bytes()).await
        }
        "/leader" => {
            let body = leader_json(shared.leader.borrow().as_ref()) + "\n";
            respond(&mut stream, 200, "application/json", &[], body.as_bytes()).await
        }
        "/healthz" => {
            let (healthy, state) = shared.healthy();
            let body = json!({"healthy": healthy, "state": state.map_or("connecting", state_name)}).to_string() + "\n";
            respond(&mut stream, if healthy { 200 } else { 503 }, "application/json", &[], body.as_bytes()).await
        }
        _ => watch_leader(stream, shared.leader.clone()).await,
    }
}

/// `GET /leader/watch`: the current leader, then one event per change, until the client goes
/// (or the command stops). Values that change faster than the client reads are coalesced:
/// every event is the value current when it was written, never the same twice in a row.
async fn watch_leader(
    mut stream: TcpStream,
    mut leader: watch::Receiver<Option<LeaderChanged>>,
) -> std::io::Result<()> {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\nX-Accel-Buffering: no\r\n\r\n";
    let (mut reader, mut writer) = stream.split();
    write_all(&mut writer, head.as_bytes()).await?;
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    let mut last_sent: Option<String> = None;
    let mut sink = [0u8; 256];
    loop {
        let current = leader_json(leader.borrow_and_update().as_ref());
        if last_sent.as_ref() != Some(&current) {
            write_all(&mut writer, format!("data: {current}\n\n").as_bytes()).await?;
            last_sent = Some(current);
        }
        tokio::select! {
            changed = leader.changed() => {
                if changed.is_err() {
                    break; // the command is stopping
                }
            }
            _ = keepalive.tick() => write_all(&mut writer, b": keepalive\n\n").await?,
            // The client has nothing more to say; a read ends only when it goes away.
            read = reader.read(&mut sink) => {
                if matches!(read, Ok(0) | Err(_)) {
                    break;
                }
            }
        }
    }
    let _ = writer.shutdown().await;
    Ok(())
}

/// `/leader`'s JSON for what the retriever last said (`None`: not read yet), keys in the
/// order documented (serde_json's map would sort them).
fn leader_json(change: Option<&LeaderChanged>) -> String {
    let fields: Vec<(&str, Value)> = match change {
        Some(LeaderChanged::Leader { address, leader_session, fencing_token }) => vec![
            ("address", json!(address)),
            ("leader_session", json!(leader_session.to_string())),
            ("fencing_token", json!(fencing_token)),
        ],
        None | Some(LeaderChanged::NoLeader) => vec![("address", Value::Null)],
        Some(LeaderChanged::Undecodable { bytes }) => vec![
            ("address", Value::Null),
            (
                "error",
                json!(format!("the leader node holds {bytes} bytes that are not leader information in this codec")),
            ),
        ],
        Some(LeaderChanged::Unreadable { error }) => {
            vec![("address", Value::Null), ("error", json!(format!("the leader node cannot be read: {error}")))]
        }
        // A kind of change this build does not know: say nothing rather than guess.
        Some(_) => vec![("address", Value::Null)],
    };
    let fields: Vec<String> = fields.into_iter().map(|(key, value)| format!("{}:{value}", json!(key))).collect();
    format!("{{{}}}", fields.join(","))
}

fn state_name(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Connected => "connected",
        ConnectionState::Suspended => "suspended",
        ConnectionState::Reconnected { .. } => "reconnected",
        ConnectionState::Lost => "lost",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn leader_documents() {
        let id = Uuid::from_u128(7);
        let leader = LeaderChanged::Leader { address: "a:1".into(), leader_session: id, fencing_token: Some(12) };
        assert_eq!(
            leader_json(Some(&leader)),
            format!(r#"{{"address":"a:1","leader_session":"{id}","fencing_token":12}}"#)
        );
        assert_eq!(leader_json(None), r#"{"address":null}"#);
        assert_eq!(leader_json(Some(&LeaderChanged::NoLeader)), r#"{"address":null}"#);
        let undecodable: Value =
            serde_json::from_str(&leader_json(Some(&LeaderChanged::Undecodable { bytes: 3 }))).unwrap();
        assert!(undecodable["error"].is_string());
        let quoted = LeaderChanged::Leader { address: "\"\n".into(), leader_session: id, fencing_token: None };
        let parsed: Value = serde_json::from_str(&leader_json(Some(&quoted))).unwrap();
        assert_eq!((parsed["address"].as_str(), &parsed["fencing_token"]), (Some("\"\n"), &Value::Null));
    }
}
