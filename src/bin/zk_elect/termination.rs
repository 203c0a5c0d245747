//! When to stop: SIGINT, SIGTERM, the end of stdin, or a line `quit` on stdin.

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

/// Waits for the first reason to stop. Other lines on stdin are ignored.
pub struct Termination {
    interrupt: Signal,
    terminate: Signal,
    stdin: mpsc::UnboundedReceiver<Reason>,
}

impl Termination {
    /// Installs the signal handlers and starts reading stdin. Must run inside the runtime.
    pub fn install() -> std::io::Result<Self> {
        let interrupt = signal(SignalKind::interrupt())?;
        let terminate = signal(SignalKind::terminate())?;
        let (sender, stdin) = mpsc::unbounded_channel();
        // A plain thread, not the runtime's blocking pool: a read that never returns must not
        // keep the process from exiting.
        std::thread::Builder::new().name("stdin".into()).spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(line) if line.trim() == "quit" => {
                        let _ = sender.send(Reason::Quit);
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let _ = sender.send(Reason::EndOfInput);
        })?;
        Ok(Termination { interrupt, terminate, stdin })
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
