//! Metrics for scraping, through the [`metrics`](https://docs.rs/metrics) facade: with the
//! `metrics` feature the election and the session record into whatever recorder the
//! application installs (for Prometheus, `metrics-exporter-prometheus`); without it every
//! function here compiles to nothing. [`GetElectionMetrics`](crate::GetElectionMetrics) and
//! [`GetSessionMetrics`](crate::session::GetSessionMetrics) answer their counters either way.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `zk_election_is_leader` | gauge | `latch_path`, `component` | 1 from the confirm of a leadership until its revoke or stop, else 0 (0 from subscribe on) |
//! | `zk_election_grants_total` | counter | `latch_path`, `component` | leadership grants |
//! | `zk_election_revokes_total` | counter | `latch_path`, `component` | revocations of a grant, confirmed or not (a stop is not one) |
//! | `zk_election_leader_node_rewrites_total` | counter | `latch_path`, `component` | rewrites of a leader node found not ours |
//! | `zk_election_publish_failures_total` | counter | `latch_path`, `component` | leader-node writes that failed (each is retried or, after the publish patience, given up) |
//! | `zk_election_grant_to_published_seconds` | histogram | `latch_path`, `component` | from a grant to its first published leader node |
//! | `zk_election_leaderless_seconds` | histogram | `latch_path`, `component` | time without a confirmed leader as this process sees it: from subscribe or revoke until its next publish |
//! | `zk_election_zk_requests_total` | counter | `kind` | requests to ZooKeeper: `create`, `delete`, `exists`, `get_data`, `get_children`, `set_data`, `multi`, `sync`, `other` |
//! | `zk_election_sessions_established_total` | counter | | sessions established (the first, and one after each loss) |
//! | `zk_election_session_suspensions_total` | counter | | connections lost with the session possibly alive (`Suspended`) |
//! | `zk_election_session_reconnects_total` | counter | | connections regained within the same session |
//! | `zk_election_sessions_lost_total` | counter | | sessions lost (`Lost`) |
//! | `zk_election_leader_conflicts_total` | counter | `latch_path`, `component` | times this process, leading, found the leader node naming another leader (two leaders claimed at once; it rewrites the node) |
//! | `zk_election_leader_transitions_total` | counter | `leader_path` | leadership terms that began while a retriever watched (a new leader session in the leader node) |
//! | `zk_election_leader_tenure_seconds` | histogram | `leader_path` | length of the terms a retriever saw begin and end |
//! | `zk_election_leader_fencing_token` | gauge | `leader_path` | the fencing token of the current term (the last one, while vacant) |
//! | `zk_election_has_leader` | gauge | `leader_path` | 1 while the leader node names a leader, 0 while it is vacant |
//! | `zk_election_leader_last_confirmed_timestamp_seconds` | gauge | `leader_path` | Unix time at which a connected session last vouched for what the retriever reports (moves every second while live; stands still while stale) |
//!
//! `zk_election_leaderless_seconds` is measured by each process for itself: it knows when it
//! stopped leading, not when a peer started. On a successor it spans the failover; on a process
//! that waited in line while others led, the whole wait.
//!
//! Install the recorder before starting sessions and elections, then call [`describe`] for the
//! help texts. Histograms are best given buckets such as [`SECONDS_BUCKETS`].

#[cfg(feature = "metrics")]
use std::time::Instant;

use crate::zk::{ConnectionState, RequestKind};

/// Gauge: 1 while this process holds a confirmed leadership for the component.
pub const IS_LEADER: &str = "zk_election_is_leader";
/// Counter: leadership grants.
pub const GRANTS: &str = "zk_election_grants_total";
/// Counter: revocations.
pub const REVOKES: &str = "zk_election_revokes_total";
/// Counter: leader-node rewrites.
pub const REWRITES: &str = "zk_election_leader_node_rewrites_total";
/// Counter: failed leader-node writes.
pub const PUBLISH_FAILURES: &str = "zk_election_publish_failures_total";
/// Histogram (seconds): grant to published.
pub const GRANT_TO_PUBLISHED: &str = "zk_election_grant_to_published_seconds";
/// Histogram (seconds): time without a confirmed leader, as this process sees it.
pub const LEADERLESS: &str = "zk_election_leaderless_seconds";
/// Counter: ZooKeeper requests, by `kind`.
pub const ZK_REQUESTS: &str = "zk_election_zk_requests_total";
/// Counter: sessions established.
pub const SESSIONS_ESTABLISHED: &str = "zk_election_sessions_established_total";
/// Counter: session suspensions.
pub const SESSION_SUSPENSIONS: &str = "zk_election_session_suspensions_total";
/// Counter: reconnects within the same session.
pub const SESSION_RECONNECTS: &str = "zk_election_session_reconnects_total";
/// Counter: sessions lost.
pub const SESSIONS_LOST: &str = "zk_election_sessions_lost_total";
/// Counter: a leader found the leader node naming another leader.
pub const CONFLICTS: &str = "zk_election_leader_conflicts_total";
/// Counter: terms that began while a retriever watched.
pub const TRANSITIONS: &str = "zk_election_leader_transitions_total";
/// Histogram (seconds): terms seen from start to end.
pub const TENURE: &str = "zk_election_leader_tenure_seconds";
/// Gauge: the current term's fencing token.
pub const FENCING_TOKEN: &str = "zk_election_leader_fencing_token";
/// Gauge: 1 while the leader node names a leader.
pub const HAS_LEADER: &str = "zk_election_has_leader";
/// Gauge (Unix seconds): when a connected session last vouched for the retriever's answer.
pub const LAST_CONFIRMED: &str = "zk_election_leader_last_confirmed_timestamp_seconds";

/// Histogram buckets (seconds) that suit both latencies: from a millisecond to five minutes.
pub const SECONDS_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Registers the help text and unit of every metric with the installed recorder. Does nothing
/// without the `metrics` feature.
pub fn describe() {
    #[cfg(feature = "metrics")]
    {
        use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
        describe_gauge!(IS_LEADER, "1 while this process holds a confirmed leadership for the component, else 0");
        describe_counter!(GRANTS, "Leadership grants");
        describe_counter!(REVOKES, "Revocations of a grant, confirmed or not");
        describe_counter!(REWRITES, "Rewrites of a leader node found not ours");
        describe_counter!(PUBLISH_FAILURES, "Leader-node writes that failed");
        describe_histogram!(GRANT_TO_PUBLISHED, Unit::Seconds, "From a grant to its first published leader node");
        describe_histogram!(
            LEADERLESS,
            Unit::Seconds,
            "Time without a confirmed leader as this process sees it: from subscribe or revoke until its next publish"
        );
        describe_counter!(ZK_REQUESTS, "Requests to ZooKeeper, by kind");
        describe_counter!(SESSIONS_ESTABLISHED, "ZooKeeper sessions established");
        describe_counter!(SESSION_SUSPENSIONS, "Connections lost with the session possibly alive");
        describe_counter!(SESSION_RECONNECTS, "Connections regained within the same session");
        describe_counter!(SESSIONS_LOST, "ZooKeeper sessions lost");
        describe_counter!(CONFLICTS, "Times this process, leading, found the leader node naming another leader");
        describe_counter!(TRANSITIONS, "Leadership terms that began while a retriever watched");
        describe_histogram!(TENURE, Unit::Seconds, "Length of the leadership terms a retriever saw begin and end");
        describe_gauge!(FENCING_TOKEN, "Fencing token of the current leadership term");
        describe_gauge!(HAS_LEADER, "1 while the leader node names a leader, 0 while it is vacant");
        describe_gauge!(
            LAST_CONFIRMED,
            Unit::Seconds,
            "Unix time at which a connected session last vouched for the retriever's answer"
        );
    }
}

/// What one contender's metrics need between events: its labels and the moments its latencies
/// count from. Empty without the `metrics` feature. Dropping it (the supervisor ends) sets
/// `zk_election_is_leader` to 0.
#[derive(Debug)]
pub(crate) struct ContenderMeter {
    #[cfg(feature = "metrics")]
    labels: [metrics::Label; 2],
    /// The grant whose first publish is still to come.
    #[cfg(feature = "metrics")]
    granted_at: Option<Instant>,
    /// Since when this process has had no confirmed leadership for the component.
    #[cfg(feature = "metrics")]
    leaderless_since: Option<Instant>,
}

impl ContenderMeter {
    /// A contender of `component` subscribed to the election at `latch_path`: not leading.
    pub(crate) fn new(latch_path: &str, component: &str) -> ContenderMeter {
        #[cfg(feature = "metrics")]
        {
            let meter = ContenderMeter {
                labels: [
                    metrics::Label::new("latch_path", latch_path.to_owned()),
                    metrics::Label::new("component", component.to_owned()),
                ],
                granted_at: None,
                leaderless_since: Some(Instant::now()),
            };
            meter.set_leader(false);
            meter
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = (latch_path, component);
            ContenderMeter {}
        }
    }

    #[cfg(feature = "metrics")]
    fn set_leader(&self, leader: bool) {
        metrics::gauge!(IS_LEADER, self.labels.iter()).set(if leader { 1.0 } else { 0.0 });
    }

    /// Leadership granted.
    pub(crate) fn granted(&mut self) {
        #[cfg(feature = "metrics")]
        {
            metrics::counter!(GRANTS, self.labels.iter()).increment(1);
            self.granted_at = Some(Instant::now());
        }
    }

    /// The grant confirmed: this process leads for the component.
    pub(crate) fn confirmed(&mut self) {
        #[cfg(feature = "metrics")]
        self.set_leader(true);
    }

    /// The leader node was written. The first write after a grant records its latency, and
    /// the first after a revoke (or subscribe) the time without a leader.
    pub(crate) fn published(&mut self) {
        #[cfg(feature = "metrics")]
        {
            let now = Instant::now();
            if let Some(granted_at) = self.granted_at.take() {
                metrics::histogram!(GRANT_TO_PUBLISHED, self.labels.iter()).record(now - granted_at);
            }
            if let Some(since) = self.leaderless_since.take() {
                metrics::histogram!(LEADERLESS, self.labels.iter()).record(now - since);
            }
        }
    }

    /// A grant, confirmed or not, was revoked.
    pub(crate) fn revoked(&mut self) {
        #[cfg(feature = "metrics")]
        {
            metrics::counter!(REVOKES, self.labels.iter()).increment(1);
            self.set_leader(false);
            self.granted_at = None;
            self.leaderless_since.get_or_insert_with(Instant::now);
        }
    }

    /// The election stopped: no longer leading, and nothing more to measure.
    pub(crate) fn stopped(&mut self) {
        #[cfg(feature = "metrics")]
        {
            self.set_leader(false);
            self.granted_at = None;
            self.leaderless_since = None;
        }
    }

    /// A leader-node rewrite started.
    pub(crate) fn rewrite(&self) {
        #[cfg(feature = "metrics")]
        metrics::counter!(REWRITES, self.labels.iter()).increment(1);
    }

    /// A leader-node write failed.
    pub(crate) fn publish_failed(&self) {
        #[cfg(feature = "metrics")]
        metrics::counter!(PUBLISH_FAILURES, self.labels.iter()).increment(1);
    }

    /// Leading, we found the leader node naming another leader.
    pub(crate) fn conflict(&self) {
        #[cfg(feature = "metrics")]
        metrics::counter!(CONFLICTS, self.labels.iter()).increment(1);
    }
}

/// What a leader retriever records: the terms it sees and how current its answer is. Empty
/// without the `metrics` feature.
#[derive(Debug)]
pub(crate) struct ObserverMeter {
    #[cfg(feature = "metrics")]
    labels: [metrics::Label; 1],
}

impl ObserverMeter {
    /// A retriever of the leader node at `leader_path`.
    pub(crate) fn new(leader_path: &str) -> ObserverMeter {
        #[cfg(feature = "metrics")]
        {
            ObserverMeter { labels: [metrics::Label::new("leader_path", leader_path.to_owned())] }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = leader_path;
            ObserverMeter {}
        }
    }

    /// A term began (`first`: the one found at start-up, no transition), ending one that
    /// lasted `ended_tenure` if its start was seen.
    pub(crate) fn term_began(
        &self,
        first: bool,
        ended_tenure: Option<std::time::Duration>,
        fencing_token: Option<i64>,
    ) {
        #[cfg(feature = "metrics")]
        {
            if !first {
                metrics::counter!(TRANSITIONS, self.labels.iter()).increment(1);
            }
            if let Some(tenure) = ended_tenure {
                metrics::histogram!(TENURE, self.labels.iter()).record(tenure);
            }
            if let Some(token) = fencing_token {
                // A zxid fits a double exactly below 2^53, which is past any real ensemble's.
                metrics::gauge!(FENCING_TOKEN, self.labels.iter()).set(token as f64);
            }
            metrics::gauge!(HAS_LEADER, self.labels.iter()).set(1.0);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (first, ended_tenure, fencing_token);
    }

    /// The leader node names nobody; the term that ended lasted `tenure`, if its start was seen.
    pub(crate) fn vacant(&self, tenure: Option<std::time::Duration>) {
        #[cfg(feature = "metrics")]
        {
            if let Some(tenure) = tenure {
                metrics::histogram!(TENURE, self.labels.iter()).record(tenure);
            }
            metrics::gauge!(HAS_LEADER, self.labels.iter()).set(0.0);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = tenure;
    }

    /// A connected session vouches for the answer now.
    pub(crate) fn confirmed(&self) {
        #[cfg(feature = "metrics")]
        {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            metrics::gauge!(LAST_CONFIRMED, self.labels.iter()).set(now.as_secs_f64());
        }
    }
}

#[cfg(feature = "metrics")]
impl Drop for ContenderMeter {
    fn drop(&mut self) {
        self.set_leader(false);
    }
}

/// The session served a request of `kind`.
pub(crate) fn zk_request(kind: RequestKind) {
    #[cfg(feature = "metrics")]
    metrics::counter!(ZK_REQUESTS, "kind" => kind.name()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = kind;
}

/// The session announced `state`.
pub(crate) fn connection_state(state: ConnectionState) {
    #[cfg(feature = "metrics")]
    {
        let name = match state {
            ConnectionState::Connected | ConnectionState::Reconnected { same_session: false } => SESSIONS_ESTABLISHED,
            ConnectionState::Reconnected { same_session: true } => SESSION_RECONNECTS,
            ConnectionState::Suspended => SESSION_SUSPENSIONS,
            ConnectionState::Lost => SESSIONS_LOST,
        };
        metrics::counter!(name).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = state;
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    /// Every event lands under its name and labels (a local recorder: no global state).
    #[test]
    fn a_leadership_as_the_exporter_renders_it() {
        let recorder = PrometheusBuilder::new().set_buckets(SECONDS_BUCKETS).unwrap().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe();
            let mut meter = ContenderMeter::new("/l", "c");
            meter.granted();
            meter.confirmed();
            meter.published();
            meter.published(); // a rewrite: no second latency
            meter.rewrite();
            meter.publish_failed();
            zk_request(RequestKind::GetChildren);
            connection_state(ConnectionState::Suspended);
            let rendered = handle.render();
            assert!(rendered.contains(r#"zk_election_is_leader{latch_path="/l",component="c"} 1"#), "{rendered}");
            assert!(rendered.contains(r#"zk_election_grants_total{latch_path="/l",component="c"} 1"#));
            assert!(rendered.contains(r#"zk_election_leader_node_rewrites_total{latch_path="/l",component="c"} 1"#));
            assert!(rendered.contains(r#"zk_election_publish_failures_total{latch_path="/l",component="c"} 1"#));
            assert!(
                rendered.contains(r#"zk_election_grant_to_published_seconds_count{latch_path="/l",component="c"} 1"#)
            );
            assert!(rendered.contains(r#"zk_election_leaderless_seconds_count{latch_path="/l",component="c"} 1"#));
            assert!(rendered.contains(r#"zk_election_zk_requests_total{kind="get_children"} 1"#));
            assert!(rendered.contains("zk_election_session_suspensions_total 1"));
            assert!(rendered.contains("# HELP zk_election_is_leader"));
            meter.revoked();
            let rendered = handle.render();
            assert!(rendered.contains(r#"zk_election_is_leader{latch_path="/l",component="c"} 0"#), "{rendered}");
            assert!(rendered.contains(r#"zk_election_revokes_total{latch_path="/l",component="c"} 1"#));
            meter.granted();
            meter.confirmed();
            drop(meter);
            let rendered = handle.render();
            assert!(rendered.contains(r#"zk_election_is_leader{latch_path="/l",component="c"} 0"#), "{rendered}");
        });
    }

    /// What an observer records, as the exporter renders it.
    #[test]
    fn terms_as_the_exporter_renders_them() {
        let recorder = PrometheusBuilder::new().set_buckets(SECONDS_BUCKETS).unwrap().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let meter = ObserverMeter::new("/p");
            meter.term_began(true, None, Some(7));
            let rendered = handle.render();
            assert!(!rendered.contains("zk_election_leader_transitions_total"), "the first term is no transition");
            assert!(rendered.contains(r#"zk_election_has_leader{leader_path="/p"} 1"#), "{rendered}");
            assert!(rendered.contains(r#"zk_election_leader_fencing_token{leader_path="/p"} 7"#), "{rendered}");
            meter.vacant(None);
            meter.term_began(false, Some(std::time::Duration::from_secs(2)), Some(9));
            meter.vacant(Some(std::time::Duration::from_secs(3)));
            meter.confirmed();
            let rendered = handle.render();
            assert!(rendered.contains(r#"zk_election_leader_transitions_total{leader_path="/p"} 1"#), "{rendered}");
            assert!(rendered.contains(r#"zk_election_leader_tenure_seconds_count{leader_path="/p"} 2"#));
            assert!(rendered.contains(r#"zk_election_leader_tenure_seconds_sum{leader_path="/p"} 5"#));
            assert!(rendered.contains(r#"zk_election_has_leader{leader_path="/p"} 0"#));
            assert!(rendered.contains(r#"zk_election_leader_fencing_token{leader_path="/p"} 9"#));
            let confirmed = rendered
                .lines()
                .find_map(|line| {
                    line.strip_prefix(r#"zk_election_leader_last_confirmed_timestamp_seconds{leader_path="/p"} "#)
                })
                .and_then(|value| value.parse::<f64>().ok())
                .expect("stamped");
            assert!(confirmed > 1.7e9, "a Unix time: {confirmed}");
        });
    }
}
