//! A TCP proxy between clients and ZooKeeper that can be switched to fail like a network.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use super::TestkitError;

/// How long [`FaultProxy::cut`] waits for its connections to close.
const CUT_WAIT: Duration = Duration::from_secs(5);

/// What a [`FaultProxy`] does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyMode {
    /// Forward bytes both ways, like a healthy network.
    Pass,
    /// A network partition: every connection stays open, nothing is forwarded in either
    /// direction, no RST or FIN is sent. New connections are accepted but get nothing.
    Blackhole,
    /// Every connection is closed at once; new connections are accepted and closed at once.
    Cut,
}

/// A TCP proxy in front of one ZooKeeper server or every member of an ensemble, for injecting
/// network faults between a client and ZooKeeper: [`pass`](Self::pass),
/// [`blackhole`](Self::blackhole) (a partition) and [`cut`](Self::cut) (connections reset).
///
/// It listens on one 127.0.0.1 port per upstream; give clients [`Self::connect_string`]
/// instead of the servers'. It runs on its own thread with a private single-threaded tokio
/// runtime, so it works the same under any test runtime (actix, tokio, none) and sleeps in
/// `epoll` when idle. Control methods take `&self` and are thread-safe.
///
/// **Blackhole, then pass:** held connections are *not* closed. Forwarding resumes where it
/// stopped, and bytes held meanwhile (in our buffer and the kernel's socket buffers) are
/// delivered late, as TCP retransmission would after a healed partition. Whatever a side did
/// meanwhile follows through: a client that gave up and closed its socket is seen closing, and
/// a server that expired the session and closed the connection is seen closing, once traffic
/// flows again. Connections accepted during the blackhole connect upstream only at `pass`.
///
/// Dropping the proxy (or [`Self::stop`]) closes every socket and joins its thread.
#[derive(Debug)]
pub struct FaultProxy {
    listen: Vec<SocketAddr>,
    upstreams: Vec<SocketAddr>,
    control: watch::Sender<Control>,
    counters: Arc<Counters>,
    /// Ends the runtime thread; `None` once stopped.
    running: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

/// What every connection task watches.
#[derive(Debug, Clone, Copy)]
struct Control {
    mode: ProxyMode,
    /// Bumped by every cut; a connection opened in an older epoch closes even if the mode is
    /// already back to `Pass` when it looks.
    cut_epoch: u64,
}

/// Counters shared between the proxy's handle and its connection tasks.
#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    /// Connections currently open (not counting those closed at accept during a cut).
    open: Mutex<usize>,
    /// Signalled whenever `open` drops.
    closed: Condvar,
}

impl FaultProxy {
    /// Starts a proxy with one listening port per upstream, in pass mode.
    ///
    /// # Notable errors
    /// * [`TestkitError::Io`] when a port cannot be bound or the runtime thread not started.
    pub fn start(upstreams: &[SocketAddr]) -> Result<FaultProxy, TestkitError> {
        let mut listeners = Vec::with_capacity(upstreams.len());
        let mut listen = Vec::with_capacity(upstreams.len());
        for _ in upstreams {
            let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .map_err(|e| TestkitError::io("binding a proxy port", e))?;
            listener.set_nonblocking(true).map_err(|e| TestkitError::io("making a proxy port non-blocking", e))?;
            listen.push(listener.local_addr().map_err(|e| TestkitError::io("reading a proxy port", e))?);
            listeners.push(listener);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestkitError::io("building the proxy runtime", e))?;
        let (control, watcher) = watch::channel(Control { mode: ProxyMode::Pass, cut_epoch: 0 });
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = {
            let counters = Arc::clone(&counters);
            let upstreams = upstreams.to_vec();
            std::thread::Builder::new()
                .name("zk-testkit-proxy".to_owned())
                .spawn(move || {
                    runtime.block_on(async move {
                        for (listener, upstream) in listeners.into_iter().zip(upstreams) {
                            match TcpListener::from_std(listener) {
                                Ok(listener) => {
                                    let accept = accept_loop(listener, upstream, watcher.clone(), counters.clone());
                                    tokio::spawn(accept);
                                }
                                // Only fails without a reactor, which `enable_all` provides.
                                Err(e) => tracing::error!("proxy port unusable: {e}"),
                            }
                        }
                        let _ = stopped.await;
                    });
                    // Dropping the runtime drops every task, closing every socket.
                    drop(runtime);
                })
                .map_err(|e| TestkitError::io("starting the proxy thread", e))?
        };
        Ok(FaultProxy {
            listen,
            upstreams: upstreams.to_vec(),
            control,
            counters,
            running: Mutex::new(Some((stop, thread))),
        })
    }

    /// Starts a proxy in front of every server of a ZooKeeper connect string such as
    /// `"127.0.0.1:2181,127.0.0.1:2182"` (a trailing chroot path is ignored).
    ///
    /// # Notable errors
    /// * [`TestkitError::InvalidAddress`] when a host does not resolve.
    /// * As [`Self::start`].
    pub fn for_connect_string(connect_string: &str) -> Result<FaultProxy, TestkitError> {
        Self::start(&parse_connect_string(connect_string)?)
    }

    /// The proxy's connect string, `127.0.0.1:p1,127.0.0.1:p2,...`, in upstream order.
    pub fn connect_string(&self) -> String {
        self.listen.iter().map(SocketAddr::to_string).collect::<Vec<_>>().join(",")
    }

    /// The proxy's listening addresses, in upstream order.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.listen
    }

    /// The servers behind the proxy.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// Forwards normally from now on; held connections resume (see the type docs).
    pub fn pass(&self) {
        self.control.send_modify(|c| c.mode = ProxyMode::Pass);
    }

    /// Partitions: holds every connection open and forwards nothing, from now on.
    pub fn blackhole(&self) {
        self.control.send_modify(|c| c.mode = ProxyMode::Blackhole);
    }

    /// Closes every open connection and closes new ones until [`Self::pass`] or
    /// [`Self::blackhole`]. Returns once all connections are closed (at most 5 s).
    pub fn cut(&self) {
        self.control.send_modify(|c| {
            c.mode = ProxyMode::Cut;
            c.cut_epoch += 1;
        });
        let deadline = Instant::now() + CUT_WAIT;
        let mut open = self.counters.open.lock().unwrap_or_else(PoisonError::into_inner);
        while *open > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            open = self.counters.closed.wait_timeout(open, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// The current mode.
    pub fn mode(&self) -> ProxyMode {
        self.control.borrow().mode
    }

    /// How many client connections the proxy has accepted, including those it closed at once
    /// because it was cut.
    pub fn connections_accepted(&self) -> u64 {
        self.counters.accepted.load(Ordering::Relaxed)
    }

    /// How many proxied connections are open now (held ones included).
    pub fn open_connections(&self) -> usize {
        *self.counters.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes every connection and listening port and joins the proxy's thread. Idempotent;
    /// also done on drop.
    pub fn stop(&self) {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some((stop, thread)) = running {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Parses `host:port[,host:port...][/chroot]` into addresses (first resolution of each host).
fn parse_connect_string(connect_string: &str) -> Result<Vec<SocketAddr>, TestkitError> {
    let invalid =
        |reason: &str| TestkitError::InvalidAddress { input: connect_string.to_owned(), reason: reason.to_owned() };
    let hosts = connect_string.split('/').next().unwrap_or_default();
    let addrs = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|host| {
            host.to_socket_addrs()
                .map_err(|e| invalid(&format!("{host}: {e}")))?
                .next()
                .ok_or_else(|| invalid(&format!("{host} resolves to nothing")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.is_empty() {
        return Err(invalid("no host:port"));
    }
    Ok(addrs)
}

/// Accepts clients on one port forever (until the runtime is dropped).
async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    control: watch::Receiver<Control>,
    counters: Arc<Counters>,
) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("proxy accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        counters.accepted.fetch_add(1, Ordering::Relaxed);
        let now = *control.borrow();
        if now.mode == ProxyMode::Cut {
            drop(client);
            continue;
        }
        let open = OpenConnection::new(Arc::clone(&counters));
        tokio::spawn(proxy_connection(client, upstream, control.clone(), now.cut_epoch, open));
    }
}

/// Counts a connection as open for as long as its task (or the task's future) lives.
struct OpenConnection(Arc<Counters>);

impl OpenConnection {
    fn new(counters: Arc<Counters>) -> Self {
        *counters.open.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        OpenConnection(counters)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let mut open = self.0.open.lock().unwrap_or_else(PoisonError::into_inner);
        *open = open.saturating_sub(1);
        self.0.closed.notify_all();
    }
}

/// Relays one client connection; returning drops (closes) both sockets.
async fn proxy_connection(
    client: TcpStream,
    upstream: SocketAddr,
    mut control: watch::Receiver<Control>,
    epoch: u64,
    _open: OpenConnection,
) {
    // A connection accepted during a blackhole waits here for `pass`, holding the client.
    if !until_pass(&mut control, epoch).await {
        return;
    }
    let upstream = match TcpStream::connect(upstream).await {
        Ok(upstream) => upstream,
        // The server is down: the client sees its connection closed.
        Err(_) => return,
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    // Either direction failing or being cut ends both; a clean EOF in one direction is passed
    // on as a half-close and the other direction keeps going.
    let _ = tokio::try_join!(
        relay(client_read, upstream_write, control.clone(), epoch),
        relay(upstream_read, client_write, control, epoch),
    );
}

/// Copies bytes one way while the proxy passes. `Ok` on a clean end of stream (passed on as a
/// half-close), `Err` when the connection must close (I/O error or cut).
async fn relay(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut control: watch::Receiver<Control>,
    epoch: u64,
) -> Result<(), ()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !until_pass(&mut control, epoch).await {
            return Err(());
        }
        let n = tokio::select! {
            read = from.read(&mut buf) => read.map_err(drop)?,
            // Mode changed: look again before reading (a blackhole leaves bytes unread).
            changed = control.changed() => {
                changed.map_err(drop)?;
                continue;
            }
        };
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        let mut written = 0;
        while written < n {
            if !until_pass(&mut control, epoch).await {
                return Err(());
            }
            tokio::select! {
                wrote = to.write(&buf[written..n]) => match wrote {
                    Ok(0) | Err(_) => return Err(()),
                    Ok(k) => written += k,
                },
                changed = control.changed() => changed.map_err(drop)?,
            }
        }
    }
}

/// Waits while the proxy is blackholed. `true` once it passes, `false` when this connection
/// was cut (or the proxy is stopping).
async fn until_pass(control: &mut watch::Receiver<Control>, epoch: u64) -> bool {
    loop {
        let now = *control.borrow_and_update();
        if now.cut_epoch != epoch || now.mode == ProxyMode::Cut {
            return false;
        }
        if now.mode == ProxyMode::Pass {
            return true;
        }
        if control.changed().await.is_err() {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_string_keeps_order_and_ignores_chroot() {
        let addrs = parse_connect_string("127.0.0.1:3,127.0.0.1:1, 127.0.0.1:2/app").expect("parsed");
        let ports: Vec<u16> = addrs.iter().map(SocketAddr::port).collect();
        assert_eq!(ports, [3, 1, 2]);
        assert!(parse_connect_string("").is_err());
        assert!(parse_connect_string("127.0.0.1").is_err());
    }

    #[test]
    fn proxy_ports_follow_upstream_order() -> Result<(), TestkitError> {
        let upstreams: Vec<SocketAddr> = (1..=3).map(|p| SocketAddr::from((Ipv4Addr::LOCALHOST, p))).collect();
        let proxy = FaultProxy::start(&upstreams)?;
        assert_eq!(proxy.upstreams(), &upstreams[..]);
        let listed: Vec<String> = proxy.addrs().iter().map(SocketAddr::to_string).collect();
        assert_eq!(proxy.connect_string(), listed.join(","));
        assert_eq!(proxy.mode(), ProxyMode::Pass);
        proxy.stop();
        proxy.stop();
        Ok(())
    }
}
