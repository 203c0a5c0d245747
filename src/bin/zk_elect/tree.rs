//! Killing every descendant of this process (Linux): the guardian's tool for ending the command's
//! whole process tree.
//!
//! Descendants are found through the parent links in `/proc/<pid>/stat`, and each is signalled
//! through a pidfd that was opened *before* its parent link was confirmed, so a pid reused by an
//! unrelated process between reading `/proc` and signalling is never hit.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A process confirmed to be in our tree, ready to be signalled.
enum Member {
    /// Pinned by a pidfd: signals reach this process or nobody.
    Pinned(OwnedFd),
    /// Our own child on a kernel without pidfds: its pid cannot be reused before we reap it.
    OwnChild(i32),
}

impl Member {
    fn kill(&self) {
        match self {
            // SAFETY: a syscall on a pidfd we own; a null siginfo is allowed.
            Member::Pinned(fd) => unsafe {
                libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), libc::SIGKILL, std::ptr::null::<u8>(), 0);
            },
            // SAFETY: kill has no memory-safety preconditions.
            Member::OwnChild(pid) => unsafe {
                libc::kill(*pid, libc::SIGKILL);
            },
        }
    }

    /// Whether the process has exited (so its pid may now name someone else).
    fn exited(&self) -> bool {
        match self {
            Member::Pinned(fd) => has_exited(fd),
            // Our own unreaped child keeps its pid even after exiting.
            Member::OwnChild(_) => false,
        }
    }
}

/// Sends SIGKILL to every descendant of this process that is running now; returns how many.
///
/// A process forked while this runs may be missed: call it again until no children are left (the
/// guardian does, reaping in between). Children of killed processes are re-parented to us, since
/// the guardian is a child subreaper, so the next pass finds them.
pub fn kill_descendants() -> usize {
    let me = std::process::id() as i32;
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for (pid, ppid) in process_table() {
        children.entry(ppid).or_default().push(pid);
    }
    // Confirm the whole tree first and signal after, so no parent dies while its children are
    // being confirmed (a child of a dead parent is only confirmed in the next pass, as ours).
    let mut members = Vec::new();
    let mut frontier: Vec<(i32, Option<usize>)> = vec![(me, None)];
    while let Some((parent, parent_member)) = frontier.pop() {
        for &pid in children.get(&parent).map(Vec::as_slice).unwrap_or_default() {
            let parent_member = parent_member.map(|index: usize| &members[index]);
            if let Some(member) = confirm(pid, parent, me, parent_member) {
                members.push(member);
                frontier.push((pid, Some(members.len() - 1)));
            }
        }
    }
    for member in &members {
        member.kill();
    }
    members.len()
}

/// Confirms that `pid` is a child of `parent` (which is `me` or the confirmed `parent_member`).
fn confirm(pid: i32, parent: i32, me: i32, parent_member: Option<&Member>) -> Option<Member> {
    let member = match pidfd_open(pid) {
        Ok(fd) => Member::Pinned(fd),
        // Without pidfds only our own children are safe to signal; grandchildren become our
        // children when their parents die, and a later pass gets them.
        Err(err) if err.raw_os_error() == Some(libc::ENOSYS) && parent == me => Member::OwnChild(pid),
        Err(_) => return None,
    };
    // Read the parent link only now: if the process has not exited since, the link we read is
    // its own; if the parent has not exited either, that parent pid still names our member.
    let linked = parent_of(pid) == Some(parent);
    let parent_alive = parent_member.is_none_or(|p| !p.exited());
    (linked && !member.exited() && parent_alive).then_some(member)
}

/// Every process except zombies, as (pid, parent pid).
fn process_table() -> Vec<(i32, i32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect()
}

/// The parent of `pid` from `/proc/<pid>/stat`; `None` if it is gone or a zombie.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: parse after its last ')'.
    let mut fields = stat.get(stat.rfind(')')? + 2..)?.split(' ');
    let state = fields.next()?;
    if state == "Z" {
        return None;
    }
    fields.next()?.parse().ok()
}

fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Whether the process behind a pidfd has exited (a pidfd polls readable then).
fn has_exited(fd: &OwnedFd) -> bool {
    let mut poll = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, zero timeout.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready != 0 // an error counts as exited: never signal what we cannot vouch for
}
