//! Tests of downloading URL entries against a real HTTP server on 127.0.0.1.
//!
//! The server is a tiny `std::net::TcpListener` loop in a thread. It serves a
//! fixed number of connections (or stops after a deadline), answers
//! `/plugin.wasm` with fixed bytes and everything else with 404, and reports
//! each request's method, path and headers back to the test. Without the `url` feature
//! there is no client, and one test checks that a `url` entry is refused.

#![cfg(feature = "url")]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use xtism_manifest::{HttpRequest, Manifest, ManifestError, Wasm};

const WASM_BYTES: &[u8] = b"\0asm\x01\0\0\0";
const WASM_SHA256: &str = "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476";
const OTHER_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What the server saw of one request.
#[derive(Debug)]
struct SeenRequest {
    method: String,
    path: String,
    /// Header names in lower case.
    headers: BTreeMap<String, String>,
}

struct Server {
    base_url: String,
    requests: Receiver<SeenRequest>,
    handle: JoinHandle<()>,
}

impl Server {
    /// Starts a server that handles at most `connections` connections and
    /// gives up after 20 seconds.
    fn start(connections: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let (tx, requests) = channel();
        let handle = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut served = 0;
            while served < connections && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        served += 1;
                        // A broken connection only fails the test that made it.
                        let _ = serve(stream, &tx);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("accept failed: {e}"),
                }
            }
        });
        Server {
            base_url,
            requests,
            handle,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn next_request(&self) -> SeenRequest {
        self.requests
            .recv_timeout(Duration::from_secs(10))
            .expect("the server saw no request")
    }

    fn stop(self) {
        self.handle.join().unwrap();
    }
}

/// Reads one request head and writes the response, then closes.
fn serve(mut stream: TcpStream, tx: &Sender<SeenRequest>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;

    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();

    let (status, body): (&str, &[u8]) = if path == "/plugin.wasm" {
        ("200 OK", WASM_BYTES)
    } else {
        ("404 Not Found", b"not found")
    };
    let _ = tx.send(SeenRequest {
        method,
        path,
        headers,
    });
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/wasm\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

#[test]
fn downloads_with_method_headers_and_correct_hash() {
    let server = Server::start(2);

    let wasm = Wasm::http(
        HttpRequest::new(server.url("/plugin.wasm")).with_header("Authorization", "Bearer xyz"),
    )
    .with_hash(WASM_SHA256);
    assert_eq!(wasm.load(None).unwrap(), WASM_BYTES);
    let seen = server.next_request();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/plugin.wasm");
    assert_eq!(
        seen.headers.get("authorization").map(String::as_str),
        Some("Bearer xyz")
    );

    // Through a parsed manifest, with a lower-case method.
    let json = format!(
        r#"{{"wasm": [{{"url": "{}", "method": "post", "headers": {{"X-Plugin": "yes"}}, "hash": "{WASM_SHA256}"}}]}}"#,
        server.url("/plugin.wasm")
    );
    let modules = Manifest::from_json(&json).unwrap().load_all(None).unwrap();
    assert_eq!(modules, vec![("main".to_string(), WASM_BYTES.to_vec())]);
    let seen = server.next_request();
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.headers.get("x-plugin").map(String::as_str),
        Some("yes")
    );

    server.stop();
}

#[test]
fn download_with_wrong_hash_is_refused() {
    let server = Server::start(1);
    let wasm = Wasm::url(server.url("/plugin.wasm"))
        .with_name("remote")
        .with_hash(OTHER_SHA256);
    match wasm.load(None) {
        Err(ManifestError::HashMismatch {
            name,
            expected,
            actual,
        }) => {
            assert_eq!(name, "remote");
            assert_eq!(expected, OTHER_SHA256);
            assert_eq!(actual, WASM_SHA256);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.next_request().method, "GET");
    server.stop();
}

#[test]
fn not_found_is_an_error_naming_url_and_status() {
    let server = Server::start(1);
    let url = server.url("/missing.wasm");
    let err = Wasm::url(url.clone()).load(None).unwrap_err();
    match &err {
        ManifestError::HttpStatus { url: u, status } => {
            assert_eq!(u, &url);
            assert_eq!(*status, 404);
        }
        other => panic!("{other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&url) && message.contains("404"),
        "{message}"
    );
    assert_eq!(server.next_request().path, "/missing.wasm");
    server.stop();
}

#[test]
fn connection_refused_is_an_http_error() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/plugin.wasm");
    match Wasm::url(url.clone()).load(None) {
        Err(ManifestError::Http { url: u, .. }) => assert_eq!(u, url),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_url_is_an_http_error() {
    let err = Wasm::url("not a url").load(None).unwrap_err();
    assert!(matches!(err, ManifestError::Http { .. }), "{err:?}");
}
