//! A small HTTP/1.1 server on 127.0.0.1 for the HTTP cases: real sockets, one thread per
//! connection, every connection counted, so a test can tell that a denied request never
//! reached it.
//!
//! Routes:
//! - `/echo`: 200 with a JSON object of the request: `method`, `path`, `headers`
//!   (lowercase names) and `body` (as UTF-8, lossily);
//! - `/status/<code>`: that status, the header `x-status: <code>` and the body
//!   `status <code>`;
//! - `/bytes/<n>`: 200 with `n` bytes of `abc…z` repeated;
//! - `/slow/<ms>`: waits `ms` milliseconds, then 200 `slow`;
//! - `/slow-body/<ms>`: 200 with the head and half of the body `slowbody`, the rest after
//!   `ms` milliseconds;
//! - `/huge-header`: 200 with a 100 KiB header;
//! - `/binary-header`: 200 with a header whose value is not UTF-8 (`x-binary`) and one that
//!   is (`x-fine: ok`);
//! - `/redirect?to=<url>`: 302 to `<url>`;
//! - `/gzip/<n>`: 200 with `content-encoding: gzip` and `n` bytes `0x1f` (not gzip data);
//! - anything else: 404.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A running test server; it serves until the process ends.
#[derive(Debug, Clone)]
pub struct TestServer {
    base: String,
    hits: Arc<AtomicUsize>,
}

impl TestServer {
    /// Starts a server on a free port of 127.0.0.1.
    ///
    /// # Panics
    ///
    /// When no port can be bound (a test helper: the test cannot run).
    pub fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("a bound address"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || serve(stream));
            }
        });
        TestServer { base, hits }
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The `host:port` this server listens on.
    pub fn authority(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// How many connections the server has accepted.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A request as the server read it.
struct Request {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// Reads the request line, the headers and a `content-length` body; `None` when the client
/// sent something else or went away.
fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length = headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// What the server answers: status, extra headers, body.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
}

impl Reply {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn with_header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// The reply to `request`, by its path (see the module docs).
fn route(request: &Request) -> Reply {
    let path = request.path.as_str();
    if path == "/echo" {
        let echo = serde_json::json!({
            "method": request.method,
            "path": request.path,
            "headers": request.headers,
            "body": String::from_utf8_lossy(&request.body),
        });
        Reply::new(200, echo.to_string()).with_header("content-type", "application/json")
    } else if let Some(code) = path.strip_prefix("/status/") {
        let code: u16 = code.parse().unwrap_or(400);
        Reply::new(code, format!("status {code}")).with_header("x-status", code.to_string())
    } else if let Some(n) = path.strip_prefix("/bytes/") {
        let n = n.parse().unwrap_or(0);
        Reply::new(200, (b'a'..=b'z').cycle().take(n).collect::<Vec<u8>>())
    } else if let Some(ms) = path.strip_prefix("/slow/") {
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
        Reply::new(200, "slow")
    } else if path == "/huge-header" {
        Reply::new(200, "huge").with_header("x-huge", vec![b'h'; 100 * 1024])
    } else if path == "/binary-header" {
        Reply::new(200, "binary")
            .with_header("x-binary", [0xff, 0xfe])
            .with_header("x-fine", "ok")
    } else if let Some(n) = path.strip_prefix("/gzip/") {
        let n = n.parse().unwrap_or(0);
        Reply::new(200, vec![0x1f; n]).with_header("content-encoding", "gzip")
    } else if let Some(to) = path.strip_prefix("/redirect?to=") {
        Reply::new(302, "").with_header("location", to)
    } else {
        Reply::new(404, "not found")
    }
}

/// Answers one request on `stream`, then closes it.
fn serve(mut stream: TcpStream) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    if let Some(ms) = request.path.strip_prefix("/slow-body/") {
        let head = "HTTP/1.1 200 X\r\ncontent-length: 8\r\nconnection: close\r\n\r\nslow";
        let _ = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.flush());
        std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
        let _ = stream.write_all(b"body");
        return;
    }
    let reply = route(&request);
    let mut head = format!("HTTP/1.1 {} X\r\n", reply.status).into_bytes();
    for (name, value) in &reply.headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(
        format!(
            "content-length: {}\r\nconnection: close\r\n\r\n",
            reply.body.len()
        )
        .as_bytes(),
    );
    // The client may have gone (a cancel, a timeout): nothing to do about it.
    let _ = stream
        .write_all(&head)
        .and_then(|()| stream.write_all(&reply.body));
}
