//! When to stop: SIGINT, SIGTERM, the end of stdin, or a line `quit` on stdin; and what else a
//! line on stdin asks (`transfer ADDRESS`, `resign`).

use std::io::BufRead;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;

/// Why the program stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// stdin reached its end (or could not be read).
    EndOfInput,
    /// A line `quit` on stdin.
    Quit,
}

/// What a line on stdin asks of a campaign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `transfer ADDRESS`: hand leadership to the candidate announcing ADDRESS.
    Transfer(String),
    /// `resign`: give leadership up and queue again.
    Resign,
}

impl Request {
    /// The request a line asks, if any.
    fn parse(line: &str) -> Option<Request> {
        let line = line.trim();
        match line.split_once(char::is_whitespace) {
            Some(("transfer", to)) if !to.trim().is_empty() => Some(Request::Transfer(to.trim().to_owned())),
            None if line == "resign" => Some(Request::Resign),
            _ => None,
        }
    }
}

/// Waits for the first reason to stop, and hands out requests. Other lines on stdin are
/// ignored.
pub struct Termination {
    interrupt: Signal,
    terminate: Signal,
    stdin: mpsc::UnboundedReceiver<Reason>,
    requests: mpsc::UnboundedReceiver<Request>,
}

impl Termination {
    /// Installs the signal handlers and starts reading stdin. Must run inside the runtime.
    pub fn install() -> std::io::Result<Self> {
        let interrupt = signal(SignalKind::interrupt())?;
        let terminate = signal(SignalKind::terminate())?;
        let (sender, stdin) = mpsc::unbounded_channel();
        let (asker, requests) = mpsc::unbounded_channel();
        // A plain thread, not the runtime's blocking pool: a read that never returns must not
        // keep the process from exiting.
        std::thread::Builder::new().name("stdin".into()).spawn(move || {
            let mut quit = false;
            for line in std::io::stdin().lock().lines() {
                match line {
                    // After `quit` the thread goes on reading (and ignoring) lines rather than
                    // ending: a thread's exit costs ~0.1 ms of CPU, which on a busy machine is
                    // spent right when the main loop should be leaving the election (seen in
                    // the peers benchmark, BENCHMARKS.md).
                    Ok(line) if !quit && line.trim() == "quit" => {
                        quit = true;
                        let _ = sender.send(Reason::Quit);
                    }
                    Ok(line) if !quit => {
                        if let Some(request) = Request::parse(&line) {
                            let _ = asker.send(request);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            if !quit {
                let _ = sender.send(Reason::EndOfInput);
            }
        })?;
        Ok(Termination { interrupt, terminate, stdin, requests })
    }

    /// The next request from stdin, or the reason to stop if that comes first. Cancel-safe.
    pub async fn request_or_stop(&mut self) -> Result<Request, Reason> {
        // Requests first: a `transfer` line before `quit` is done before the quit.
        tokio::select! {
            biased;
            Some(request) = self.requests.recv() => Ok(request),
            _ = self.interrupt.recv() => Err(Reason::Interrupt),
            _ = self.terminate.recv() => Err(Reason::Terminate),
            Some(reason) = self.stdin.recv() => Err(reason),
        }
    }

    /// The next reason to stop. Cancel-safe (usable in `select!`).
    pub async fn wait(&mut self) -> Reason {
        tokio::select! {
            _ = self.interrupt.recv() => Reason::Interrupt,
            _ = self.terminate.recv() => Reason::Terminate,
            Some(reason) = self.stdin.recv() => reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_from_lines() {
        assert_eq!(Request::parse("transfer b:1"), Some(Request::Transfer("b:1".into())));
        assert_eq!(Request::parse("  transfer   host:80 \n"), Some(Request::Transfer("host:80".into())));
        assert_eq!(Request::parse("resign"), Some(Request::Resign));
        for ignored in ["transfer", "transfer  ", "resign now", "quit", "", "transferb:1"] {
            assert_eq!(Request::parse(ignored), None, "{ignored:?}");
        }
    }
}
