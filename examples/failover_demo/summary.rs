//! The summary printed at the end: both failovers, every confirmed leadership, and the check
//! that no two of them overlapped.

use std::time::Duration;

use crate::timeline::Timeline;

/// A leadership change the script caused.
pub struct Failover {
    pub cause: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    /// From the step to the successor's leader node being visible to the observer.
    pub took: Duration,
    /// Anything else worth saying about it.
    pub detail: String,
}

/// What the script found out.
pub struct Summary {
    pub failovers: Vec<Failover>,
}

impl Summary {
    /// Prints the summary; answers the number of overlapping confirmed-leadership intervals.
    pub fn print(&self, timeline: &Timeline) -> usize {
        println!("\nsummary");
        println!("  failovers (from the step to the successor's leader node seen by the observer):");
        for (i, f) in self.failovers.iter().enumerate() {
            let route = format!("{} → {}", f.from, f.to);
            let line = format!("    {}. {:<11} {route:<16} {:>5} ms  {}", i + 1, f.cause, f.took.as_millis(), f.detail);
            println!("{}", line.trim_end());
        }
        let intervals = &timeline.state.intervals;
        println!("  confirmed leadership (confirm → revoke/stop):");
        for (who, from, to) in intervals {
            println!("    {who:<8} {} .. {}", timeline.stamp(*from), timeline.stamp(*to));
        }
        let mut overlaps = 0;
        for (i, (a, a_from, a_to)) in intervals.iter().enumerate() {
            for (b, b_from, b_to) in &intervals[i + 1..] {
                if a != b && a_from < b_to && b_from < a_to {
                    overlaps += 1;
                    println!("    OVERLAP: {a} and {b}");
                }
            }
        }
        println!("  overlaps of confirmed leaders: {overlaps}");
        overlaps
    }
}
