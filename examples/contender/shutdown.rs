//! When to stop: Ctrl-C, SIGTERM or the end of stdin, whichever comes first.

/// Waits for Ctrl-C, SIGTERM or end of stdin, and says which came.
pub async fn shutdown_requested() -> &'static str {
    // A plain thread, not `tokio::io::stdin`: its blocking read cannot be cancelled and would
    // hold up the runtime's shutdown after a signal. The thread dies with the process.
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    let reader = std::thread::Builder::new().name("stdin-eof".into()).spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = eof_tx.send(());
    });
    let stdin_closed = async move {
        match reader {
            Ok(_) => drop(eof_rx.await),
            Err(_) => std::future::pending().await,
        }
    };
    let sigterm = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => drop(signal.recv().await),
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = sigterm => "SIGTERM",
        _ = stdin_closed => "end of stdin",
    }
}
