//! The HTTP/1.1 plumbing of the sidecar: reading and checking a request head within limits,
//! writing a response and closing the connection without losing it.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{MAX_HEAD, MAX_HEADERS, WRITE_WITHIN};

/// A request as far as we care: its method, path (without the query), and the
/// `Last-Event-ID` an event stream resumes from.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Request {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) last_event_id: Option<String>,
}

/// Why a request head could not be taken.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum HeadError {
    /// Malformed: 400.
    Bad,
    /// Longer than [`MAX_HEAD`] or [`MAX_HEADERS`]: 431.
    TooLarge,
    /// The client closed, or sent nothing in time: no answer.
    Gone,
}

/// Reads up to the blank line that ends a request head.
pub(super) async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> Result<Vec<u8>, HeadError> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let read = stream.read(&mut chunk).await.map_err(|_| HeadError::Gone)?;
        if read == 0 {
            return Err(HeadError::Gone);
        }
        let searched_from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..read]);
        if let Some(end) = head_end(&head[searched_from..]) {
            head.truncate(searched_from + end);
            return Ok(head);
        }
        if head.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
    }
}

/// Where the head in `bytes` ends (after `\r\n\r\n`, or `\n\n` from lenient clients), if it does.
pub(super) fn head_end(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len()).find_map(|i| {
        let rest = &bytes[i..];
        if rest.starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if rest.starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

/// The method and path of a request head; checks the request line and the shape of headers.
pub(super) fn parse_head(head: &[u8]) -> Result<Request, HeadError> {
    if head.len() > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let head = std::str::from_utf8(head).map_err(|_| HeadError::Bad)?;
    let mut lines = head.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line));
    let request_line = lines.next().ok_or(HeadError::Bad)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Bad);
    };
    let token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token(method) || !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(HeadError::Bad);
    }
    let mut headers = 0;
    let mut last_event_id = None;
    for line in lines.filter(|line| !line.is_empty()) {
        headers += 1;
        if headers > MAX_HEADERS {
            return Err(HeadError::TooLarge);
        }
        match line.split_once(':') {
            Some((name, value)) if token(name) => {
                if name.eq_ignore_ascii_case("last-event-id") {
                    last_event_id = Some(value.trim().to_owned());
                }
            }
            _ => return Err(HeadError::Bad),
        }
    }
    // Origin form (`/path?query`), or absolute form (`http://host/path`) as proxies send it.
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |slash| &rest[slash..]),
        None if target.starts_with('/') => target,
        None => return Err(HeadError::Bad),
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    Ok(Request { method: method.to_owned(), path: path.to_owned(), last_event_id })
}

/// Writes a whole response and closes the connection.
pub(super) async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    let mut bytes = response.into_bytes();
    bytes.extend_from_slice(body);
    write_all(stream, &bytes).await?;
    close(stream).await;
    Ok(())
}

/// Closes our side, then reads (and drops) what the client still sends, briefly: closing a
/// socket with unread data resets the connection, which may discard the response in flight.
pub(super) async fn close(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 1024];
        let mut left: usize = 64 * 1024;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(read) => left = left.saturating_sub(read),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

pub(super) async fn write_all(stream: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> std::io::Result<()> {
    match tokio::time::timeout(WRITE_WITHIN, stream.write_all(bytes)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "client does not read")),
    }
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<Request, HeadError> {
        parse_head(head.as_bytes())
    }

    #[test]
    fn request_heads() {
        let get = |path: &str| Ok(Request { method: "GET".into(), path: path.into(), last_event_id: None });
        assert_eq!(parse("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"), get("/metrics"));
        assert_eq!(parse("GET /leader?pretty=1 HTTP/1.0\n\n"), get("/leader"));
        assert_eq!(parse("GET http://h:1/healthz HTTP/1.1\r\n\r\n"), get("/healthz"));
        assert_eq!(parse("POST /leader HTTP/1.1\r\nContent-Length: 3\r\n\r\n").unwrap().method, "POST");
        let resumed = parse("GET /leader/watch HTTP/1.1\r\nlast-event-ID:  17 \r\n\r\n").unwrap();
        assert_eq!(resumed.last_event_id.as_deref(), Some("17"));
        for bad in [
            "GET /metrics\r\n\r\n",
            "GET  /metrics HTTP/1.1\r\n\r\n",
            "GET /metrics HTTP/2\r\n\r\n",
            "GET metrics HTTP/1.1\r\n\r\n",
            "G(T /metrics HTTP/1.1\r\n\r\n",
            "GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
            "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
        ] {
            assert_eq!(parse(bad), Err(HeadError::Bad), "{bad:?}");
        }
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(MAX_HEADERS + 1));
        assert_eq!(parse(&many), Err(HeadError::TooLarge));
    }

    #[test]
    fn heads_end_at_the_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    }

    #[tokio::test]
    async fn heads_are_read_with_a_limit() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        client.write_all(b"GET /leader HTTP/1.1\r\nHost: x\r\n\r\nextra").await.unwrap();
        assert_eq!(read_head(&mut server).await.unwrap(), b"GET /leader HTTP/1.1\r\nHost: x\r\n\r\n");
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        client.write_all(&vec![b'a'; MAX_HEAD + 2048]).await.unwrap();
        assert_eq!(read_head(&mut server).await, Err(HeadError::TooLarge));
        drop(client);
        let (client, mut server) = tokio::io::duplex(1024);
        drop(client);
        assert_eq!(read_head(&mut server).await, Err(HeadError::Gone));
    }
}
