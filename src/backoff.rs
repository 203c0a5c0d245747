//! Capped exponential backoff with jitter: between client builds, and between retries of a
//! refused leader-node write.

use std::time::Duration;

use crate::config::Backoff;

/// Delay before attempt number `failures + 1`: `initial · 2^(failures-1)`, capped at `max`,
/// then scaled by a random factor in [0.5, 1.0] so that many processes that lost ZooKeeper at
/// the same moment do not reconnect in lockstep.
pub(crate) fn delay(policy: Backoff, failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(20);
    let base = policy.initial.saturating_mul(1u32 << exponent).min(policy.max);
    base.mul_f64(crate::random::in_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_with_jitter() {
        let policy = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(2) };
        for _ in 0..100 {
            let first = delay(policy, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let fourth = delay(policy, 4);
            assert!(fourth >= Duration::from_millis(400) && fourth <= Duration::from_millis(800), "{fourth:?}");
            let late = delay(policy, 1000);
            assert!(late >= Duration::from_secs(1) && late <= Duration::from_secs(2), "{late:?}");
        }
    }
}
