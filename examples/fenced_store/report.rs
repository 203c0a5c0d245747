//! What the actors tell the script: the store's decision on each write, and each revocation.

/// What the actors tell the script, so it can wait for the scenario's steps.
#[derive(Debug)]
pub enum Report {
    /// The store decided on a write.
    Decided { writer: &'static str, token: i64, outcome: Result<(), Rejected> },
    /// A contender was revoked.
    Revoked { who: &'static str },
}

/// A refused write, with the highest token the store has seen.
#[derive(Clone, Copy, Debug)]
pub struct Rejected {
    pub highest: i64,
}
