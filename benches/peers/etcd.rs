//! etcd for the bench: one member or a cluster on free loopback ports, its data on tmpfs, and
//! `etcdctl elect` contenders against it.
//!
//! Every URL is `http://127.0.0.1:…`, client and peer alike: nothing listens beyond loopback.
//! `--unsafe-no-fsync` (etcd ≥ 3.4.15) is the analogue of the ZooKeeper servers' `forceSync=no`;
//! the data directory on /dev/shm makes what is left of the disk a memory copy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a new cluster gets to elect its raft leader and serve.
const START_LIMIT: Duration = Duration::from_secs(20);

/// A running etcd cluster (one member for the standalone figures), stopped and its data
/// removed when dropped.
pub(crate) struct Etcd {
    members: Vec<std::process::Child>,
    clients: Vec<SocketAddr>,
    dir: PathBuf,
}

impl Etcd {
    /// Starts `size` members and waits until every one reports itself healthy. Logs go to
    /// `logs/etcd-<label>-<i>.log`.
    pub(crate) fn start(size: usize, label: &str, logs: &Path) -> Result<Etcd, String> {
        which("etcd")?;
        let ports = free_ports(2 * size)?;
        let (client_ports, peer_ports) = ports.split_at(size);
        let base = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let dir = base.join(format!("zk-election-peers-etcd-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let cluster: Vec<String> =
            peer_ports.iter().enumerate().map(|(i, p)| format!("m{i}=http://127.0.0.1:{p}")).collect();
        let mut etcd = Etcd {
            members: Vec::new(),
            clients: client_ports.iter().map(|p| SocketAddr::from(([127, 0, 0, 1], *p))).collect(),
            dir,
        };
        for i in 0..size {
            let log = logs.join(format!("etcd-{label}-{i}.log"));
            let log = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
            let client = format!("http://127.0.0.1:{}", client_ports[i]);
            let peer = format!("http://127.0.0.1:{}", peer_ports[i]);
            let child = Command::new("etcd")
                .arg(format!("--name=m{i}"))
                .arg(format!("--data-dir={}", etcd.dir.join(format!("m{i}")).display()))
                .arg(format!("--listen-client-urls={client}"))
                .arg(format!("--advertise-client-urls={client}"))
                .arg(format!("--listen-peer-urls={peer}"))
                .arg(format!("--initial-advertise-peer-urls={peer}"))
                .arg(format!("--initial-cluster={}", cluster.join(",")))
                .arg("--initial-cluster-state=new")
                .arg(format!("--initial-cluster-token=zk-election-peers-{label}"))
                .arg("--unsafe-no-fsync")
                .arg("--logger=zap")
                .arg("--log-outputs=stderr")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .map_err(|e| format!("cannot start etcd: {e}"))?;
            etcd.members.push(child);
        }
        etcd.wait_healthy()?;
        Ok(etcd)
    }

    /// `--endpoints` for etcdctl: every member.
    pub(crate) fn endpoints(&self) -> String {
        self.clients.iter().map(|a| format!("http://{a}")).collect::<Vec<_>>().join(",")
    }

    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            for (i, member) in self.members.iter_mut().enumerate() {
                if let Ok(Some(status)) = member.try_wait() {
                    return Err(format!("etcd member {i} exited during start ({status}); see its log"));
                }
            }
            let healthy = self.clients.iter().all(|&addr| {
                http(addr, "GET", "/health", "").is_ok_and(|v| v["health"] == "true" || v["health"] == true)
            });
            if healthy {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("etcd not healthy within {START_LIMIT:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// How many keys start with `prefix` (an election's candidates), through the first
    /// member's JSON gateway.
    pub(crate) fn count(&self, prefix: &str) -> Result<usize, String> {
        let mut end = prefix.as_bytes().to_vec();
        // The range of keys with this prefix ends at the prefix with its last byte + 1.
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let body =
            format!(r#"{{"key":"{}","range_end":"{}","count_only":true}}"#, base64(prefix.as_bytes()), base64(&end));
        let answer = http(self.clients[0], "POST", "/v3/kv/range", &body)?;
        // proto3's JSON leaves out zero values, and writes 64-bit integers as strings.
        match &answer["count"] {
            Value::Null => Ok(0),
            Value::String(s) => s.parse().map_err(|e| format!("count {s:?}: {e}")),
            Value::Number(n) => n.as_u64().map(|n| n as usize).ok_or_else(|| format!("count {n}")),
            other => Err(format!("unexpected count {other}")),
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Ok(pid) = libc::pid_t::try_from(member.id()) {
                // SAFETY: kill(2) on a child we spawned and have not reaped yet.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for member in &mut self.members {
            while matches!(member.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = member.kill();
            let _ = member.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `program` is on the PATH, with the package to install if not.
fn which(program: &str) -> Result<(), String> {
    match Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("`{program}` not found (scripts/install-peers.sh installs etcd-server and etcd-client)")),
    }
}

/// `n` distinct ports free on 127.0.0.1 a moment ago (all probes held until all are chosen).
fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    let probes: Vec<TcpListener> =
        (0..n).map(|_| TcpListener::bind("127.0.0.1:0")).collect::<Result<_, _>>().map_err(|e| e.to_string())?;
    probes.iter().map(|l| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())).collect()
}

/// One HTTP/1.0 request (so the answer is never chunked and ends when the server closes) with
/// a JSON answer.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> Result<Value, String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    let (head, body) = answer.split_once("\r\n\r\n").ok_or("no HTTP header")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(format!("{method} {path}: {}", head.lines().next().unwrap_or_default()));
    }
    serde_json::from_str(body).map_err(|e| format!("{method} {path}: {e}: {body}"))
}

/// Standard base64 with padding, as proto3's JSON wants bytes.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The etcd and etcdctl versions (`etcd --version`, `etcdctl version`), first lines.
pub(crate) fn versions() -> (String, String) {
    let first_line = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().next().map(str::to_owned))
            .unwrap_or_else(|| "not found".to_owned())
    };
    (first_line("etcd", "--version"), first_line("etcdctl", "version"))
}
