//! One actix `System` on a thread of its own: started, asked for the addresses of the actors it
//! runs, and stopped (actors first, then the System, then the thread is joined).

use std::future::Future;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::warn;

use crate::contender::ElectionError;

/// The actors a handle runs in its System.
pub(super) trait Actors: Send + 'static {
    /// What the handle keeps of them (addresses), and what stopping them needs.
    type Started: Clone + Send + 'static;

    /// Starts the actors, inside the System. On error, whatever was started must be stopped
    /// before answering.
    fn start(self) -> impl Future<Output = Result<Self::Started, ElectionError>>;

    /// Stops the actors, inside the System, within `within`.
    fn stop(started: Self::Started, within: Duration) -> impl Future<Output = Result<(), ElectionError>>;
}

/// Calls its closure when dropped: when the thread ends, also by unwinding.
struct OnExit<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Drop for OnExit<F> {
    fn drop(&mut self) {
        if let Some(on_exit) = self.0.take() {
            on_exit();
        }
    }
}

/// The thread running a System. Dropping it stops the actors and the System and joins the
/// thread, waiting at most the stop timeout (plus a grace second); a thread that takes longer is
/// left to finish on its own.
pub(super) struct ActorThread {
    /// Tells the System to stop its actors; dropping it does too.
    stop: Option<oneshot::Sender<()>>,
    /// What stopping the actors answered, sent when the System is gone.
    done: Option<oneshot::Receiver<Result<(), ElectionError>>>,
    thread: Option<JoinHandle<()>>,
    timeout: Duration,
}

/// What joining may take beyond the stop timeout: stopping the System and its arbiters.
const GRACE: Duration = Duration::from_secs(1);

impl ActorThread {
    /// Starts a thread named `name` running a System, starts `actors` in it and answers their
    /// addresses once they are started. `on_exit` runs on that thread when it ends, however it
    /// ends.
    pub(super) async fn spawn<A: Actors>(
        name: &str,
        actors: A,
        timeout: Duration,
        on_exit: impl FnOnce() + Send + 'static,
    ) -> Result<(ActorThread, A::Started), ElectionError> {
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel();
        let body = move || {
            let _exit = OnExit(Some(on_exit));
            let system = actix::System::new();
            let stopped = system.block_on(async move {
                let outcome = match actors.start().await {
                    Ok(started) => {
                        let kept = started.clone();
                        let _ = ready_tx.send(Ok(started));
                        // A signal, or the handle gone without one: stop either way.
                        let _ = stop_rx.await;
                        A::stop(kept, timeout).await
                    }
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        Ok(())
                    }
                };
                // Stops every arbiter of the System too (a session runs on one of its own).
                actix::System::current().stop();
                outcome
            });
            let _ = system.run();
            let _ = done_tx.send(stopped);
        };
        let thread = std::thread::Builder::new().name(name.to_owned()).spawn(body).map_err(|err| {
            warn!(error = %err, "cannot start the actor thread");
            ElectionError::Stopped
        })?;
        let mut this = ActorThread { stop: Some(stop_tx), done: Some(done_rx), thread: Some(thread), timeout };
        match ready_rx.await {
            Ok(Ok(started)) => Ok((this, started)),
            Ok(Err(err)) => {
                let _ = this.finish().await;
                Err(err)
            }
            // The thread ended without a word: it panicked.
            Err(_) => {
                let _ = this.finish().await;
                Err(ElectionError::Stopped)
            }
        }
    }

    /// Stops the actors and the System, waits for the thread to end, and answers what stopping
    /// the actors answered. Idempotent: later calls answer `Ok(())` at once.
    pub(super) async fn finish(&mut self) -> Result<(), ElectionError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(done) = self.done.take() else { return Ok(()) };
        // Bounded by the thread itself: the actors' stop has a deadline.
        let outcome = done.await.unwrap_or(Err(ElectionError::Stopped));
        if let Some(thread) = self.thread.take() {
            // The System is gone once `done` is sent: only the thread's own end is left.
            if thread.join().is_err() {
                return Err(ElectionError::Stopped);
            }
        }
        outcome
    }
}

impl Drop for ActorThread {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Blocks the dropping thread; `finish` is the way to stop without blocking.
        let deadline = Instant::now() + self.timeout + GRACE;
        while !thread.is_finished() {
            if Instant::now() >= deadline {
                warn!(timeout = ?self.timeout, "the actor thread did not stop in time; left to finish on its own");
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = thread.join();
    }
}
