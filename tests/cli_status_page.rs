//! `zk-elect --http`'s status page (`GET /`) in a real headless Chromium, against real
//! `zk-elect` processes and a real ZooKeeper: the page follows a handover live over its event
//! stream, draws both terms and lists both candidates. Screenshots are left in
//! `target/status-page.png` (1280x800) and `target/status-page-phone.png` (390 wide), the final
//! DOM in `target/status-page.html`.
//!
//! Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
//! messages ended by a NUL byte, read on fd 3 and written on fd 4), because `--dump-dom` dumps
//! at the load event, before the page's event stream has said anything.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::http::exchange_with_head;
use common::*;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use zk_election::testkit::ZkServer;

const SECOND: Duration = Duration::from_secs(1);
const LATCH: &str = "/status/latch";
const LEADER: &str = "/status/leader";
const A: &str = "a.example:1";
const B: &str = "b.example:2";

/// What the test reads of the page: its documented hooks.
const HOOKS: &str = r#"(() => {
  const $ = (id) => document.getElementById(id);
  const text = (id) => ($(id) ? $(id).textContent : null);
  const stamped = $('leader-address') && $('leader-address').closest('[data-updated-ms]');
  return {
    address: text('leader-address'), sequence: text('leader-sequence'), state: text('leader-state'),
    updated_ms: stamped ? Number(stamped.getAttribute('data-updated-ms')) || null : null,
    terms: [...document.querySelectorAll('#timeline > *')].map((t) => [t.getAttribute('data-address'), t.textContent]),
    nodes: [...document.querySelectorAll('#candidates tr[data-node]')].map((r) => r.getAttribute('data-node')),
    disconnected: !!document.querySelector('#notice:not([hidden])'),
  };
})()"#;

fn unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// `target/` (the parent of Cargo's per-target temp dir).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target/tmp has a parent").to_owned()
}

/// Starts a campaign and answers it with the address its sidecar listens at.
async fn campaign(name: &str, connect: &str, address: &str) -> (ZkElect, String) {
    let mut args = vec!["campaign", "--connect", connect, "--latch-path", LATCH, "--leader-path", LEADER];
    args.extend(["--address", address, "--json", "--http", "127.0.0.1:0"]);
    let mut process = ZkElect::spawn(name, &args);
    let http = process.next(10 * SECOND).await;
    assert_eq!(http["event"], "http", "{name}: the first event names the sidecar's address");
    let address = http["address"].as_str().unwrap().to_owned();
    process.expect_where("connection", 10 * SECOND, |e| e["state"] == "connected").await;
    (process, address)
}

/// A headless Chromium in its own process group and profile, driven over the DevTools pipe;
/// the whole group is killed when dropped, whatever happened.
struct Chromium {
    process: Child,
    to_browser: File,
    from_browser: mpsc::UnboundedReceiver<Value>,
    next_id: u64,
    session: Option<String>,
    /// Exceptions the page threw (`Runtime.exceptionThrown`).
    exceptions: Vec<Value>,
    stderr: PathBuf,
    _profile: tempfile::TempDir,
}

impl Chromium {
    fn launch() -> Chromium {
        let profile = tempfile::tempdir().expect("a temp dir");
        let stderr = profile.path().join("stderr.log");
        let (theirs_in, ours_to) = pipe();
        let (ours_from, theirs_out) = pipe();
        let (fd_in, fd_out) = (raw(&theirs_in), raw(&theirs_out));
        let mut command = Command::new("chromium");
        command
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--hide-scrollbars"])
            .args(["--no-first-run", "--no-default-browser-check", "--window-size=1280,800"])
            .arg(format!("--user-data-dir={}", profile.path().join("profile").display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).expect("chromium's stderr file"))
            .process_group(0);
        // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2, close) on fds
        // this process owns; the pipes are close-on-exec except as fd 3 and 4 of the child.
        unsafe {
            command.pre_exec(move || {
                let (input, output) = (libc::fcntl(fd_in, libc::F_DUPFD, 10), libc::fcntl(fd_out, libc::F_DUPFD, 10));
                if input < 0 || output < 0 || libc::dup2(input, 3) < 0 || libc::dup2(output, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(input);
                libc::close(output);
                Ok(())
            });
        }
        let process = command.spawn().unwrap_or_else(|err| {
            panic!(
                "cannot start `chromium` ({err}): this test needs a headless Chromium on PATH, Debian's \
                 `chromium` package, which .ci/run installs (apt-get install chromium)"
            )
        });
        drop((theirs_in, theirs_out));
        let (sender, from_browser) = mpsc::unbounded_channel();
        let mut reader = File::from(ours_from);
        std::thread::spawn(move || {
            let (mut pending, mut chunk) = (Vec::new(), [0u8; 64 * 1024]);
            while let Ok(read @ 1..) = reader.read(&mut chunk) {
                pending.extend_from_slice(&chunk[..read]);
                while let Some(end) = pending.iter().position(|&b| b == 0) {
                    let message: Vec<u8> = pending.drain(..=end).collect();
                    let Ok(message) = serde_json::from_slice(&message[..end]) else { continue };
                    if sender.send(message).is_err() {
                        return;
                    }
                }
            }
        });
        Chromium {
            process,
            to_browser: File::from(ours_to),
            from_browser,
            next_id: 0,
            session: None,
            exceptions: Vec::new(),
            stderr,
            _profile: profile,
        }
    }

    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Sends `method` (to the attached page, if any) and answers its result within 10 s.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        if let Err(err) = self.to_browser.write_all(&bytes) {
            panic!("chromium does not read its pipe ({err}); its stderr:\n{}", self.stderr_tail());
        }
        let deadline = tokio::time::Instant::now() + 10 * SECOND;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.from_browser.recv()).await {
                Ok(Some(message)) => message,
                Ok(None) => panic!("chromium closed its pipe during {method}; its stderr:\n{}", self.stderr_tail()),
                Err(_) => panic!("chromium: no answer to {method} within 10 s; its stderr:\n{}", self.stderr_tail()),
            };
            if message["method"] == "Runtime.exceptionThrown" {
                self.exceptions.push(message["params"]["exceptionDetails"].clone());
            }
            if message["id"] == id {
                assert!(message.get("error").is_none(), "chromium refused {method}: {message}");
                return message["result"].clone();
            }
        }
    }

    /// Opens a page at 1280x800 and attaches to it (later calls go to it).
    async fn open(&mut self, url: &str) {
        let target = self.call("Target.createTarget", json!({"url": "about:blank"})).await["targetId"].clone();
        let attached = self.call("Target.attachToTarget", json!({"targetId": target, "flatten": true})).await;
        self.session = Some(attached["sessionId"].as_str().expect("a session id").to_owned());
        self.call("Runtime.enable", json!({})).await;
        self.viewport(1280, 800, false).await;
        let navigated = self.call("Page.navigate", json!({"url": url})).await;
        assert!(navigated.get("errorText").is_none(), "chromium cannot load {url}: {navigated}");
    }

    async fn viewport(&mut self, width: u32, height: u32, mobile: bool) {
        let scale = if mobile { 2 } else { 1 };
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile});
        self.call("Emulation.setDeviceMetricsOverride", metrics).await;
    }

    /// The value of the JavaScript `expression` in the page.
    async fn evaluate(&mut self, expression: &str) -> Value {
        let params = json!({"expression": expression, "returnByValue": true});
        let result = self.call("Runtime.evaluate", params).await;
        assert!(result.get("exceptionDetails").is_none(), "the expression threw: {result}");
        result["result"]["value"].clone()
    }

    /// Reads the page's hooks every 20 ms until `wanted` holds; panics with the last reading
    /// after `within`.
    async fn until(&mut self, within: Duration, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let hooks = self.evaluate(HOOKS).await;
            if wanted(&hooks) {
                return hooks;
            }
            assert!(Instant::now() < deadline, "the page: {what} not within {within:?}; it shows {hooks:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"})).await;
        let png = base64_decode(shot["data"].as_str().expect("base64 PNG data"));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
    }

    /// Asks the browser to close, then makes sure its whole process group is gone.
    async fn close(mut self) {
        self.session = None;
        let _ = self.to_browser.write_all(b"{\"id\":999999,\"method\":\"Browser.close\",\"params\":{}}\0");
        let deadline = Instant::now() + 5 * SECOND;
        while self.process.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions; the group is the one it leads.
        unsafe { libc::kill(-(self.process.id() as i32), libc::SIGKILL) };
        let _ = self.process.wait();
        if std::thread::panicking() {
            eprintln!("--- chromium's stderr (last lines) ---\n{}", self.stderr_tail());
        }
    }
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array it is given.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0, "pipe2");
    // SAFETY: both fds were just opened and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

fn raw(fd: &OwnedFd) -> i32 {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).map(value).collect();
    let mut bytes = Vec::with_capacity(digits.len() * 3 / 4);
    for quad in digits.chunks(4) {
        let word = quad.iter().enumerate().fold(0u32, |word, (i, &d)| word | ((d as u32) << (18 - 6 * i)));
        bytes.extend_from_slice(&word.to_be_bytes()[1..quad.len()]);
    }
    bytes
}

#[actix_rt::test]
async fn the_status_page_follows_a_handover_live() {
    init_tracing();
    let server = ZkServer::start().expect("zookeeper");
    let cs = server.connect_string();
    let (zk, _s) = connected_session(&cs, 4 * SECOND).await;
    let (mut a, a_http) = campaign("campaign a", &cs, A).await;
    a.expect("published", 10 * SECOND).await;
    let (mut b, _b_http) = campaign("campaign b", &cs, B).await;
    await_children(&zk, LATCH, 2, 10 * SECOND).await;

    // The page itself, as served.
    let (status, head, body) = exchange_with_head(&a_http, "GET / HTTP/1.1\r\nHost: test\r\n\r\n").await;
    assert_eq!(status, 200, "GET /: {head}");
    assert!(head.to_ascii_lowercase().contains("content-type: text/html; charset=utf-8"), "GET /: {head}");
    assert!(body.contains(r#"id="leader-address""#), "GET / is not the status page: {body:.200}");

    let mut chromium = Chromium::launch();
    let launched = Instant::now();
    chromium.open(&format!("http://{a_http}/")).await;
    let shown = chromium.until(15 * SECOND, "a leading", |p| p["address"] == A && p["state"] == "leading").await;
    println!("the page showed a {:?} after chromium started", launched.elapsed());
    assert!(shown["sequence"].as_str().is_some_and(|s| s.parse::<u64>().is_ok()), "{shown:#}");

    // A second after chromium started, a resigns; b takes over.
    tokio::time::sleep_until((launched + SECOND).into()).await;
    let resigned_ms = unix_ms();
    a.say("resign").await;
    a.expect("revoked", 5 * SECOND).await;
    let published_ms = b.expect("published", 10 * SECOND).await["ts_ms"].as_i64().unwrap();
    let shown = chromium.until(5 * SECOND, "b leading", |p| p["address"] == B && p["state"] == "leading").await;
    let updated_ms = shown["updated_ms"].as_i64().unwrap_or_else(|| panic!("no data-updated-ms: {shown:#}"));
    println!(
        "the page showed b {} ms after the resign was sent, {} ms after b printed published",
        updated_ms - resigned_ms,
        updated_ms - published_ms
    );
    assert!(updated_ms - resigned_ms <= 1000, "b shown {} ms after the resign", updated_ms - resigned_ms);
    assert!(updated_ms - published_ms <= 1000, "b shown {} ms after it published", updated_ms - published_ms);
    assert!(!shown["disconnected"].as_bool().unwrap(), "the page says its stream is down: {shown:#}");

    // The timeline: a's ended term, then b's current one.
    let shown = chromium
        .until(5 * SECOND, "both terms", |p| {
            let addresses: Vec<Option<&str>> = p["terms"].as_array().unwrap().iter().map(|t| t[0].as_str()).collect();
            addresses == [Some(A), Some(B)]
        })
        .await;
    let (a_term, b_term) = (shown["terms"][0][1].as_str().unwrap(), shown["terms"][1][1].as_str().unwrap());
    println!("timeline: {a_term:?}, {b_term:?}");
    assert!(b_term.contains("current") && !a_term.contains("current"), "{shown:#}");

    // The line: a queued again behind b; the page lists the latch's nodes in line order (named
    // as /candidates names them: compared by their last path segment).
    let mut line = await_children(&zk, LATCH, 2, 10 * SECOND).await;
    line.sort_by_key(|node| node.rsplit("-latch-").next().unwrap().to_owned());
    let line: Vec<Option<String>> = line.into_iter().map(Some).collect();
    let name = |node: &Value| node.as_str().and_then(|node| node.rsplit('/').next()).map(str::to_owned);
    let shown = chromium
        .until(5 * SECOND, "both candidates, b first", |p| {
            p["nodes"].as_array().unwrap().iter().map(name).collect::<Vec<_>>() == line
        })
        .await;
    println!("candidates' data-node: {}", shown["nodes"]);
    assert_eq!(shown["address"], B, "{shown:#}");

    let target = target_dir();
    chromium.screenshot(&target.join("status-page.png")).await;
    let dom = chromium.evaluate("document.documentElement.outerHTML").await;
    std::fs::write(target.join("status-page.html"), dom.as_str().unwrap()).unwrap();
    chromium.viewport(390, 844, true).await;
    chromium.screenshot(&target.join("status-page-phone.png")).await;
    let exceptions = std::mem::take(&mut chromium.exceptions);
    assert!(exceptions.is_empty(), "the page threw: {exceptions:#?}");
    chromium.close().await;

    for process in [&mut a, &mut b] {
        process.say("quit").await;
        process.expect_clean_exit(0).await;
    }
}
