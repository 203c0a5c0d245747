//! The guardian (Linux): the process between zk-elect and the command of `run`, there so that no
//! process the command started outlives zk-elect, however zk-elect ends (SIGKILL included).
//!
//! Why a process of its own, and why this one guarantees it:
//!
//! - `PR_SET_PDEATHSIG` reaches only the direct child, a process-group signal misses whatever
//!   called `setsid` or `setpgid`, and a double-forked process is re-parented to init, out of
//!   reach. A process killed by SIGKILL runs no cleanup of its own, so a second process has to:
//!   zk-elect re-executes itself (`/proc/self/exe`, selected by [`MODE_VAR`], not a subcommand)
//!   as the command's parent.
//! - The guardian is a child subreaper (`PR_SET_CHILD_SUBREAPER`): every orphan among the
//!   command's descendants, double forks and setsid daemons included, is re-parented to it rather
//!   than to init. So the whole tree stays reachable through parent links, which
//!   [`tree::kill_descendants`] follows.
//! - Its stdin is one end of a socket pair; the other end exists only in zk-elect (close-on-exec,
//!   so never inherited). The kernel closes it when zk-elect exits for any reason, so the guardian
//!   reads end-of-file and kills the tree. It blocks nowhere but in `poll` on that socket and on a
//!   signalfd for SIGCHLD, so the end-of-file is never missed; it ignores SIGINT, SIGTERM, SIGHUP
//!   and SIGQUIT (blocked; the command starts with an empty mask), so only the socket, the
//!   command's exit or SIGKILL end it.
//! - Each pass SIGKILLs every descendant, reaps, and repeats until it has no child left: a
//!   process forked during a pass is caught by the next one.
//!
//! The protocol: the guardian writes one [`Report`] line on the socket; zk-elect may then write
//! [`TERMINATE`] (SIGTERM to the command's process group) or [`KILL`] (kill the whole tree). When
//! the command has exited, its leftover descendants are killed and the guardian exits the way the
//! command did (same exit code, or the same signal raised on itself), so its wait status is the
//! command's.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::tree;

/// The environment variable that makes zk-elect a guardian, and its value. Removed from the
/// command's environment.
pub const MODE_VAR: &str = "ZK_ELECT_INTERNAL_GUARDIAN";
/// See [`MODE_VAR`]; not a plain `1`, so a stray variable cannot select the mode by accident.
pub const MODE_VALUE: &str = "v1";
/// From zk-elect: send SIGTERM to the command's process group.
pub const TERMINATE: u8 = b'T';
/// From zk-elect: kill the command and all its descendants now.
pub const KILL: u8 = b'K';

/// How long the guardian keeps killing and reaping. Only a process in uninterruptible sleep
/// outlasts a pass; it has SIGKILL pending and dies when it wakes, so the guardian need not wait.
const KILL_PATIENCE: Duration = Duration::from_secs(5);
/// The longest wait for SIGCHLD between two kill passes.
const PASS_INTERVAL: Duration = Duration::from_millis(10);
/// Signals the guardian does not die of (see the module docs).
const BLOCKED: [libc::c_int; 5] = [libc::SIGCHLD, libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The one line the guardian writes, after trying to start the command.
#[derive(Debug, PartialEq, Eq)]
pub enum Report {
    /// The command runs with this pid.
    Started(u32),
    /// It could not be started: this OS error (errno).
    Failed(i32),
}

impl Report {
    fn line(&self) -> String {
        match self {
            Report::Started(pid) => format!("started {pid}\n"),
            Report::Failed(errno) => format!("failed {errno}\n"),
        }
    }

    /// Parses a line (without its newline).
    pub fn parse(line: &str) -> Option<Report> {
        match line.split_once(' ')? {
            ("started", pid) => pid.parse().ok().map(Report::Started),
            ("failed", errno) => errno.parse().ok().map(Report::Failed),
            _ => None,
        }
    }
}

/// Becomes the guardian and never returns if this process was started as one (see [`MODE_VAR`]);
/// returns at once otherwise. Call first thing in `main`.
pub fn run_if_selected() {
    if std::env::var_os(MODE_VAR).as_deref() != Some(OsStr::new(MODE_VALUE)) {
        return;
    }
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let control = match take_control() {
        Ok(control) => control,
        Err(err) => {
            eprintln!("zk-elect: the guardian needs its control socket on stdin: {err}");
            std::process::exit(2);
        }
    };
    match Guardian::start(control, &argv) {
        Ok(guardian) => exit_like(guardian.run()),
        Err(failure) => {
            send(&failure.control, &Report::Failed(failure.error.raw_os_error().unwrap_or(libc::EIO)));
            std::process::exit(1);
        }
    }
}

/// The guardian at work.
struct Guardian {
    /// Our end of the socket pair: commands in, end-of-file when zk-elect is gone.
    control: OwnedFd,
    /// Readable when a child (the command or an adopted orphan) changed state.
    sigchld: OwnedFd,
    /// The command's pid, also its process group.
    command: libc::pid_t,
    /// The command's wait status, once reaped.
    status: Option<libc::c_int>,
}

/// Why the guardian could not start, with the socket to report it on.
struct StartFailure {
    control: OwnedFd,
    error: io::Error,
}

impl Guardian {
    fn start(control: OwnedFd, argv: &[OsString]) -> Result<Guardian, StartFailure> {
        let started = (|| {
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } == -1 {
                return Err(io::Error::last_os_error());
            }
            let sigchld = block_signals()?;
            Ok((sigchld, spawn_command(argv)?))
        })();
        match started {
            Ok((sigchld, command)) => {
                send(&control, &Report::Started(command as u32));
                Ok(Guardian { control, sigchld, command, status: None })
            }
            Err(error) => Err(StartFailure { control, error }),
        }
    }

    /// Serves until the command has exited or zk-elect is gone or asks for the kill; then ends
    /// the tree. Answers the command's wait status, `None` if it could not be reaped in time.
    fn run(mut self) -> Option<libc::c_int> {
        loop {
            let mut fds = [pollfd(self.control.as_raw_fd()), pollfd(self.sigchld.as_raw_fd())];
            // SAFETY: two valid pollfds; no timeout.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } == -1 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // We cannot watch anything any more: end it rather than leave it unguarded.
                return self.end_tree();
            }
            if fds[1].revents != 0 {
                drain(&self.sigchld);
                self.reap();
                if self.status.is_some() {
                    // The command is done; what it left behind must not outlive it.
                    return self.end_tree();
                }
            }
            if fds[0].revents != 0 {
                let mut buf = [0u8; 16];
                // SAFETY: reads at most buf.len() bytes into buf.
                let n = unsafe { libc::read(self.control.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                if n <= 0 {
                    // End of file (or a broken socket): zk-elect is gone.
                    return self.end_tree();
                }
                for &byte in &buf[..n as usize] {
                    match byte {
                        TERMINATE => {
                            // SAFETY: kill has no memory-safety preconditions; the group is the
                            // unreaped command's, so its id cannot have been reused.
                            unsafe { libc::kill(-self.command, libc::SIGTERM) };
                        }
                        KILL => return self.end_tree(),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Kills every descendant and reaps until no child is left (or [`KILL_PATIENCE`] is over).
    fn end_tree(&mut self) -> Option<libc::c_int> {
        let deadline = Instant::now() + KILL_PATIENCE;
        loop {
            tree::kill_descendants();
            if !self.reap() {
                return self.status;
            }
            if Instant::now() >= deadline {
                eprintln!(
                    "zk-elect guardian: processes still dying after {KILL_PATIENCE:?}; they have SIGKILL pending"
                );
                return self.status;
            }
            let mut fd = pollfd(self.sigchld.as_raw_fd());
            // SAFETY: one valid pollfd with a timeout.
            unsafe { libc::poll(&mut fd, 1, PASS_INTERVAL.as_millis() as libc::c_int) };
            drain(&self.sigchld);
        }
    }

    /// Reaps every child that has exited, keeping the command's status. Answers whether any
    /// child is left.
    fn reap(&mut self) -> bool {
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status into our local.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            match pid {
                0 => return true,
                -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
                -1 => return false, // ECHILD: no child at all
                pid if pid == self.command => self.status = Some(status),
                _ => {} // an adopted orphan
            }
        }
    }
}

/// Moves our stdin (the control socket) to a close-on-exec descriptor and puts /dev/null in its
/// place, so no process we start can hold the socket open.
fn take_control() -> io::Result<OwnedFd> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat fills the struct it is given.
    if unsafe { libc::fstat(0, stat.as_mut_ptr()) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so the struct is initialised.
    if unsafe { stat.assume_init() }.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "stdin is not a socket"));
    }
    // SAFETY: duplicates fd 0 at 3 or above, close-on-exec.
    let control = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if control == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the fd was just created for us.
    let control = unsafe { OwnedFd::from_raw_fd(control) };
    let null = std::fs::File::open("/dev/null")?;
    // SAFETY: dup2 between two open descriptors.
    if unsafe { libc::dup2(null.as_raw_fd(), 0) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(control)
}

/// Blocks [`BLOCKED`] and answers a signalfd for SIGCHLD.
fn block_signals() -> io::Result<OwnedFd> {
    // SAFETY: sigset_t is plain data that sigemptyset initialises; the calls take valid pointers.
    unsafe {
        let mut blocked = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut blocked);
        for signal in BLOCKED {
            libc::sigaddset(&mut blocked, signal);
        }
        if libc::sigprocmask(libc::SIG_BLOCK, &blocked, std::ptr::null_mut()) == -1 {
            return Err(io::Error::last_os_error());
        }
        let mut sigchld = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut sigchld);
        libc::sigaddset(&mut sigchld, libc::SIGCHLD);
        let fd = libc::signalfd(-1, &sigchld, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd == -1 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Starts the command in a process group of its own, stdin from /dev/null, the rest inherited
/// (zk-elect chose our stdout), with an empty signal mask (the standard library resets SIGPIPE).
fn spawn_command(argv: &[OsString]) -> io::Result<libc::pid_t> {
    let (program, args) = argv.split_first().ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let guardian = std::process::id() as libc::pid_t;
    let mut command = Command::new(program);
    command.args(args).env_remove(MODE_VAR).stdin(Stdio::null()).process_group(0);
    // SAFETY: runs in the forked child before exec; prctl, getppid, sigemptyset and sigprocmask
    // are async-signal-safe and touch only a local.
    unsafe {
        command.pre_exec(move || {
            // Should the guardian itself be SIGKILLed, at least the command dies with it.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The guardian may have died between fork and prctl.
            if libc::getppid() != guardian {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            // The signal mask survives exec, and the standard library leaves it alone: give the
            // command the signals we block.
            let mut none = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut none);
            if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(command.spawn()?.id() as libc::pid_t)
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd { fd, events: libc::POLLIN, revents: 0 }
}

/// Empties the signalfd (non-blocking) so that poll waits for the next SIGCHLD.
fn drain(sigchld: &OwnedFd) {
    let mut buf = [0u8; 8 * std::mem::size_of::<libc::signalfd_siginfo>()];
    // SAFETY: reads at most buf.len() bytes into buf.
    while unsafe { libc::read(sigchld.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// Writes `report` on the socket. A failure means zk-elect is gone, which the poll loop sees.
fn send(control: &OwnedFd, report: &Report) {
    let line = report.line();
    // SAFETY: sends our buffer; MSG_NOSIGNAL turns a closed peer into EPIPE instead of SIGPIPE.
    unsafe { libc::send(control.as_raw_fd(), line.as_ptr().cast(), line.len(), libc::MSG_NOSIGNAL) };
}

/// Exits the way the command did: its exit code, or its signal raised on ourselves (no core
/// dump). A command not reaped in time has SIGKILL pending: report that.
fn exit_like(status: Option<libc::c_int>) -> ! {
    let signal = match status {
        Some(status) if libc::WIFEXITED(status) => std::process::exit(libc::WEXITSTATUS(status)),
        Some(status) if libc::WIFSIGNALED(status) => libc::WTERMSIG(status),
        _ => libc::SIGKILL,
    };
    // SAFETY: plain libc calls with valid arguments; nothing runs on our behalf afterwards.
    unsafe {
        let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(signal, libc::SIG_DFL);
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
    // Only for a signal that does not terminate by default.
    std::process::exit(128 + signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip() {
        for report in [Report::Started(4242), Report::Failed(libc::ENOENT)] {
            let line = report.line();
            assert_eq!(Report::parse(line.trim_end()), Some(report));
        }
        assert_eq!(Report::parse("started"), None);
        assert_eq!(Report::parse("started x"), None);
        assert_eq!(Report::parse("stopped 1"), None);
    }
}
