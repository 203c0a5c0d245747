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
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            if !quit {
                let _ = sender.send(Reason::EndOfInput);
            }
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
