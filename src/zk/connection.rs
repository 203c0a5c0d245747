//! Connection states in Apache Curator's words.

/// Connection state as the recipes see it (Apache Curator's vocabulary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// The first session of this actor is established.
    Connected,
    /// The connection dropped; the session may still be alive on the server. Leaders that
    /// cannot tolerate uncertainty give up here.
    Suspended,
    /// The connection is back. `same_session: true` means every ephemeral node and watch
    /// survived; `false` means a new session replaced a lost one (ephemerals of the old one
    /// are gone or going).
    Reconnected {
        /// Whether the session from before the outage survived.
        same_session: bool,
    },
    /// The session is gone: the server reported expiry, or no reconnect happened within the
    /// negotiated session timeout after [`ConnectionState::Suspended`]. A new session is being
    /// built.
    Lost,
}

impl ConnectionState {
    /// Whether a session is established and its connection up in this state.
    pub fn is_connected(self) -> bool {
        matches!(self, ConnectionState::Connected | ConnectionState::Reconnected { .. })
    }
}
