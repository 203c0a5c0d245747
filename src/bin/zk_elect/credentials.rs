//! The flags for secured ZooKeeper: TLS files, SASL and digest users. Passwords never come from
//! an argument, which every user of the machine can read in the process list: they come from
//! an environment variable or a file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use zk_election::config::SessionConfigBuilder;
use zk_election::secure::TlsConfig;

/// Environment variable holding the SASL password of `--sasl-user`.
pub const SASL_PASSWORD_VAR: &str = "ZK_ELECT_SASL_PASSWORD";
/// Environment variable holding the digest password of `--digest-user`.
pub const DIGEST_PASSWORD_VAR: &str = "ZK_ELECT_DIGEST_PASSWORD";

/// Flags of secured connections, shared by every subcommand.
#[derive(Debug, Args)]
pub struct Credentials {
    /// Reach every server over TLS, trusting the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for servers that demand one (mutual TLS); needs --tls-key.
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    pub tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM, PKCS#8 or PKCS#1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Read the TLS files again every MS milliseconds and use changed ones for later
    /// connections (certificate rotation). Default: read once.
    #[arg(long, value_name = "MS", requires = "tls_ca", value_parser = clap::value_parser!(u64).range(1..))]
    pub tls_reload_ms: Option<u64>,
    /// Authenticate with SASL DIGEST-MD5 as USER; the password comes from $ZK_ELECT_SASL_PASSWORD
    /// or --sasl-password-file. Nodes created are then this user's alone.
    #[arg(long, value_name = "USER")]
    pub sasl_user: Option<String>,
    /// File holding the SASL password (one trailing newline is ignored).
    #[arg(long, value_name = "FILE", requires = "sasl_user")]
    pub sasl_password_file: Option<PathBuf>,
    /// Authenticate with ZooKeeper's digest scheme as USER; the password comes from
    /// $ZK_ELECT_DIGEST_PASSWORD or --digest-password-file. Nodes created are then this user's
    /// alone.
    #[arg(long, value_name = "USER", conflicts_with = "digest")]
    pub digest_user: Option<String>,
    /// File holding the digest password (one trailing newline is ignored).
    #[arg(long, value_name = "FILE", requires = "digest_user")]
    pub digest_password_file: Option<PathBuf>,
    /// Deprecated: puts the password in the process list. Use --digest-user.
    #[arg(long, value_name = "USER:PASSWORD", value_parser = digest, hide_short_help = true)]
    pub digest: Option<Digest>,
}

impl Credentials {
    /// Adds what the flags describe to `builder`; a message for clap when a password or file is
    /// missing or unreadable.
    pub fn apply(&self, builder: SessionConfigBuilder) -> Result<SessionConfigBuilder, String> {
        self.apply_with(builder, &|name| std::env::var(name).ok())
    }

    fn apply_with(
        &self,
        mut builder: SessionConfigBuilder,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<SessionConfigBuilder, String> {
        if let Some(ca) = &self.tls_ca {
            let mut tls = TlsConfig::ca_file(ca);
            if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
                tls = tls.client_identity_files(cert, key);
            }
            if let Some(ms) = self.tls_reload_ms {
                tls = tls.reload_every(Duration::from_millis(ms));
            }
            builder = builder.tls(tls);
        }
        if let Some(user) = &self.sasl_user {
            let password = password(
                "--sasl-user",
                SASL_PASSWORD_VAR,
                "--sasl-password-file",
                self.sasl_password_file.as_deref(),
                env,
            )?;
            builder = builder.sasl_digest(user, password);
        }
        if let Some(user) = &self.digest_user {
            let password = password(
                "--digest-user",
                DIGEST_PASSWORD_VAR,
                "--digest-password-file",
                self.digest_password_file.as_deref(),
                env,
            )?;
            builder = builder.digest_auth(user, password);
        } else if let Some(digest) = &self.digest {
            builder = builder.digest_auth(&digest.user, &digest.password);
        }
        Ok(builder)
    }

    /// A warning for flags that still work but should not be used.
    pub fn deprecation(&self) -> Option<&'static str> {
        self.digest.as_ref().map(|_| {
            "--digest USER:PASSWORD shows the password to every user of this machine (process list); \
             use --digest-user USER with $ZK_ELECT_DIGEST_PASSWORD or --digest-password-file"
        })
    }
}

/// The password for `flag`: from exactly one of the file and the environment variable.
fn password(
    flag: &str,
    var: &str,
    file_flag: &str,
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    match (file, env(var)) {
        (Some(_), Some(_)) => Err(format!("{flag}: the password is in both ${var} and {file_flag}; give one")),
        (Some(file), None) => {
            let text = std::fs::read_to_string(file).map_err(|err| format!("{file_flag} {}: {err}", file.display()))?;
            let text = text.strip_suffix('\n').map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
            Ok(text.to_owned())
        }
        (None, Some(password)) => Ok(password),
        (None, None) => Err(format!("{flag} needs the password in ${var} or {file_flag}")),
    }
}

/// Credentials of the deprecated `--digest`.
#[derive(Clone)]
pub struct Digest {
    user: String,
    password: String,
}

impl std::fmt::Debug for Digest {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digest").field("user", &self.user).finish_non_exhaustive()
    }
}

fn digest(value: &str) -> Result<Digest, String> {
    match value.split_once(':') {
        Some((user, password)) if !user.is_empty() => {
            Ok(Digest { user: user.to_owned(), password: password.to_owned() })
        }
        _ => Err("expected USER:PASSWORD with a non-empty user".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_election::SessionConfig;

    fn credentials() -> Credentials {
        Credentials {
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            tls_reload_ms: None,
            sasl_user: None,
            sasl_password_file: None,
            digest_user: None,
            digest_password_file: None,
            digest: None,
        }
    }

    fn applied(credentials: &Credentials, env: &dyn Fn(&str) -> Option<String>) -> Result<SessionConfig, String> {
        let builder = credentials.apply_with(SessionConfig::builder("a:1"), env)?;
        builder.build().map_err(|err| err.to_string())
    }

    #[test]
    fn passwords_come_from_the_environment_or_a_file_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let sasl = Credentials { sasl_user: Some("alice".into()), ..credentials() };
        let none = |_: &str| None;
        let some = |name: &str| (name == SASL_PASSWORD_VAR).then(|| "from-env".to_owned());
        assert!(applied(&sasl, &none).unwrap_err().contains("ZK_ELECT_SASL_PASSWORD"));
        assert_eq!(applied(&sasl, &some).map(|c| c.authenticates()), Ok(true));
        let with_file = Credentials { sasl_password_file: Some(file.clone()), ..sasl };
        assert_eq!(applied(&with_file, &none).map(|c| c.authenticates()), Ok(true));
        assert!(applied(&with_file, &some).unwrap_err().contains("both"));
        let missing = Credentials { sasl_password_file: Some(dir.path().join("nope")), ..with_file };
        assert!(applied(&missing, &none).unwrap_err().contains("--sasl-password-file"));
    }

    #[test]
    fn the_old_digest_flag_still_works_with_a_warning() {
        let old = Credentials { digest: Some(digest("alice:pa:ss").unwrap()), ..credentials() };
        assert!(old.deprecation().is_some());
        let config = applied(&old, &|_| None).unwrap();
        assert_eq!(config.auth().map(|auth| auth.user().to_owned()), Some("alice".to_owned()));
        assert!(!format!("{:?}", old.digest).contains("pa:ss"));
        let new = Credentials { digest_user: Some("bob".into()), ..credentials() };
        let env = |name: &str| (name == DIGEST_PASSWORD_VAR).then(|| "pw".to_owned());
        assert_eq!(applied(&new, &env).map(|c| c.auth().map(|a| a.user().to_owned())), Ok(Some("bob".to_owned())));
        assert!(new.deprecation().is_none());
    }

    #[test]
    fn unreadable_tls_files_are_named() {
        let tls = Credentials { tls_ca: Some(PathBuf::from("/nonexistent/ca.pem")), ..credentials() };
        let err = applied(&tls, &|_| None).unwrap_err();
        assert!(err.contains("/nonexistent/ca.pem") && err.contains("CA bundle"), "{err}");
    }
}
