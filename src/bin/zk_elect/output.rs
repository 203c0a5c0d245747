//! What `zk-elect` prints: one line per event on stdout, flushed at once, either as a JSON object
//! (`--json`) or as a readable sentence. Every JSON line has `ts_ms` (wall clock, milliseconds
//! since the Unix epoch) and `event` first. Readable lines escape the control characters of
//! strings others control (addresses, error messages), so one event is always one line and no
//! escape sequence reaches the terminal.

use std::borrow::Cow;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use uuid::Uuid;
use zk_election::{Candidate, ConnectionState, Freshness, LeaderState, Observation, Term};

use crate::http::documents::{candidate_fields, freshness_fields, term_fields, unix_ms};

/// One thing worth telling the user.
#[derive(Debug)]
pub enum Event<'a> {
    /// `--http`: the sidecar listens at this address.
    Http { address: SocketAddr },
    /// No session exists yet: the first one is being established.
    Connecting,
    /// The ZooKeeper connection changed state.
    Connection(ConnectionState),
    /// Leadership was granted with this leader session ID and fencing token.
    Granted { leader_session: Uuid, fencing_token: i64 },
    /// The leader node now holds our address, this leader session ID and the token.
    Published { leader_session: Uuid, fencing_token: i64 },
    /// Leadership was lost.
    Revoked,
    /// Something failed; the program goes on unless it says otherwise.
    Error(&'a str),
    /// Clean stop done; the last line before exit.
    Stopped,
    /// Who leads changed, or how current that is.
    Observed(&'a Observation),
    /// `observe --history`: a term ended.
    Term(&'a Term),
    /// The command of `run` started.
    ChildStarted { pid: u32 },
    /// The command of `run` ended: its exit code (128 + signal if a signal ended it).
    ChildExited { code: i32, signal: Option<i32> },
    /// `candidates`: one candidate in line.
    Candidate(&'a Candidate),
    /// A transfer was accepted: leadership goes to the candidate with this latch node.
    Transferring { to: &'a str },
    /// `--health-cmd` changed its verdict.
    Health { healthy: bool },
}

impl Event<'_> {
    /// The `event` name and the other fields of the JSON line.
    fn fields(&self) -> (&'static str, Vec<(&'static str, Value)>) {
        match self {
            Event::Http { address } => ("http", vec![("address", json!(address.to_string()))]),
            Event::Connecting => ("connection", vec![("state", json!("connecting"))]),
            Event::Connection(state) => ("connection", vec![("state", json!(state_name(*state)))]),
            Event::Granted { leader_session, fencing_token } => (
                "granted",
                vec![("session_id", json!(leader_session.to_string())), ("fencing_token", json!(fencing_token))],
            ),
            Event::Published { leader_session, fencing_token } => (
                "published",
                vec![("session_id", json!(leader_session.to_string())), ("fencing_token", json!(fencing_token))],
            ),
            Event::Revoked => ("revoked", vec![]),
            Event::Error(message) => ("error", vec![("message", json!(message))]),
            Event::Stopped => ("stopped", vec![]),
            Event::Observed(observation) => {
                let (event, mut fields) = match &observation.state {
                    LeaderState::Leading { address, leader_session, fencing_token } => (
                        "leader",
                        vec![
                            ("address", json!(address)),
                            ("session_id", json!(leader_session.to_string())),
                            ("fencing_token", json!(fencing_token)),
                        ],
                    ),
                    LeaderState::Vacant => ("leader", vec![("address", Value::Null), ("vacant", json!(true))]),
                    LeaderState::Undecodable { bytes } => ("undecodable", vec![("bytes", json!(bytes))]),
                    LeaderState::Unreadable { error } => ("unreadable", vec![("message", json!(error.to_string()))]),
                    // The enum is non-exhaustive; the library adds no other state today.
                    other => ("leader_changed", vec![("debug", json!(format!("{other:?}")))]),
                };
                fields.insert(0, ("sequence", json!(observation.sequence)));
                fields.extend(freshness_fields(observation.freshness));
                (event, fields)
            }
            Event::Term(term) => ("term", term_fields(term, "session_id")),
            Event::ChildStarted { pid } => ("child_started", vec![("pid", json!(pid))]),
            Event::ChildExited { code, signal: None } => ("child_exited", vec![("code", json!(code))]),
            Event::ChildExited { code, signal: Some(signal) } => {
                ("child_exited", vec![("code", json!(code)), ("signal", json!(signal))])
            }
            Event::Candidate(candidate) => ("candidate", candidate_fields(candidate)),
            Event::Transferring { to } => ("transferring", vec![("node", json!(to))]),
            Event::Health { healthy } => ("health", vec![("healthy", json!(healthy))]),
        }
    }

    fn json(&self, ts_ms: u128) -> String {
        let (event, fields) = self.fields();
        // Written by hand to keep `ts_ms` and `event` first (serde_json's map sorts its keys).
        let mut line = format!("{{\"ts_ms\":{ts_ms},\"event\":\"{event}\"");
        for (key, value) in fields {
            line.push_str(&format!(",\"{key}\":{value}"));
        }
        line.push('}');
        line
    }

    fn human(&self) -> String {
        match self {
            Event::Http { address } => format!("serving HTTP on {address}"),
            Event::Connecting => "connecting to ZooKeeper".to_owned(),
            Event::Connection(ConnectionState::Connected) => "connected to ZooKeeper".to_owned(),
            Event::Connection(ConnectionState::Suspended) => "connection to ZooKeeper suspended".to_owned(),
            Event::Connection(ConnectionState::Reconnected { same_session: true }) => {
                "reconnected to ZooKeeper (same session)".to_owned()
            }
            Event::Connection(ConnectionState::Reconnected { same_session: false }) => {
                "reconnected to ZooKeeper (new session)".to_owned()
            }
            Event::Connection(ConnectionState::Lost) => "ZooKeeper session lost".to_owned(),
            Event::Granted { leader_session, fencing_token } => {
                format!("leadership granted, leader session {leader_session}, fencing token {fencing_token}")
            }
            Event::Published { leader_session, fencing_token } => {
                format!("leader information published, leader session {leader_session}, fencing token {fencing_token}")
            }
            Event::Revoked => "leadership revoked".to_owned(),
            Event::Error(message) => format!("error: {}", escape_controls(message)),
            Event::Stopped => "stopped".to_owned(),
            Event::Observed(observation) => {
                let what = match &observation.state {
                    LeaderState::Leading { address, leader_session, fencing_token } => {
                        let token = fencing_token.map_or(String::new(), |token| format!(", fencing token {token}"));
                        format!("leader is {}, leader session {leader_session}{token}", escape_controls(address))
                    }
                    LeaderState::Vacant => "no leader".to_owned(),
                    LeaderState::Undecodable { bytes } => {
                        format!("leader node holds {bytes} bytes that are not leader information in this codec")
                    }
                    LeaderState::Unreadable { error } => {
                        format!("leader node cannot be read: {}", escape_controls(&error.to_string()))
                    }
                    other => format!("leader node changed: {}", escape_controls(&format!("{other:?}"))),
                };
                match observation.freshness {
                    Freshness::Stale { since } => {
                        format!("{what} (stale: no contact with ZooKeeper since {})", utc(unix_ms(since).into()))
                    }
                    Freshness::ReadOnly { since } => format!(
                        "{what} (read-only: from a server without a quorum, none since {})",
                        utc(unix_ms(since).into())
                    ),
                    _ => what,
                }
            }
            Event::Term(term) => {
                let ended = term.ended.map_or("-".to_owned(), |ended| utc(unix_ms(ended).into()));
                let how = term.end.map_or("not known yet", |end| end.name());
                format!(
                    "term of {}, leader session {}: {} to {ended}, ended: {how}",
                    escape_controls(&term.address),
                    term.leader_session,
                    utc(unix_ms(term.started).into()),
                )
            }
            Event::ChildStarted { pid } => format!("command started, pid {pid}"),
            Event::ChildExited { code, signal: None } => format!("command exited with code {code}"),
            Event::ChildExited { code, signal: Some(signal) } => {
                format!("command ended by signal {signal} (exit code {code})")
            }
            Event::Candidate(candidate) => {
                let labels: Vec<String> = candidate.info.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let token = if candidate.position == 0 {
                    format!(", fencing token {}", candidate.czxid)
                } else {
                    String::new()
                };
                let text = format!(
                    "{} {} priority {}{}{} {}{token}",
                    candidate.position,
                    candidate.info.id,
                    candidate.info.priority,
                    if labels.is_empty() { "" } else { " labels " },
                    labels.join(","),
                    candidate.node,
                );
                escape_controls(&text).into_owned()
            }
            Event::Transferring { to } => format!("handing leadership over to {}", escape_controls(to)),
            Event::Health { healthy: true } => "health check passes".to_owned(),
            Event::Health { healthy: false } => "health check fails".to_owned(),
        }
    }
}

/// The `state` of a connection event.
fn state_name(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Connected => "connected",
        ConnectionState::Suspended => "suspended",
        ConnectionState::Reconnected { .. } => "reconnected",
        ConnectionState::Lost => "lost",
    }
}

/// Prints events in the chosen format.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    json: bool,
}

impl Output {
    /// JSON lines when `json`, readable lines otherwise.
    pub fn new(json: bool) -> Self {
        Output { json }
    }

    /// Whether lines are JSON (stdout is then reserved for them).
    pub fn is_json(self) -> bool {
        self.json
    }

    /// Prints `event` as one line and flushes. A closed stdout is ignored: the election must
    /// not fail because nobody reads.
    pub fn emit(self, event: Event<'_>) {
        let ts_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let line = if self.json { event.json(ts_ms) } else { format!("{} {}", utc(ts_ms), event.human()) };
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }
}

/// `text` with its control characters, line separators and bidirectional overrides (and
/// backslashes, so that the escapes are unambiguous) written as Rust escapes: `\n`, `\u{1b}`,
/// `\u{202e}`, `\\`. Other characters, non-ASCII included, stay as they are.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs_escape(c) {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    Cow::Owned(escaped)
}

/// Characters that could break a line or disguise what follows them on a terminal.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the epoch.
fn utc(ts_ms: u128) -> String {
    let ms = (ts_ms % 1000) as u32;
    let secs = (ts_ms / 1000) as i64;
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (day_secs / 3600, day_secs % 3600 / 60, day_secs % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_have_timestamp_and_event_first() {
        let id = Uuid::from_u128(1);
        assert_eq!(
            Event::Granted { leader_session: id, fencing_token: 7 }.json(42),
            format!("{{\"ts_ms\":42,\"event\":\"granted\",\"session_id\":\"{id}\",\"fencing_token\":7}}")
        );
        let at = SystemTime::UNIX_EPOCH;
        let vacant = Observation::new(3, LeaderState::Vacant, Freshness::Live, at);
        assert_eq!(
            Event::Observed(&vacant).json(1),
            r#"{"ts_ms":1,"event":"leader","sequence":3,"address":null,"vacant":true}"#
        );
        let since = at + std::time::Duration::from_millis(1500);
        let stale = Observation::new(4, LeaderState::Vacant, Freshness::Stale { since }, at);
        assert_eq!(
            Event::Observed(&stale).json(1),
            r#"{"ts_ms":1,"event":"leader","sequence":4,"address":null,"vacant":true,"stale_since_ms":1500}"#
        );
        assert_eq!(
            Event::Observed(&stale).human(),
            "no leader (stale: no contact with ZooKeeper since 1970-01-01T00:00:01.500Z)"
        );
        assert_eq!(
            Event::Error("a \"quoted\"\nline").json(1),
            r#"{"ts_ms":1,"event":"error","message":"a \"quoted\"\nline"}"#
        );
        let exited = Event::ChildExited { code: 143, signal: Some(15) }.json(1);
        let parsed: Value = serde_json::from_str(&exited).unwrap();
        assert_eq!(parsed, json!({"ts_ms": 1, "event": "child_exited", "code": 143, "signal": 15}));
    }

    #[test]
    fn readable_lines_escape_control_characters_of_foreign_strings() {
        let forged = LeaderState::Leading {
            address: "evil\nleader is x:1\u{1b}[2J\\".into(),
            leader_session: Uuid::nil(),
            fencing_token: None,
        };
        let forged = Observation::new(1, forged, Freshness::Live, SystemTime::UNIX_EPOCH);
        assert_eq!(
            Event::Observed(&forged).human(),
            format!("leader is evil\\nleader is x:1\\u{{1b}}[2J\\\\, leader session {}", Uuid::nil())
        );
        assert_eq!(Event::Error("bad\r\nline\t").human(), "error: bad\\r\\nline\\t");
        // Printable text, non-ASCII included, is left alone.
        assert_eq!(escape_controls("zk-é:2181 ✓"), "zk-é:2181 ✓");
        assert_eq!(escape_controls("a\u{202e}b\u{2028}c"), "a\\u{202e}b\\u{2028}c");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
        let http = Event::Http { address: "127.0.0.1:9100".parse().unwrap() };
        assert_eq!(http.json(1), r#"{"ts_ms":1,"event":"http","address":"127.0.0.1:9100"}"#);
        assert_eq!(http.human(), "serving HTTP on 127.0.0.1:9100");
        // JSON lines escape by themselves.
        assert_eq!(Event::Connecting.json(1), r#"{"ts_ms":1,"event":"connection","state":"connecting"}"#);
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(utc(1_735_689_599_999), "2024-12-31T23:59:59.999Z");
    }
}
