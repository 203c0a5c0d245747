//! The report: per setup, a markdown table of every peer's figures and one of the ratios the
//! targets are about, printed and written to `target/bench/peers.json` with every summary.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::schedule::{Figures, Warmup};
use crate::setups::Kind;
use crate::stats::{round3, Samples};

/// What one setup produced.
pub(crate) struct SetupResult {
    pub(crate) kind: Kind,
    pub(crate) servers: Value,
    pub(crate) warmup: Option<Warmup>,
    /// Every selected peer: its figures, or why it did not run.
    pub(crate) peers: Vec<(&'static str, Result<Figures, String>)>,
    /// Why the setup itself did not run.
    pub(crate) error: Option<String>,
}

/// A ratio of two peers' medians, with a target on the clean handover's.
struct Ratio {
    name: &'static str,
    over: &'static str,
    under: &'static str,
    /// The handover ratio must be at most this (`Some(true)`) or at least (`Some(false)`).
    target: Option<(f64, bool)>,
    target_text: &'static str,
}

const RATIOS: [Ratio; 3] = [
    Ratio {
        name: "zk-elect / curator",
        over: "zk-elect",
        under: "curator",
        target: Some((0.25, true)),
        target_text: "≤ 0.25",
    },
    Ratio {
        name: "zk-elect / etcd", over: "zk-elect", under: "etcd", target: Some((1.0, true)), target_text: "≤ 1.0"
    },
    Ratio {
        name: "library / zk-elect",
        over: "library",
        under: "zk-elect",
        target: Some((1.0 / 1.5, false)),
        target_text: "≥ 0.67 (zk-elect ≤ 1.5 × library)",
    },
];

impl SetupResult {
    fn figures(&self, name: &str) -> Option<&Figures> {
        self.peers.iter().find(|(n, _)| *n == name).and_then(|(_, f)| f.as_ref().ok())
    }

    fn ratio(&self, over: &str, under: &str, pick: fn(&Figures) -> &Samples) -> Option<f64> {
        let (a, b) = (pick(self.figures(over)?).median(), pick(self.figures(under)?).median());
        (a.is_finite() && b.is_finite() && b > 0.0).then(|| a / b)
    }

    /// The markdown of this setup: the peers' table, then the ratios'.
    pub(crate) fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n", self.kind.name());
        if let Some(err) = &self.error {
            let _ = writeln!(out, "not run: {err}");
            return out;
        }
        let zk = &self.servers["zookeeper"];
        let etcd = match self.servers["etcd"]["members"].as_u64() {
            Some(n) => format!("etcd: {n} member(s), --unsafe-no-fsync, data on tmpfs"),
            None => format!("etcd: {}", self.servers["etcd"]["error"].as_str().unwrap_or("?")),
        };
        let _ = writeln!(
            out,
            "ZooKeeper {}: {} server(s), forceSync=no · {etcd} · all on 127.0.0.1",
            zk["version"].as_str().unwrap_or("?"),
            zk["members"],
        );
        if let Some(w) = &self.warmup {
            let _ = writeln!(
                out,
                "warm-up (not measured): {} back-to-back in-process rounds, then {} rounds of every peer, {:.1} s\n",
                w.burst_rounds, w.rounds, w.seconds
            );
        }
        out.push_str("| peer | clean handover p50 / p90 ms | successor granted p50 ms | first leader p50 / p90 ms | first granted p50 ms | samples |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for (name, figures) in &self.peers {
            match figures {
                Ok(f) => {
                    let _ = writeln!(
                        out,
                        "| {name} | {} | {} | {} | {} | {}{} |",
                        p50_p90(&f.handover),
                        p50(&f.handover_granted),
                        p50_p90(&f.first_leader),
                        p50(&f.first_granted),
                        f.handover.len(),
                        f.dropped.as_ref().map_or(String::new(), |why| format!(" (dropped: {why})")),
                    );
                }
                Err(why) => {
                    let _ = writeln!(out, "| {name} | skipped: {why} | | | | |");
                }
            }
        }
        out.push_str(
            "\n| ratio of medians | clean handover | first leader | target (handover) | |\n|---|---|---|---|---|\n",
        );
        for r in &RATIOS {
            let handover = self.ratio(r.over, r.under, |f| &f.handover);
            let first = self.ratio(r.over, r.under, |f| &f.first_leader);
            let verdict = match (handover, r.target) {
                (Some(x), Some((bound, true))) => verdict(x <= bound),
                (Some(x), Some((bound, false))) => verdict(x >= bound),
                _ => "",
            };
            let _ =
                writeln!(out, "| {} | {} | {} | {} | {verdict} |", r.name, fmt(handover), fmt(first), r.target_text);
        }
        out
    }

    pub(crate) fn json(&self) -> Value {
        let peers: serde_json::Map<String, Value> = self
            .peers
            .iter()
            .map(|(name, f)| {
                let value = match f {
                    Ok(f) => f.json(),
                    Err(why) => json!({ "skipped": why }),
                };
                ((*name).to_owned(), value)
            })
            .collect();
        let ratios: serde_json::Map<String, Value> = RATIOS
            .iter()
            .map(|r| {
                let handover = self.ratio(r.over, r.under, |f| &f.handover);
                let first = self.ratio(r.over, r.under, |f| &f.first_leader);
                let met = match (handover, r.target) {
                    (Some(x), Some((bound, true))) => Some(x <= bound),
                    (Some(x), Some((bound, false))) => Some(x >= bound),
                    _ => None,
                };
                let value = json!({
                    "clean_handover": handover.map(round3),
                    "first_leader": first.map(round3),
                    "target_clean_handover": r.target_text,
                    "met": met,
                });
                (r.name.to_owned(), value)
            })
            .collect();
        json!({
            "servers": self.servers,
            "warmup": self.warmup.as_ref().map(Warmup::json),
            "peers": peers,
            "ratios_of_medians": ratios,
            "error": self.error,
        })
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

fn fmt(ratio: Option<f64>) -> String {
    ratio.map_or("–".to_owned(), |r| format!("{r:.2}"))
}

fn p50(s: &Samples) -> String {
    if s.len() == 0 {
        "–".to_owned()
    } else {
        format!("{:.2}", s.median())
    }
}

fn p50_p90(s: &Samples) -> String {
    if s.len() == 0 {
        "–".to_owned()
    } else {
        format!("{:.2} / {:.2}", s.median(), s.percentile(90.0))
    }
}
