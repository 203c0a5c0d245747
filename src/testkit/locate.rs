//! Finding Java and ZooKeeper's jars on this machine.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::TestkitError;

/// Environment variable holding a complete Java classpath for the ZooKeeper server; wins over
/// everything else.
pub const CLASSPATH_ENV: &str = "ZK_ELECTION_CLASSPATH";

/// Environment variable pointing at an unpacked Apache ZooKeeper release (`lib/*.jar`).
pub const ZOOKEEPER_HOME_ENV: &str = "ZOOKEEPER_HOME";

/// Where Debian/Ubuntu's `zookeeper` package puts the server jar; its manifest `Class-Path`
/// pulls in the other jars.
const DEBIAN_JAR: &str = "/usr/share/java/zookeeper.jar";

/// An slf4j binding next to the Debian jar, shipped by Debian's `libslf4j-java` (a dependency of `zookeeper`). Debian's
/// manifest classpath has only `slf4j-api`, which logs nothing; with this binding the server
/// log says why a server failed to start.
const DEBIAN_SLF4J_BINDING: &str = "slf4j-simple.jar";

/// Netty's codec jar next to the Debian jar, shipped by Debian's `libnetty-java` (a dependency
/// of `zookeeper`). The manifest classpath lacks it, but the Netty connection factory, which
/// TLS needs, does not start without it (`ByteToMessageDecoder`). Harmless for the default NIO
/// factory, so it is always added.
const DEBIAN_NETTY_CODEC: &str = "netty-codec.jar";

/// Returns the Java classpath that runs ZooKeeper's `QuorumPeerMain`.
///
/// Looked up in this order:
/// 1. `ZK_ELECTION_CLASSPATH`, used as given;
/// 2. `ZOOKEEPER_HOME` (release tarball layout): `$ZOOKEEPER_HOME/conf` (for its logging
///    configuration, if present), `$ZOOKEEPER_HOME/lib/*.jar` and `$ZOOKEEPER_HOME/*.jar`;
/// 3. Debian's `/usr/share/java/zookeeper.jar` (plus `slf4j-simple.jar` when installed, so the
///    server log is not empty, and `netty-codec.jar`, which TLS needs).
///
/// # Notable errors
/// * [`TestkitError::ZooKeeperNotFound`] when none of these exists; its message says how to
///   install ZooKeeper.
pub fn zookeeper_classpath() -> Result<String, TestkitError> {
    classpath_from(&|name| std::env::var_os(name), Path::new(DEBIAN_JAR))
}

/// Returns the `java` executable: `$JAVA_HOME/bin/java`, else `java` on `PATH`.
///
/// # Notable errors
/// * [`TestkitError::JavaNotFound`] when neither exists.
pub fn java_executable() -> Result<PathBuf, TestkitError> {
    java_from(&|name| std::env::var_os(name))
}

/// Environment lookup, injectable so tests need not mutate the process environment.
type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

fn classpath_from(env: Env<'_>, debian_jar: &Path) -> Result<String, TestkitError> {
    let mut searched = Vec::new();

    if let Some(cp) = env(CLASSPATH_ENV).filter(|v| !v.is_empty()) {
        return Ok(cp.to_string_lossy().into_owned());
    }
    searched.push(format!("${CLASSPATH_ENV} (unset)"));

    if let Some(home) = env(ZOOKEEPER_HOME_ENV).filter(|v| !v.is_empty()) {
        let home = PathBuf::from(home);
        if let Some(classpath) = home_classpath(&home) {
            return Ok(classpath);
        }
        searched.push(format!("${ZOOKEEPER_HOME_ENV}={} (no zookeeper*.jar in lib/ or at the top)", home.display()));
    } else {
        searched.push(format!("${ZOOKEEPER_HOME_ENV} (unset)"));
    }

    if debian_jar.is_file() {
        let mut entries = vec![debian_jar.to_path_buf()];
        for extra in [DEBIAN_SLF4J_BINDING, DEBIAN_NETTY_CODEC] {
            let jar = debian_jar.with_file_name(extra);
            if jar.is_file() {
                entries.push(jar);
            }
        }
        return Ok(join_classpath(&entries));
    }
    searched.push(debian_jar.display().to_string());

    Err(TestkitError::ZooKeeperNotFound { searched: searched.join(", ") })
}

/// The classpath of the ZooKeeper release unpacked at `home` (the `ZOOKEEPER_HOME` layout),
/// for one server that runs another release than the one found by [`zookeeper_classpath`].
///
/// # Notable errors
/// * [`TestkitError::ZooKeeperNotFound`] when `home` holds no `zookeeper*.jar`.
pub(crate) fn classpath_of_home(home: &Path) -> Result<String, TestkitError> {
    home_classpath(home).ok_or_else(|| TestkitError::ZooKeeperNotFound {
        searched: format!("{} (no zookeeper*.jar in lib/ or at the top)", home.display()),
    })
}

/// `$home/conf` (for its logging configuration, if present), `$home/lib/*.jar` and
/// `$home/*.jar`, if one of the jars is ZooKeeper's.
fn home_classpath(home: &Path) -> Option<String> {
    let mut entries = Vec::new();
    let conf = home.join("conf");
    let mut jars = jars_in(&home.join("lib"));
    jars.extend(jars_in(home));
    let has_zookeeper =
        jars.iter().any(|jar| jar.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("zookeeper")));
    if !has_zookeeper {
        return None;
    }
    if conf.is_dir() {
        entries.push(conf);
    }
    entries.extend(jars);
    Some(join_classpath(&entries))
}

fn java_from(env: Env<'_>) -> Result<PathBuf, TestkitError> {
    let mut searched = Vec::new();
    if let Some(home) = env("JAVA_HOME").filter(|v| !v.is_empty()) {
        let java = PathBuf::from(home).join("bin").join("java");
        if is_executable(&java) {
            return Ok(java);
        }
        searched.push(java.display().to_string());
    } else {
        searched.push("$JAVA_HOME (unset)".to_owned());
    }
    if let Some(path) = env("PATH") {
        for dir in std::env::split_paths(&path) {
            let java = dir.join("java");
            if is_executable(&java) {
                return Ok(java);
            }
        }
    }
    searched.push("java on $PATH".to_owned());
    Err(TestkitError::JavaNotFound { searched: searched.join(", ") })
}

/// The `*.jar` files directly in `dir`, sorted by name so the classpath is reproducible.
fn jars_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut jars: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "jar") && path.is_file())
        .collect();
    jars.sort();
    jars
}

fn join_classpath(entries: &[PathBuf]) -> String {
    entries.iter().map(|p| p.to_string_lossy().into_owned()).collect::<Vec<_>>().join(":")
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> {
        let vars: HashMap<String, OsString> =
            vars.iter().map(|(k, v)| (k.to_string(), v.as_os_str().to_owned())).collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn explicit_classpath_wins() {
        let e = env(&[(CLASSPATH_ENV, Path::new("/a.jar:/b.jar")), (ZOOKEEPER_HOME_ENV, Path::new("/x"))]);
        let cp = classpath_from(&e, Path::new("/nonexistent/zookeeper.jar")).expect("classpath");
        assert_eq!(cp, "/a.jar:/b.jar");
    }

    #[test]
    fn zookeeper_home_uses_tarball_layout() -> std::io::Result<()> {
        let home = tempfile::tempdir()?;
        std::fs::create_dir(home.path().join("lib"))?;
        std::fs::create_dir(home.path().join("conf"))?;
        std::fs::write(home.path().join("lib/zookeeper-3.8.0.jar"), b"")?;
        std::fs::write(home.path().join("lib/netty.jar"), b"")?;
        std::fs::write(home.path().join("lib/README.txt"), b"")?;
        std::fs::write(home.path().join("zookeeper-extra.jar"), b"")?;
        let e = env(&[(ZOOKEEPER_HOME_ENV, home.path())]);
        let cp = classpath_from(&e, Path::new("/nonexistent/zookeeper.jar")).expect("classpath");
        let h = home.path().display();
        assert_eq!(cp, format!("{h}/conf:{h}/lib/netty.jar:{h}/lib/zookeeper-3.8.0.jar:{h}/zookeeper-extra.jar"));
        Ok(())
    }

    #[test]
    fn debian_jar_comes_with_the_log_binding_and_netty_codec() -> std::io::Result<()> {
        let share = tempfile::tempdir()?;
        for jar in ["zookeeper.jar", DEBIAN_SLF4J_BINDING, DEBIAN_NETTY_CODEC] {
            std::fs::write(share.path().join(jar), b"")?;
        }
        let cp = classpath_from(&env(&[]), &share.path().join("zookeeper.jar")).expect("classpath");
        let s = share.path().display();
        assert_eq!(cp, format!("{s}/zookeeper.jar:{s}/slf4j-simple.jar:{s}/netty-codec.jar"));
        Ok(())
    }

    #[test]
    fn nothing_found_says_how_to_install() {
        let e = env(&[]);
        let err = classpath_from(&e, Path::new("/nonexistent/zookeeper.jar")).expect_err("not found");
        let msg = err.to_string();
        assert!(matches!(err, TestkitError::ZooKeeperNotFound { .. }));
        assert!(msg.contains("apt-get install zookeeper"), "{msg}");
        assert!(msg.contains("ZOOKEEPER_HOME"), "{msg}");
        assert!(msg.contains("ZK_ELECTION_CLASSPATH"), "{msg}");
    }

    #[test]
    fn java_home_is_preferred_and_missing_java_is_reported() -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir()?;
        std::fs::create_dir(home.path().join("bin"))?;
        let java = home.path().join("bin/java");
        std::fs::write(&java, b"#!/bin/sh\n")?;
        std::fs::set_permissions(&java, std::fs::Permissions::from_mode(0o755))?;
        let e = env(&[("JAVA_HOME", home.path()), ("PATH", Path::new("/nonexistent"))]);
        assert_eq!(java_from(&e).expect("java"), java);

        let e = env(&[("PATH", Path::new("/nonexistent"))]);
        assert!(matches!(java_from(&e), Err(TestkitError::JavaNotFound { .. })));
        Ok(())
    }
}
