//! `--http ADDR`: a sidecar HTTP server beside the command.
//!
//! - `GET /metrics`: Prometheus text exposition of the library's metrics (empty without the
//!   `metrics` feature);
//! - `GET /`: the status page (`status.html`, self-contained), for people;
//! - `GET /leader`: who leads, as JSON: `{"sequence":…,"address":…,"leader_session":…,
//!   "fencing_token":…,"stale_since_ms":…}`, or `{"sequence":…,"address":null,"vacant":true,…}`
//!   (`"error"` instead of `vacant` when the node cannot be read or decoded);
//!   `stale_since_ms` is null while a connected session vouches for the answer, else the Unix
//!   time (ms) at which contact with ZooKeeper was lost: the answer is the last one seen;
//! - `GET /leader/watch`: the same as server-sent events (`stream.rs`), each with an `id:`,
//!   starting with the current value, resuming after `Last-Event-ID`;
//! - `GET /leader/history`: the terms remembered, `{"terms":[…]}`, oldest first;
//! - `GET /candidates`: the line of candidates, `{"candidates":[…]}`, or `null` when the
//!   command does not know the latch;
//! - `GET /healthz`: 200 while the session is connected, or suspended within its lease; 503
//!   otherwise.
//!
//! A deliberately small HTTP/1.1 responder: one request per connection (`Connection: close`),
//! the request head read within a deadline and a size limit, any body ignored, 404 for other
//! paths, 405 for other methods. It serves only where `--http` says and never fails the command:
//! a broken connection ends that connection alone. The HTTP/1.1 plumbing is `wire.rs`.

pub mod documents;
mod stream;
mod wire;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tracing::debug;
use zk_election::port::Lease;
use zk_election::{ConnectionState, GetHistory, LeaderRetriever, Observation, ZkSession};

use crate::commands::Failure;
use crate::output::{Event, Output};
use documents::{candidates_json, history_json, leader_json};
use stream::{Due, Recent};
use wire::{parse_head, read_head, respond, write_all, HeadError};

/// The status page: one self-contained file, no assets.
const STATUS_PAGE: &str = include_str!("status.html");

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
    /// The sequence number of the latest observation (kept in `known.recent`): what wakes
    /// the event streams.
    observed: watch::Sender<u64>,
    connection: watch::Sender<Option<ConnectionState>>,
    /// What the handlers read besides the two channels.
    known: Rc<Known>,
    /// The bound listener until [`Sidecar::serve`] starts serving it.
    listener: Option<TcpListener>,
    metrics: Metrics,
    serving: bool,
}

/// What the command tells the sidecar about beyond the channels: the observations streams
/// resume from, the retriever that keeps the history, the latch whose line `/candidates` lists.
/// Single-threaded (the actix arbiter): never borrowed across an await.
struct Known {
    recent: RefCell<Recent>,
    retriever: RefCell<Option<Addr<LeaderRetriever>>>,
    line: RefCell<Option<(Addr<ZkSession>, String)>>,
}

impl Sidecar {
    /// Binds `addr` if given (and installs the metrics recorder), printing the `http` event with
    /// the address bound; without `addr`, a sidecar that serves nothing. Must run before the
    /// session starts, so that every metric reaches the recorder.
    pub async fn bind(addr: Option<SocketAddr>, out: Output) -> Result<Sidecar, Failure> {
        let (observed, _) = watch::channel(0);
        let (connection, _) = watch::channel(None);
        let known = Rc::new(Known {
            recent: RefCell::new(Recent::new(rand::random())),
            retriever: RefCell::new(None),
            line: RefCell::new(None),
        });
        let mut sidecar =
            Sidecar { observed, connection, known, listener: None, metrics: Metrics::none(), serving: false };
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
            observed: self.observed.subscribe(),
            connection: self.connection.subscribe(),
            known: self.known.clone(),
            lease,
            metrics: self.metrics.clone(),
        });
        actix_rt::spawn(accept_loop(listener, shared));
    }

    /// The connection is now in `state`.
    pub fn set_connection(&self, state: Option<ConnectionState>) {
        self.connection.send_replace(state);
    }

    /// The leader retriever reports `observation`.
    pub fn observed(&self, observation: &Observation) {
        self.known.recent.borrow_mut().push(observation.clone());
        self.observed.send_replace(observation.sequence);
    }

    /// `/leader/history` asks `retriever`.
    pub fn keep_history(&self, retriever: Addr<LeaderRetriever>) {
        *self.known.retriever.borrow_mut() = Some(retriever);
    }

    /// `/candidates` lists the latch at `latch_path` through `session`.
    pub fn know_line(&self, session: Addr<ZkSession>, latch_path: &str) {
        *self.known.line.borrow_mut() = Some((session, latch_path.to_owned()));
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
    observed: watch::Receiver<u64>,
    connection: watch::Receiver<Option<ConnectionState>>,
    known: Rc<Known>,
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
    let routes = ["/", "/metrics", "/leader", "/leader/watch", "/leader/history", "/candidates", "/healthz"];
    if !routes.contains(&request.path.as_str()) {
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
        "/" => respond(&mut stream, 200, "text/html; charset=utf-8", &[], STATUS_PAGE.as_bytes()).await,
        "/leader" => {
            let body = leader_json(shared.known.recent.borrow().latest(), None) + "\n";
            respond(&mut stream, 200, "application/json", &[], body.as_bytes()).await
        }
        "/leader/history" => {
            let retriever = shared.known.retriever.borrow().clone();
            let terms = match retriever {
                Some(retriever) => retriever.send(GetHistory).await.unwrap_or_default(),
                None => Vec::new(),
            };
            let body = history_json(&terms) + "\n";
            respond(&mut stream, 200, "application/json", &[], body.as_bytes()).await
        }
        "/candidates" => {
            let line = shared.known.line.borrow().clone();
            let (status, body) = match line {
                Some((session, latch_path)) => match zk_election::candidates(session, &latch_path).await {
                    Ok(line) => (200, candidates_json(Some(&line))),
                    Err(err) => (
                        503,
                        json!({"candidates": null, "error": format!("cannot list {latch_path}: {err}")}).to_string(),
                    ),
                },
                None => (200, candidates_json(None)),
            };
            respond(&mut stream, status, "application/json", &[], (body + "\n").as_bytes()).await
        }
        "/healthz" => {
            let (healthy, state) = shared.healthy();
            let body = json!({"healthy": healthy, "state": state.map_or("connecting", state_name)}).to_string() + "\n";
            respond(&mut stream, if healthy { 200 } else { 503 }, "application/json", &[], body.as_bytes()).await
        }
        _ => watch_leader(stream, shared, request.last_event_id).await,
    }
}

/// `GET /leader/watch`: the current leader (or, resuming after `last_event_id`, every change
/// since), then every change, until the client goes (or the command stops). A client too slow
/// for [`stream::REMEMBERED`] changes, or resuming from an id we no longer have, gets the
/// current value marked `"resumed":false` and goes on from there.
async fn watch_leader(mut stream: TcpStream, shared: &Shared, last_event_id: Option<String>) -> std::io::Result<()> {
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\nX-Accel-Buffering: no\r\n\r\n";
    let mut changes = shared.observed.clone();
    let (mut reader, mut writer) = stream.split();
    write_all(&mut writer, head.as_bytes()).await?;
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    let mut sink = [0u8; 256];
    // The sequence number last sent; `None` until the first event.
    // An id that is not ours resumes from "after everything": a gap, said as such.
    let mut sent = last_event_id.map(|id| shared.known.recent.borrow().sequence_of(&id).unwrap_or(u64::MAX));
    loop {
        changes.borrow_and_update();
        let events = next_events(&shared.known.recent.borrow(), &mut sent);
        write_all(&mut writer, events.as_bytes()).await?;
        tokio::select! {
            changed = changes.changed() => {
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

/// The events a stream that sent `sent` last owes its client, as text; advances `sent`.
fn next_events(recent: &Recent, sent: &mut Option<u64>) -> String {
    let event = |observation: &Observation, resumed: Option<bool>| {
        format!("id: {}\ndata: {}\n\n", recent.id(observation), leader_json(Some(observation), resumed))
    };
    let Some(after) = *sent else {
        // A new stream: the current value first, even before the first read.
        let text = match recent.latest() {
            Some(latest) => event(latest, None),
            None => format!("data: {}\n\n", leader_json(None, None)),
        };
        *sent = Some(recent.latest().map_or(0, |latest| latest.sequence));
        return text;
    };
    match recent.after(after) {
        Due::Changes(changes) => {
            let text: String = changes.iter().map(|observation| event(observation, None)).collect();
            if let Some(last) = changes.last() {
                *sent = Some(last.sequence);
            }
            text
        }
        Due::Gap(latest) => {
            *sent = Some(latest.as_ref().map_or(0, |latest| latest.sequence));
            match latest {
                Some(latest) => event(&latest, Some(false)),
                None => format!("data: {}\n\n", leader_json(None, Some(false))),
            }
        }
    }
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
    use serde_json::Value;

    #[test]
    fn documents_before_the_first_read() {
        assert_eq!(leader_json(None, None), r#"{"sequence":0,"address":null,"stale_since_ms":null}"#);
        let gap: Value = serde_json::from_str(&leader_json(None, Some(false))).unwrap();
        assert_eq!(gap["resumed"], false);
        assert_eq!(history_json(&[]), r#"{"terms":[]}"#);
        assert_eq!(candidates_json(None), r#"{"candidates":null}"#);
    }

    #[test]
    fn a_new_stream_starts_with_the_current_value() {
        let recent = Recent::new(1);
        let mut sent = None;
        assert_eq!(
            next_events(&recent, &mut sent),
            "data: {\"sequence\":0,\"address\":null,\"stale_since_ms\":null}\n\n"
        );
        assert_eq!(sent, Some(0));
        assert_eq!(next_events(&recent, &mut sent), "", "nothing new");
        let mut resumed_from_elsewhere = Some(u64::MAX);
        assert!(next_events(&recent, &mut resumed_from_elsewhere).contains(r#""resumed":false"#));
    }
}
