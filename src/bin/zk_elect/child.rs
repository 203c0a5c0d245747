//! The command `run` supervises: started in a process group of its own (so a terminal's Ctrl-C
//! reaches only us, and we decide when it stops), signalled as a group (so a shell script's own
//! children stop with it), and killed by the kernel if we die without cleaning up.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};

use tokio::process::Command;

pub use libc::{SIGKILL, SIGTERM};

/// A running command.
pub struct Child {
    process: tokio::process::Child,
    pid: u32,
}

impl Child {
    /// Starts `argv` with stdin from /dev/null (our stdin is our control channel) and the extra
    /// environment `env`. With `stdout_to_stderr`, the command's stdout goes to our stderr, so
    /// our stdout holds nothing but event lines.
    pub fn spawn(argv: &[String], env: &[(&str, String)], stdout_to_stderr: bool) -> io::Result<Child> {
        let (program, args) =
            argv.split_first().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no command"))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(true);
        if stdout_to_stderr {
            use std::os::fd::AsFd;
            command.stdout(Stdio::from(io::stderr().as_fd().try_clone_to_owned()?));
        }
        #[cfg(target_os = "linux")]
        // SAFETY: runs in the forked child before exec; prctl is async-signal-safe and touches no
        // memory of ours.
        unsafe {
            command.pre_exec(|| {
                // If zk-elect dies (even by SIGKILL), nobody would stop the command when
                // leadership moves on; let the kernel do it.
                if libc::prctl(libc::PR_SET_PDEATHSIG, SIGKILL) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let process = command.spawn()?;
        let pid = process.id().expect("a just spawned child has a pid");
        Ok(Child { process, pid })
    }

    /// The command's process ID (also its process group ID).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `signal` to the command's process group.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions. A negative pid addresses the group,
        // which the child leads (`process_group(0)`); it exists until we reap the child.
        let _ = unsafe { libc::kill(-(self.pid as i32), signal) };
    }

    /// Waits until the command has exited. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.process.wait().await
    }
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
