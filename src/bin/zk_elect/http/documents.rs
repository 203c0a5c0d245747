//! The sidecar's JSON documents, keys in the order documented (serde_json's map would sort
//! them): who leads, the terms remembered, the line of candidates.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use zk_election::{Candidate, Freshness, LeaderState, Observation, Term};

/// Milliseconds since the epoch, as the documents and the page use them.
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

/// The fields of an observation: `sequence`, then who leads, then `stale_since_ms` (a Unix
/// time in milliseconds, or null while live), and `read_only: true` when read through a server
/// without a quorum. Before the first read: sequence 0, no leader.
pub fn leader_fields(observation: Option<&Observation>) -> Vec<(&'static str, Value)> {
    let Some(observation) = observation else {
        return vec![("sequence", json!(0)), ("address", Value::Null), ("stale_since_ms", Value::Null)];
    };
    let mut fields = vec![("sequence", json!(observation.sequence))];
    match &observation.state {
        LeaderState::Leading { address, leader_session, fencing_token } => fields.extend([
            ("address", json!(address)),
            ("leader_session", json!(leader_session.to_string())),
            ("fencing_token", json!(fencing_token)),
        ]),
        LeaderState::Vacant => fields.extend([("address", Value::Null), ("vacant", json!(true))]),
        LeaderState::Undecodable { bytes } => fields.extend([
            ("address", Value::Null),
            (
                "error",
                json!(format!("the leader node holds {bytes} bytes that are not leader information in this codec")),
            ),
        ]),
        LeaderState::Unreadable { error } => fields
            .extend([("address", Value::Null), ("error", json!(format!("the leader node cannot be read: {error}")))]),
        // A state this build does not know: say nothing rather than guess.
        _ => fields.push(("address", Value::Null)),
    }
    match freshness_fields(observation.freshness) {
        live if live.is_empty() => fields.push(("stale_since_ms", Value::Null)),
        stale => fields.extend(stale),
    }
    fields
}

/// What marks an answer as not live: `stale_since_ms`, and `read_only: true` for reads from a
/// server without a quorum; nothing while live.
pub fn freshness_fields(freshness: Freshness) -> Vec<(&'static str, Value)> {
    match freshness {
        Freshness::Stale { since } => vec![("stale_since_ms", json!(unix_ms(since)))],
        Freshness::ReadOnly { since } => vec![("stale_since_ms", json!(unix_ms(since))), ("read_only", json!(true))],
        _ => Vec::new(),
    }
}

/// `/leader`'s document; `resumed: Some(false)` marks the first event of a stream that could
/// not resume where its client left off.
pub fn leader_json(observation: Option<&Observation>, resumed: Option<bool>) -> String {
    let mut fields = leader_fields(observation);
    if let Some(resumed) = resumed {
        fields.push(("resumed", json!(resumed)));
    }
    object(fields)
}

/// The fields of a term, as `/leader/history` and `observe --history` show it; the leader
/// session under `session_key` (`observe`'s events call it `session_id`, as all its events do).
pub fn term_fields(term: &Term, session_key: &'static str) -> Vec<(&'static str, Value)> {
    vec![
        ("address", json!(term.address)),
        (session_key, json!(term.leader_session.to_string())),
        ("fencing_token", json!(term.fencing_token)),
        ("start_ms", json!(unix_ms(term.started))),
        ("end_ms", json!(term.ended.map(unix_ms))),
        ("ended", json!(term.end.map(|end| end.name()))),
    ]
}

/// `/leader/history`: the terms remembered, oldest first.
pub fn history_json(terms: &[Term]) -> String {
    let terms: Vec<String> = terms.iter().map(|term| object(term_fields(term, "leader_session"))).collect();
    format!("{{\"terms\":[{}]}}", terms.join(","))
}

/// The fields of a candidate, as `/candidates` and `zk-elect candidates` show it.
pub fn candidate_fields(candidate: &Candidate) -> Vec<(&'static str, Value)> {
    let mut fields = vec![
        ("position", json!(candidate.position)),
        ("address", json!(candidate.info.id)),
        ("priority", json!(candidate.info.priority)),
        ("labels", json!(candidate.info.labels)),
        ("node", json!(candidate.node)),
    ];
    if candidate.position == 0 {
        fields.push(("fencing_token", json!(candidate.czxid)));
    }
    fields
}

/// `/candidates`: the line, first (the leader) first; `null` when the latch is not known.
pub fn candidates_json(line: Option<&[Candidate]>) -> String {
    match line {
        Some(line) => {
            let line: Vec<String> = line.iter().map(|candidate| object(candidate_fields(candidate))).collect();
            format!("{{\"candidates\":[{}]}}", line.join(","))
        }
        None => r#"{"candidates":null}"#.to_owned(),
    }
}

/// A JSON object with the keys in the order given.
pub fn object(fields: Vec<(&str, Value)>) -> String {
    let fields: Vec<String> = fields.into_iter().map(|(key, value)| format!("{}:{value}", json!(key))).collect();
    format!("{{{}}}", fields.join(","))
}
