//! The command `run` supervises, as zk-elect sees it: started through a guardian process (see
//! `guardian.rs`) that kills the command's whole process tree when asked to, when the command
//! exits, and when zk-elect dies without cleaning up (even by SIGKILL).
//!
//! The guardian is zk-elect's child, the command the guardian's child in a process group of its
//! own (so a terminal's Ctrl-C reaches only us, and we decide when it stops).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};

use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::process::Command;
use tracing::debug;

use crate::credentials;
use crate::guardian::{self, Report};

/// The longest report line the guardian writes, with room to spare.
const MAX_REPORT: usize = 64;

/// A running command.
pub struct Child {
    /// The guardian process; its wait status is the command's.
    guardian: tokio::process::Child,
    /// Our end of the guardian's control socket. Dropping it (or dying) makes the guardian kill
    /// the command's tree.
    control: UnixStream,
    /// The command's pid (the guardian's is of no interest to the user).
    pid: u32,
}

impl Child {
    /// Starts `argv` with stdin from /dev/null (our stdin is our control channel) and the extra
    /// environment `env`. With `stdout_to_stderr`, the command's stdout goes to our stderr, so
    /// our stdout holds nothing but event lines. Fails like a direct spawn would when the
    /// command cannot be started (e.g. `NotFound`).
    pub async fn spawn(argv: &[String], env: &[(&str, String)], stdout_to_stderr: bool) -> io::Result<Child> {
        if argv.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no command"));
        }
        // Close-on-exec on both ends; the guardian gets its end as stdin (dup2 clears the flag).
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        // Ourselves even if our file was replaced or deleted since we started.
        let mut command = Command::new("/proc/self/exe");
        command
            .arg0("zk-elect guardian")
            .args(argv)
            .env(guardian::MODE_VAR, guardian::MODE_VALUE)
            // Our passwords are ours: the command does not inherit them.
            .env_remove(credentials::SASL_PASSWORD_VAR)
            .env_remove(credentials::DIGEST_PASSWORD_VAR)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .process_group(0);
        // No kill_on_drop: SIGKILL is the one way to end the guardian without it ending the
        // tree. Dropping `control` makes it end the tree instead.
        if stdout_to_stderr {
            command.stdout(Stdio::from(io::stderr().as_fd().try_clone_to_owned()?));
        }
        let mut guardian = command.spawn()?;
        // Our copy of the guardian's end must not linger here.
        drop(command);
        ours.set_nonblocking(true)?;
        let mut control = UnixStream::from_std(ours)?;
        match read_report(&mut control).await {
            Ok(Report::Started(pid)) => Ok(Child { guardian, control, pid }),
            Ok(Report::Failed(errno)) => {
                let _ = guardian.wait().await;
                Err(io::Error::from_raw_os_error(errno))
            }
            Err(err) => {
                let status = guardian.wait().await;
                Err(io::Error::other(format!("the guardian process failed ({err}; {status:?})")))
            }
        }
    }

    /// The command's process ID (also its process group ID).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Asks for SIGTERM to the command's process group.
    pub fn terminate(&self) {
        self.tell(guardian::TERMINATE);
    }

    /// Asks for the command and all its descendants to be killed now.
    pub fn kill(&self) {
        self.tell(guardian::KILL);
    }

    fn tell(&self, byte: u8) {
        // One byte into an idle socket does not block. A failure means the guardian is gone, and
        // `wait` is about to say so.
        if let Err(err) = self.control.try_write(&[byte]) {
            debug!(%err, "cannot reach the guardian");
        }
    }

    /// Waits until the command has exited and its process tree is gone. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.guardian.wait().await
    }
}

/// Reads the guardian's one report line.
async fn read_report(control: &mut UnixStream) -> io::Result<Report> {
    let mut line = Vec::new();
    let mut buf = [0u8; MAX_REPORT];
    while !line.ends_with(b"\n") {
        let n = control.read(&mut buf).await?;
        if n == 0 || line.len() + n > MAX_REPORT {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "no report from the guardian"));
        }
        line.extend_from_slice(&buf[..n]);
    }
    std::str::from_utf8(&line)
        .ok()
        .and_then(|line| Report::parse(line.trim_end()))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a garbled report from the guardian"))
}

/// The exit code of `status` as a shell reports it (128 + signal when a signal ended it), and
/// the signal if any.
pub fn exit_code(status: ExitStatus) -> (i32, Option<i32>) {
    match (status.code(), status.signal()) {
        (Some(code), _) => (code, None),
        (None, Some(signal)) => (128 + signal, Some(signal)),
        (None, None) => (1, None),
    }
}

/// The exit code a shell uses when a command cannot be started.
pub fn spawn_failure_code(err: &io::Error) -> i32 {
    match err.kind() {
        io::ErrorKind::NotFound => 127,
        io::ErrorKind::PermissionDenied => 126,
        _ => 1,
    }
}
