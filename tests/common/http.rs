//! A small HTTP client for the `--http` sidecar: one request per connection, and its event
//! stream read line by line.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const SECOND: Duration = Duration::from_secs(1);

/// Sends `request` as is; answers the status code and the body of the response.
pub async fn exchange(address: &str, request: &str) -> (u16, String) {
    let (status, _head, body) = exchange_with_head(address, request).await;
    (status, body)
}

/// Sends `request` as is; answers the status code, the head and the body of the response.
pub async fn exchange_with_head(address: &str, request: &str) -> (u16, String, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.expect("sidecar listens");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("the sidecar answers and closes");
        response
    };
    let response = tokio::time::timeout(5 * SECOND, exchange).await.expect("an answer within 5 s");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head: {response:?}"));
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("{head}"));
    assert!(head.contains("Connection: close"), "{head}");
    (status, head.to_owned(), body.to_owned())
}

pub async fn get(address: &str, path: &str) -> (u16, String) {
    exchange(address, &format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")).await
}

/// The JSON document at `path`, which must answer 200.
pub async fn get_json(address: &str, path: &str) -> Value {
    let (status, body) = get(address, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("{path}: {err}: {body}"))
}

/// The value of the sample `series` in `/metrics`.
pub async fn sample(address: &str, series: &str) -> Option<f64> {
    let (status, body) = get(address, "/metrics").await;
    assert_eq!(status, 200);
    body.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// An open `/leader/watch`.
pub struct Watch(tokio::io::Lines<BufReader<TcpStream>>);

impl Watch {
    pub async fn open(address: &str) -> Watch {
        Watch::resume(address, None).await
    }

    /// A stream that resumes after the event `last_event_id`, if given.
    pub async fn resume(address: &str, last_event_id: Option<&str>) -> Watch {
        let mut stream = TcpStream::connect(address).await.expect("sidecar listens");
        let resume = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
        let request = format!("GET /leader/watch HTTP/1.1\r\nHost: test\r\n{resume}\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut lines = BufReader::new(stream).lines();
        let status = lines.next_line().await.unwrap().expect("a status line");
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        let mut head = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap().filter(|line| !line.is_empty()) {
            head.push(line);
        }
        assert!(head.iter().any(|h| h == "Content-Type: text/event-stream"), "{head:?}");
        Watch(lines)
    }

    /// The next event's data.
    pub async fn next(&mut self, within: Duration) -> Value {
        self.next_with_id(within).await.1
    }

    /// The next event's id (if it has one) and data.
    pub async fn next_with_id(&mut self, within: Duration) -> (Option<String>, Value) {
        let read = async {
            let mut id = None;
            loop {
                let line = self.0.next_line().await.unwrap().expect("the stream stays open");
                if let Some(value) = line.strip_prefix("id: ") {
                    id = Some(value.to_owned());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    return (id, serde_json::from_str(data).unwrap());
                }
            }
        };
        tokio::time::timeout(within, read).await.expect("an event in time")
    }
}
