//! Control of one child process by signals: start, terminate, kill, pause, resume, reap.
//!
//! Knows nothing about ZooKeeper; [`ZkServer`](super::ZkServer) puts a JVM in it, and an
//! ensemble is several `ZkServer`s, so this is the only process-control code in the testkit.

use std::process::{Child, Command, ExitStatus};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{launcher, TestkitError};

/// A child process that may be started again after it ended. Killed and reaped on drop.
///
/// All methods take `&self`: the mutex serialises them, so one thread can pause the process
/// while another waits for it.
#[derive(Debug, Default)]
pub(crate) struct ChildProcess {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The running (or stopped by `SIGSTOP`) child; `None` once it has been reaped.
    child: Option<Child>,
    /// Whether we sent `SIGSTOP` and no `SIGCONT` since; a stopped process needs `SIGCONT` to
    /// act on `SIGTERM`.
    paused: bool,
}

/// How often to look whether a child has exited while waiting for it.
const REAP_POLL: Duration = Duration::from_millis(5);

impl ChildProcess {
    /// Spawns `command` (through the launcher thread) unless a child is already running.
    pub(crate) fn spawn(&self, command: Command) -> Result<(), TestkitError> {
        let mut state = self.lock();
        if state.running() {
            return Ok(());
        }
        state.child = Some(launcher::spawn(command)?);
        state.paused = false;
        Ok(())
    }

    /// The OS process ID while the child runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        let mut state = self.lock();
        if state.running() {
            state.child.as_ref().map(Child::id)
        } else {
            None
        }
    }

    /// Whether the child exists and has not exited (a paused child is running).
    pub(crate) fn is_running(&self) -> bool {
        self.lock().running()
    }

    /// Whether the child is stopped by [`Self::pause`].
    pub(crate) fn is_paused(&self) -> bool {
        let mut state = self.lock();
        state.running() && state.paused
    }

    /// If the child has exited on its own since it was started, reaps it and returns its status.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        let mut state = self.lock();
        let status = state.child.as_mut()?.try_wait().ok().flatten()?;
        state.child = None;
        Some(status)
    }

    /// Sends `SIGTERM`, waits up to `grace` for the child to exit, then `SIGKILL`s it; reaps it.
    /// Does nothing when no child is running.
    pub(crate) fn terminate(&self, grace: Duration) -> Result<(), TestkitError> {
        let mut state = self.lock();
        let Some(mut child) = state.child.take() else {
            return Ok(());
        };
        signal(&child, libc::SIGTERM);
        if state.paused {
            signal(&child, libc::SIGCONT);
            state.paused = false;
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => std::thread::sleep(REAP_POLL),
                Err(source) => return Err(TestkitError::io("waiting for the child", source)),
            }
        }
        kill_and_reap(&mut child)
    }

    /// Sends `SIGKILL` and reaps the child. Does nothing when no child is running.
    pub(crate) fn kill(&self) -> Result<(), TestkitError> {
        let mut state = self.lock();
        state.paused = false;
        match state.child.take() {
            Some(mut child) => kill_and_reap(&mut child),
            None => Ok(()),
        }
    }

    /// Sends `SIGSTOP` and waits (briefly) until the kernel reports the child stopped, so that
    /// a probe right after this call already sees a frozen process.
    ///
    /// Returns `false` when no child is running.
    pub(crate) fn pause(&self) -> bool {
        let mut state = self.lock();
        let Some(child) = state.child.as_ref() else {
            return false;
        };
        let pid = child.id();
        signal(child, libc::SIGSTOP);
        state.paused = true;
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && !is_stopped(pid) {
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    /// Sends `SIGCONT`. Returns `false` when no child is running.
    pub(crate) fn resume(&self) -> bool {
        let mut state = self.lock();
        let Some(child) = state.child.as_ref() else {
            return false;
        };
        signal(child, libc::SIGCONT);
        state.paused = false;
        true
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` inconsistent in a way that
        // matters: the worst case is a stale `paused` flag.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Whether a child is running; reaps it (and forgets it) if it has exited.
    fn running(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else {
            return false;
        };
        match child.try_wait() {
            Ok(None) => true,
            Ok(Some(_)) | Err(_) => {
                self.child = None;
                self.paused = false;
                false
            }
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut child) = state.child.take() {
            // SIGKILL also ends a SIGSTOPped process; nothing useful can be done with an error
            // here, and the parent-death signal is the backstop.
            let _ = kill_and_reap(&mut child);
        }
    }
}

fn kill_and_reap(child: &mut Child) -> Result<(), TestkitError> {
    signal(child, libc::SIGKILL);
    child.wait().map(drop).map_err(|source| TestkitError::io("reaping the killed child", source))
}

/// Sends `sig` to the child. A child that already exited but is not reaped yet is a zombie and
/// still has its PID, so this cannot hit an unrelated process.
fn signal(child: &Child, sig: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions. Failure (ESRCH) means the process
    // is already gone, which is what every caller wants anyway.
    unsafe {
        libc::kill(pid, sig);
    }
}

/// Whether `/proc/<pid>/stat` says the process is stopped (`T`) or gone.
fn is_stopped(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state is the first field after the command name, which is in parentheses and may
    // itself contain spaces or parentheses.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).is_some_and(|s| s == "T" || s == "t")
}
