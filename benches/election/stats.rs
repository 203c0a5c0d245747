//! Statistics and reporting: samples in milliseconds with their percentiles, the table rows a
//! figure produces, and the markdown table they make.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Milliseconds, sorted on demand.
#[derive(Clone, Debug, Default)]
pub(crate) struct Samples(pub(crate) Vec<f64>);

impl Samples {
    pub(crate) fn push(&mut self, duration: Duration) {
        self.0.push(duration.as_secs_f64() * 1000.0);
    }

    pub(crate) fn push_ms(&mut self, ms: f64) {
        self.0.push(ms);
    }

    fn sorted(&self) -> Vec<f64> {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
    }

    /// Nearest-rank percentile (p50 of 100 samples is the 50th smallest).
    pub(crate) fn percentile(&self, p: f64) -> f64 {
        let sorted = self.sorted();
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
        sorted[rank.min(sorted.len()) - 1]
    }

    pub(crate) fn median(&self) -> f64 {
        let sorted = self.sorted();
        match sorted.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    pub(crate) fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    pub(crate) fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn summary(&self) -> Value {
        json!({
            "n": self.len(),
            "min": round3(self.min()),
            "p50": round3(self.percentile(50.0)),
            "p90": round3(self.percentile(90.0)),
            "p99": round3(self.percentile(99.0)),
            "max": round3(self.max()),
            "median": round3(self.median()),
        })
    }
}

pub(crate) fn round3(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 1000.0).round() / 1000.0)
    } else {
        Value::Null
    }
}

/// Whether a figure met its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Met,
    Missed,
    /// No target: context for the others.
    Info,
}

/// One line of the table.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    figure: String,
    value: String,
    target: String,
    verdict: Verdict,
}

/// What one figure produced: table rows and its JSON record.
pub(crate) struct Outcome {
    pub(crate) rows: Vec<Row>,
    pub(crate) json: Value,
}

pub(crate) fn row(figure: &str, value: String, target: &str, met: Option<bool>) -> Row {
    let verdict = match met {
        Some(true) => Verdict::Met,
        Some(false) => Verdict::Missed,
        None => Verdict::Info,
    };
    Row { figure: figure.to_owned(), value, target: target.to_owned(), verdict }
}

pub(crate) fn since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

pub(crate) fn table(rows: &[Row]) -> String {
    let mut out = String::from("| figure | value | target | |\n|---|---|---|---|\n");
    for r in rows {
        let verdict = match r.verdict {
            Verdict::Met => "met",
            Verdict::Missed => "**missed**",
            Verdict::Info => "",
        };
        let _ = writeln!(out, "| `{}` | {} | {} | {} |", r.figure, r.value, r.target, verdict);
    }
    out
}
