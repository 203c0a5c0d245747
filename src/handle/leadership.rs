//! What an [`ElectionHandle`](super::ElectionHandle)'s contender holds, and who confirms its
//! grants.

use uuid::Uuid;

#[cfg(doc)]
use super::ElectionHandle;

/// What an [`ElectionHandle`]'s contender holds, as its [`ElectionHandle::leadership`] watch
/// tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leadership {
    /// Not leading: not first in the latch yet, revoked, or (with [`ConfirmMode::Auto`]) granted
    /// and still confirming.
    Follower,
    /// Only with [`ConfirmMode::Explicit`]: leadership is granted and waits for
    /// [`ElectionHandle::confirm`] with this leader session. Do not act as leader yet.
    Granted {
        /// The leader session to confirm.
        leader_session: Uuid,
        /// The fencing token the leadership will have.
        fencing_token: i64,
    },
    /// The supervisor accepted the confirm of this leader session: the contender leads. From
    /// here on [`ElectionHandle::leader_write`], [`ElectionHandle::prove_leadership`] and
    /// [`ElectionHandle::fencing_token`] answer for this leadership, and every system written to
    /// should be handed `fencing_token`.
    Leading {
        /// The confirmed leader session.
        leader_session: Uuid,
        /// This leadership's fencing token: larger than any earlier leader's.
        fencing_token: i64,
        /// Whether the leader node was written (at least once) with this leadership, so that
        /// leader retrieval finds it. Becomes `true` in a second change of the watch.
        published: bool,
    },
    /// The handle was shut down (or dropped, or its actor thread ended): the contender no longer
    /// takes part, and no other value follows.
    Stopped,
}

impl Leadership {
    /// Whether this is [`Leadership::Leading`].
    pub fn is_leading(&self) -> bool {
        matches!(self, Leadership::Leading { .. })
    }

    /// The confirmed leader session, while leading.
    pub fn leader_session(&self) -> Option<Uuid> {
        match self {
            Leadership::Leading { leader_session, .. } => Some(*leader_session),
            _ => None,
        }
    }

    /// The fencing token, while leading.
    pub fn fencing_token(&self) -> Option<i64> {
        match self {
            Leadership::Leading { fencing_token, .. } => Some(*fencing_token),
            _ => None,
        }
    }
}

/// Who confirms a grant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConfirmMode {
    /// The handle confirms every grant itself; the watch goes from [`Leadership::Follower`]
    /// straight to [`Leadership::Leading`] once the supervisor accepted the confirm.
    #[default]
    Auto,
    /// The watch shows [`Leadership::Granted`], and the caller confirms with
    /// [`ElectionHandle::confirm`] when it is ready to lead (e.g. has recovered its state).
    Explicit,
}
