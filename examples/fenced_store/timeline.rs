//! The timeline: every line the example prints, stamped with the milliseconds since start.

use std::fmt::Display;
use std::io::Write as _;
use std::time::Instant;

/// The timeline's clock; every line goes to stdout.
#[derive(Clone, Copy)]
pub struct Timeline {
    pub t0: Instant,
}

impl Timeline {
    pub fn log(&self, who: &str, what: impl Display) {
        self.line(who, what, None);
    }

    pub fn log_token(&self, who: &str, what: impl Display, token: i64) {
        self.line(who, what, Some(token));
    }

    fn line(&self, who: &str, what: impl Display, token: Option<i64>) {
        // Stamped under stdout's lock: lines from the arbiters' threads come out in time order.
        let mut out = std::io::stdout().lock();
        let at = self.t0.elapsed().as_millis();
        let what = what.to_string();
        let _ = match token {
            Some(token) => writeln!(out, "+{at:>5} ms  {who:<6} {what:<48} token {token}"),
            None => writeln!(out, "+{at:>5} ms  {who:<6} {what}"),
        };
    }
}
