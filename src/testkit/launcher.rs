//! The process-lifetime thread that forks every server JVM.
//!
//! Each child asks the kernel for `SIGKILL` when its parent dies (`PR_SET_PDEATHSIG`). Linux ties
//! that "parent" to the *thread* that forked, not the process: a JVM forked by a test's own thread
//! would be killed as soon as that thread ends, e.g. when one `#[test]` finishes while another
//! still uses a shared server. So all forks happen on one thread that is started lazily and never
//! ends; the children then die exactly when the test process dies, however it dies (panic, abort,
//! `SIGKILL`), and a CI machine is not left with stray JVMs.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};

use super::TestkitError;

/// A command to spawn and where to send the result.
struct SpawnRequest {
    command: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

/// The launcher's inbox; `None` until the first spawn. Never dropped, so the launcher thread's
/// `recv` never fails and the thread lives until the process exits.
static LAUNCHER: Mutex<Option<mpsc::Sender<SpawnRequest>>> = Mutex::new(None);

/// Spawns `command` on the launcher thread, with `SIGKILL` as its parent-death signal.
///
/// # Notable errors
/// * [`TestkitError::Io`] when the fork or exec fails (e.g. the `java` binary is missing).
/// * [`TestkitError::LauncherGone`] when the launcher thread could not be started or has died.
pub(crate) fn spawn(command: Command) -> Result<Child, TestkitError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let (reply, answer) = mpsc::channel();
    inbox()?.send(SpawnRequest { command, reply }).map_err(|_| TestkitError::LauncherGone)?;
    answer
        .recv()
        .map_err(|_| TestkitError::LauncherGone)?
        .map_err(|source| TestkitError::io(format!("spawning {program}"), source))
}

/// Returns a sender to the launcher, starting the launcher thread on first use.
fn inbox() -> Result<mpsc::Sender<SpawnRequest>, TestkitError> {
    let mut slot = LAUNCHER.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(sender) = slot.as_ref() {
        return Ok(sender.clone());
    }
    let (sender, requests) = mpsc::channel::<SpawnRequest>();
    std::thread::Builder::new()
        .name("zk-testkit-launcher".to_owned())
        .spawn(move || {
            for SpawnRequest { mut command, reply } in requests {
                // The requester may have given up; then the child is dropped, not reaped, but
                // it still dies with this process through its parent-death signal.
                let _ = reply.send(spawn_with_parent_death_signal(&mut command));
            }
        })
        .map_err(|_| TestkitError::LauncherGone)?;
    *slot = Some(sender.clone());
    Ok(sender)
}

fn spawn_with_parent_death_signal(command: &mut Command) -> io::Result<Child> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe calls
    // (prctl, getppid, _exit); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl; then nobody would kill us.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        })
    };
    command.spawn()
}
