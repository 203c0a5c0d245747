//! Every random choice the library makes — leader session IDs, latch node prefixes, backoff
//! jitter — comes from here, so that a simulation can seed them all (`seed`, feature
//! `simulation`) and replay a run exactly. Outside a simulation the generator of each thread is
//! seeded from the operating system.

use std::cell::RefCell;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

thread_local! {
    static RNG: RefCell<StdRng> = RefCell::new(StdRng::from_entropy());
}

/// A fresh random (version 4) UUID.
pub(crate) fn uuid() -> Uuid {
    let bytes: [u8; 16] = RNG.with(|rng| rng.borrow_mut().gen());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// A number in `range`, uniformly.
pub(crate) fn in_range(range: std::ops::RangeInclusive<f64>) -> f64 {
    RNG.with(|rng| rng.borrow_mut().gen_range(range))
}

/// Seeds this thread's generator: every later choice on this thread follows from `seed`.
#[cfg(feature = "simulation")]
pub(crate) fn seed(seed: u64) {
    RNG.with(|rng| *rng.borrow_mut() = StdRng::seed_from_u64(seed));
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (super::uuid(), super::uuid());
        assert_eq!(a.get_version_num(), 4);
        assert_ne!(a, b);
    }
}
