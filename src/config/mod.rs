//! Configuration of the ZooKeeper session, validated before anything connects.

use std::time::Duration;

use crate::error::ConfigError;

/// Default session timeout asked of ZooKeeper (the server may negotiate another one).
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// Default deadline of every request the session actor runs.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Smallest session timeout we ask for. Below it the server raises the timeout to its own
/// minimum anyway (2 ticks, 4 s by default), while timers derived from the request would be
/// far too short: leadership flapped on idle connections.
pub const MIN_SESSION_TIMEOUT: Duration = Duration::from_secs(1);
/// Largest session timeout ZooKeeper's protocol carries: a signed 32-bit count of milliseconds
/// (about 24.8 days). Larger values used to wrap around.
pub const MAX_SESSION_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// Checks that `timeout` can be asked of ZooKeeper: a whole number of milliseconds in
/// [`MIN_SESSION_TIMEOUT`]`..=`[`MAX_SESSION_TIMEOUT`].
///
/// # Errors
/// [`ConfigError::ZeroTimeout`], [`ConfigError::SessionTimeoutTooShort`],
/// [`ConfigError::SessionTimeoutTooLong`] or [`ConfigError::SessionTimeoutFraction`].
pub fn validate_session_timeout(timeout: Duration) -> Result<(), ConfigError> {
    if timeout.is_zero() {
        return Err(ConfigError::ZeroTimeout { what: "session timeout" });
    }
    if timeout < MIN_SESSION_TIMEOUT {
        return Err(ConfigError::SessionTimeoutTooShort { requested: timeout, min: MIN_SESSION_TIMEOUT });
    }
    if timeout > MAX_SESSION_TIMEOUT {
        return Err(ConfigError::SessionTimeoutTooLong { requested: timeout, max: MAX_SESSION_TIMEOUT });
    }
    // The client sends `as_millis()`: a fraction would be dropped without a word.
    if !timeout.subsec_nanos().is_multiple_of(1_000_000) {
        return Err(ConfigError::SessionTimeoutFraction { requested: timeout });
    }
    Ok(())
}

mod election;
mod session;

pub use election::*;
pub use session::*;
