//! The session's timing, all derived from two figures: the connection timeout the client was
//! built with and the session timeout the server granted. The client's own rules (ticks,
//! pings, when it gives a connection up) are mirrored here so that `Lost` and the lease can be
//! placed no later than the server could expire the session.

use std::time::Duration;

/// Idle time after which the client concludes the connection is dead. A third of the
/// session timeout leaves time for two reconnect attempts before the server expires us.
pub(super) fn connection_timeout(session_timeout: Duration) -> Duration {
    session_timeout / 3
}

/// The client's tick, mirroring zookeeper-client: `connection_timeout / 8`, or
/// `negotiated / 20` when the connection timeout exceeds 3/5 of the negotiated session
/// timeout.
pub(super) fn client_tick(connection_timeout: Duration, negotiated: Duration) -> Duration {
    let tick = if connection_timeout > negotiated * 3 / 5 { negotiated / 20 } else { connection_timeout / 8 };
    tick.max(Duration::from_millis(1))
}

/// How long before a moment at which the client still held its connection the server may
/// last have heard from us, at most. The client reports `Disconnected` once it has heard
/// nothing for 8 ticks, checked on a tick (9 ticks after its last receive); and the server
/// counts from the last packet it *received* from us, which can be older than our last
/// receive (a notification, or the answer to a ping sent earlier): the client sends a ping
/// after 3 idle ticks, so that is at most 3 ticks more. 12 ticks in all.
pub(super) fn silence_before_suspended(connection_timeout: Duration, negotiated: Duration) -> Duration {
    client_tick(connection_timeout, negotiated) * 12
}

/// How long after `Suspended` we declare `Lost`: the server expires the session one
/// negotiated timeout after it last heard from us, which was at most
/// [`silence_before_suspended`] before we noticed. (A process paused in between
/// notices late; its leaders rely on the lease, not on this timer.)
pub(super) fn lost_after(connection_timeout: Duration, negotiated: Duration) -> Duration {
    negotiated.saturating_sub(silence_before_suspended(connection_timeout, negotiated)).max(Duration::from_millis(1))
}

/// How long the lease lasts after a moment the client was known to hold its connection:
/// the server keeps the session one negotiated timeout after it last heard from us, which
/// was at most [`silence_before_suspended`] before; one tick less for the time our
/// actor takes to hear of a disconnect the client already decided.
pub(super) fn lease_span(connection_timeout: Duration, negotiated: Duration) -> Duration {
    let tick = client_tick(connection_timeout, negotiated);
    negotiated.saturating_sub(silence_before_suspended(connection_timeout, negotiated) + tick)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn lost_is_declared_no_later_than_the_server_expires_the_session() {
        let s = Duration::from_secs(1);
        let connect = connection_timeout;
        for (asked, negotiated) in [(s, 3 * s), (2 * s, 2 * s), (10 * s, 2 * s), (6 * s, 6 * s), (4 * s, 40 * s)] {
            let silence = silence_before_suspended(connect(asked), negotiated);
            assert_eq!(silence + lost_after(connect(asked), negotiated), negotiated, "{asked:?} → {negotiated:?}");
            let tick = client_tick(connect(asked), negotiated);
            assert_eq!(silence + tick + lease_span(connect(asked), negotiated), negotiated);
        }
        // The client ticks every connection_timeout / 8 (1 s / 8 here).
        assert_eq!(client_tick(connect(3 * s), 3 * s), 125 * MS);
        // Asked 10 s, granted 2 s: the asked connection timeout (3.3 s) exceeds 3/5 of the
        // grant, so the client ticks every 2 s / 20 instead.
        assert_eq!(client_tick(connect(10 * s), 2 * s), 100 * MS);
        // Asked 1 s, granted 3 s: the tick follows the asked connection timeout (333 ms).
        assert_eq!(client_tick(connect(s), 3 * s), s / 3 / 8);
        // The chaos suite's 2 s: Lost one second after Suspended; a lease of 11/24 of it.
        assert_eq!(lost_after(connect(2 * s), 2 * s), 2 * s - (2 * s / 3 / 8) * 12);
        assert_eq!(lease_span(connect(2 * s), 2 * s), 2 * s - (2 * s / 3 / 8) * 13);
    }
}
