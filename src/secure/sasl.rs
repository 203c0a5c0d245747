//! SASL DIGEST-MD5 credentials.

/// A SASL DIGEST-MD5 user and password, sent at every (re)connect. The server must list the
/// user in its JAAS `Server` section (`DigestLoginModule`). Nodes the election creates are
/// then creator-only (`sasl:<user>`), as with digest auth.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslDigest {
    user: String,
    password: String,
}

impl SaslDigest {
    pub(crate) fn new(user: String, password: String) -> Self {
        SaslDigest { user, password }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

impl std::fmt::Debug for SaslDigest {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaslDigest").field("user", &self.user).finish_non_exhaustive()
    }
}
