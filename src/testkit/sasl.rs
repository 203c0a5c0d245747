//! SASL DIGEST-MD5 users for test servers: the JAAS file and the JVM properties that make
//! ZooKeeper authenticate clients with them, and optionally refuse the others.

use std::path::Path;

use super::TestkitError;

/// File name of the JAAS configuration inside the server's directory.
pub(crate) const JAAS_FILE: &str = "jaas.conf";

/// What the builders collect about SASL.
#[derive(Debug, Clone, Default)]
pub(crate) struct SaslSetup {
    /// `(user, password)` pairs, in the order given.
    pub(crate) users: Vec<(String, String)>,
    /// Whether to refuse clients that did not authenticate with SASL.
    pub(crate) enforce: bool,
}

impl SaslSetup {
    /// Whether the server needs a JAAS file at all.
    pub(crate) fn is_enabled(&self) -> bool {
        !self.users.is_empty() || self.enforce
    }

    /// Checks what a JAAS file cannot express: user names become the option names
    /// `user_<name>`, which JAAS' parser reads as one word.
    ///
    /// # Notable errors
    /// * [`TestkitError::InvalidOption`] for an empty user name or one with other characters
    ///   than ASCII letters, digits, `_` and `-`.
    pub(crate) fn validate(&self) -> Result<(), TestkitError> {
        for (user, _) in &self.users {
            let word_like = !user.is_empty() && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !word_like {
                return Err(TestkitError::InvalidOption {
                    option: "sasl_user".to_owned(),
                    reason: format!("user name {user:?} must be ASCII letters, digits, `_` or `-`"),
                });
            }
        }
        Ok(())
    }

    /// The JAAS configuration: a `Server` section with ZooKeeper's DIGEST-MD5 login module and
    /// one `user_<name>="<password>"` option per user.
    pub(crate) fn jaas(&self) -> String {
        let mut text = String::from("Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required");
        for (user, password) in &self.users {
            text.push_str(&format!("\n    user_{user}=\"{}\"", escape(password)));
        }
        text.push_str(";\n};\n");
        text
    }

    /// The JVM arguments for a server whose JAAS file is at `jaas`.
    ///
    /// `java.security.auth.login.config` gives the server its SASL users; the
    /// `zookeeper.authProvider.*` property registers the `sasl` scheme (for `sasl:` ACLs and
    /// enforcement). With `enforce`, `zookeeper.enforce.auth.enabled` and
    /// `zookeeper.enforce.auth.schemes=sasl` (ZooKeeper 3.7+) make the server answer the
    /// first request of a client that has not authenticated with SASL with
    /// `SESSIONCLOSEDREQUIRESASLAUTH` (-124) and close its session.
    pub(crate) fn jvm_args(&self, jaas: &Path) -> Vec<String> {
        let mut args = vec![
            format!("-Djava.security.auth.login.config={}", jaas.display()),
            "-Dzookeeper.authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider".to_owned(),
        ];
        if self.enforce {
            args.push("-Dzookeeper.enforce.auth.enabled=true".to_owned());
            args.push("-Dzookeeper.enforce.auth.schemes=sasl".to_owned());
        }
        args
    }
}

/// Escapes a JAAS quoted string: JAAS reads `\` as an escape character.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaas_lists_every_user_with_escaped_passwords() {
        let setup = SaslSetup {
            users: vec![("alice".to_owned(), "secret".to_owned()), ("bob".to_owned(), r#"a"b\c"#.to_owned())],
            enforce: true,
        };
        assert_eq!(
            setup.jaas(),
            "Server {\n    org.apache.zookeeper.server.auth.DigestLoginModule required\n    \
             user_alice=\"secret\"\n    user_bob=\"a\\\"b\\\\c\";\n};\n"
        );
        let args = setup.jvm_args(Path::new("/d/jaas.conf"));
        assert_eq!(args[0], "-Djava.security.auth.login.config=/d/jaas.conf");
        assert!(args.contains(&"-Dzookeeper.enforce.auth.schemes=sasl".to_owned()), "{args:?}");
    }

    #[test]
    fn user_names_must_be_jaas_words() {
        let ok = SaslSetup { users: vec![("svc-1_a".to_owned(), String::new())], enforce: false };
        assert!(ok.validate().is_ok());
        for bad in ["", "a b", "x=y", "ü"] {
            let setup = SaslSetup { users: vec![(bad.to_owned(), "pw".to_owned())], enforce: false };
            assert!(matches!(setup.validate(), Err(TestkitError::InvalidOption { .. })), "{bad:?}");
        }
    }
}
