//! A contender that is a process of its own: its announcements, each stamped with the moment
//! the bench read the line, on a channel; `quit` written to its stdin or a SIGINT to make it
//! leave.
//!
//! Lines are read and classified by a plain thread per process, not by the runtime: the stamp
//! must not wait for whatever else the bench's single-threaded runtime is doing at that moment.
//! Only "it leads" is passed on (with the `granted` before it), so that the bench's main thread
//! wakes once per announcement, not for every line a contender prints on the way: on two cores
//! every extra wake-up competes with the peer being measured.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::peer::{Announced, Classify, Line};

/// A running contender process, killed when dropped so that a failed round leaves nothing
/// behind.
pub(crate) struct Child {
    process: std::process::Child,
    stdin: Option<ChildStdin>,
    announcements: mpsc::UnboundedReceiver<Announced>,
}

impl Child {
    /// Starts `command` with piped stdin and stdout, its lines read by `classify` for a contender
    /// with `address`; its stderr is appended to `log`.
    pub(crate) fn spawn(mut command: Command, log: &Path, classify: Classify, address: &str) -> Result<Child, String> {
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        let mut process = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))?;
        let stdout = process.stdout.take().ok_or("no stdout pipe")?;
        let (sender, announcements) = mpsc::unbounded_channel();
        let address = address.to_owned();
        let reader = std::thread::Builder::new().name("child-stdout".into()).spawn(move || {
            let mut granted = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                match classify(&line, &address) {
                    Line::Granted => granted = Some(at),
                    Line::Leads => {
                        if sender.send(Announced { granted: granted.take(), leads: at }).is_err() {
                            break;
                        }
                    }
                    Line::Other => {}
                }
            }
        });
        if let Err(err) = reader {
            let _ = process.kill();
            let _ = process.wait();
            return Err(format!("cannot start a reader thread: {err}"));
        }
        let stdin = process.stdin.take();
        Ok(Child { process, stdin, announcements })
    }

    /// Waits for its next announcement that it leads.
    pub(crate) async fn announced(&mut self, limit: Duration) -> Result<Announced, String> {
        match tokio::time::timeout(limit, self.announcements.recv()).await {
            Ok(Some(announced)) => Ok(announced),
            Ok(None) => Err(format!("stdout closed before it said it leads (exit: {:?})", self.exit_status())),
            Err(_) => Err(format!("it did not say it leads within {limit:?}")),
        }
    }

    /// Writes `line` to its stdin; answers the moment just before the write.
    pub(crate) fn write_line(&mut self, line: &str) -> Result<Instant, String> {
        let stdin = self.stdin.as_mut().ok_or("stdin already closed")?;
        let at = Instant::now();
        stdin.write_all(format!("{line}\n").as_bytes()).map_err(|e| format!("writing to stdin: {e}"))?;
        Ok(at)
    }

    /// Sends SIGINT; answers the moment just before the signal.
    pub(crate) fn interrupt(&mut self) -> Result<Instant, String> {
        let pid = libc::pid_t::try_from(self.process.id()).map_err(|e| e.to_string())?;
        let at = Instant::now();
        // SAFETY: kill(2) with a pid we spawned and have not reaped (reaping happens in `wait`
        // or on drop), so it cannot name another process.
        if unsafe { libc::kill(pid, libc::SIGINT) } != 0 {
            return Err(format!("kill(SIGINT): {}", std::io::Error::last_os_error()));
        }
        Ok(at)
    }

    /// Waits (bounded) for the process to exit; kills it after `limit`. An exit other than 0
    /// is an error: a contender that leaves cleanly exits 0.
    pub(crate) async fn wait(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            match self.process.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => return Err(format!("exited with {status}")),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.process.kill();
                    let _ = self.process.wait();
                    return Err(format!("did not exit within {limit:?}: killed"));
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(err) => return Err(format!("waiting for it: {err}")),
            }
        }
    }

    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.process.try_wait().ok().flatten()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.exit_status().is_none() {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}
