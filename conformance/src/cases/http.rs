//! The HTTP cases, against a real server on 127.0.0.1 that each case starts
//! ([`TestServer`]): requests from the AssemblyScript plug-in `as/http.wasm` (built with the
//! official PDK) and, for the hostile cases, from `wat/kernel.wat`.

use super::prelude::*;
use crate::TestServer;

/// The AS plug-in `as/http.wasm`, allowed to reach `hosts`.
fn http_plugin(engine: &str, hosts: &[&str], response_headers: bool) -> Plugin {
    builder(engine, &plugin("as/http.wasm"))
        .with_allowed_hosts(hosts.iter().copied())
        .with_http_response_headers(response_headers)
        .build()
        .unwrap()
}

/// The kernel plug-in, allowed to reach 127.0.0.1.
fn http_kernel(engine: &str) -> PluginBuilder<'static> {
    let wasm: &'static [u8] = kernel().leak();
    builder(engine, wasm).with_allowed_host("127.0.0.1")
}

/// The `{"status", "headers", "body"}` an `as/http.wasm` export outputs.
fn as_http(p: &mut Plugin, export: &str, input: &str) -> serde_json::Value {
    let Json(out): Json<serde_json::Value> = p.call(export, input).unwrap();
    out
}

/// A request JSON for `kernel.wat`'s `http` export.
fn request_json(url: &str, headers: serde_json::Value) -> String {
    serde_json::json!({"url": url, "headers": headers}).to_string()
}

#[case]
fn http_get_and_post_with_headers(engine: &'static str) {
    let server = TestServer::start();
    let mut p = http_plugin(engine, &["127.0.0.1"], false);
    let out = as_http(&mut p, "http_get", &server.url("/echo"));
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["headers"], serde_json::Value::Null, "not enabled");
    let echo: serde_json::Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["headers"]["accept"], "text/plain");
    assert_eq!(echo["body"], "");

    let input = format!("{}\nhello, body ü", server.url("/echo"));
    let out = as_http(&mut p, "http_post", &input);
    assert_eq!(out["status"], 200, "{out}");
    let echo: serde_json::Value = serde_json::from_str(out["body"].as_str().unwrap()).unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "hello, body ü");
    assert_eq!(echo["headers"]["content-type"], "text/plain");
    assert_eq!(echo["headers"]["x-plugin"], "as/http");
    assert_eq!(server.hits(), 2);

    // Older PDKs name the headers `header`, which the official runtime accepts too.
    let mut p = http_kernel(engine).build().unwrap();
    let request =
        serde_json::json!({"url": server.url("/echo"), "method": "put", "header": {"x-old": "1"}});
    let Json(echo): Json<serde_json::Value> = p.call("http", request.to_string().as_str()).unwrap();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["headers"]["x-old"], "1");
}

#[case]
fn http_status_codes_keep_body_and_headers(engine: &'static str) {
    let server = TestServer::start();
    let mut p = http_plugin(engine, &["127.0.0.1"], true);
    for code in [404, 500, 201] {
        let out = as_http(&mut p, "http_get", &server.url(&format!("/status/{code}")));
        assert_eq!(out["status"], code, "{out}");
        assert_eq!(out["body"], format!("status {code}"));
        assert_eq!(out["headers"]["x-status"], code.to_string(), "{out}");
        assert_eq!(out["headers"]["content-length"], "10", "{out}");
    }
    // Headers describe the last response only.
    let out = as_http(&mut p, "http_get", &server.url("/echo"));
    assert_eq!(out["headers"]["content-type"], "application/json", "{out}");
    assert!(out["headers"].get("x-status").is_none(), "{out}");
}

#[case]
fn http_response_headers_only_when_enabled(engine: &'static str) {
    let server = TestServer::start();
    let request = request_json(&server.url("/status/404"), serde_json::json!({}));
    let mut p = http_kernel(engine).build().unwrap();
    assert_eq!(call_facts(&mut p, "http_getters", b""), vec![0, 0]);
    let out: String = p.call("http", request.as_str()).unwrap();
    assert_eq!(out, "status 404");
    assert_eq!(call_facts(&mut p, "http_getters", b""), vec![404, 0]);

    let mut p = http_kernel(engine)
        .with_http_response_headers(true)
        .build()
        .unwrap();
    let before = call_facts(&mut p, "http_getters", b"");
    assert_eq!(before[0], 0);
    assert_ne!(
        before[1], 0,
        "enabled headers are a block, {{}} before any request"
    );
    let _: &[u8] = p.call("http", request.as_str()).unwrap();
    let after = call_facts(&mut p, "http_getters", b"");
    assert_eq!(after[0], 404);
    assert_ne!(after[1], 0);
}

#[case]
fn http_large_body(engine: &'static str) {
    let server = TestServer::start();
    let mut p = http_kernel(engine).build().unwrap();
    let size = 6 * 1024 * 1024 + 7;
    let request = request_json(
        &server.url(&format!("/bytes/{size}")),
        serde_json::json!({}),
    );
    let out: &[u8] = p.call("http", request.as_str()).unwrap();
    assert_eq!(out.len(), size);
    assert!(out.iter().zip((b'a'..=b'z').cycle()).all(|(a, b)| *a == b));
}

#[case]
fn http_response_over_the_limit(engine: &'static str) {
    let server = TestServer::start();
    let mut p = http_kernel(engine)
        .with_http_response_max(1000)
        .build()
        .unwrap();
    let at = request_json(&server.url("/bytes/1000"), serde_json::json!({}));
    let over = request_json(&server.url("/bytes/1001"), serde_json::json!({}));
    let out: &[u8] = p.call("http", at.as_str()).unwrap();
    assert_eq!(out.len(), 1000);
    expect_err(
        p.call("http", over.as_str()),
        ErrorKind::Http,
        "exceeds the configured maximum number of bytes: 1000",
    );
    assert_eq!(call_facts(&mut p, "http_getters", b""), vec![200, 0]);
    still_works(&mut p);
    let out: &[u8] = p.call("http", at.as_str()).unwrap();
    assert_eq!(out.len(), 1000);
    // The manifest's memory.max_http_response_bytes, when the builder sets none.
    let manifest = Manifest::new([Wasm::data(kernel())])
        .with_allowed_host("127.0.0.1")
        .with_memory_options(
            xtism::manifest::MemoryOptions::default().with_max_http_response_bytes(10),
        );
    let mut p = PluginBuilder::new(&manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap();
    expect_err(p.call("http", at.as_str()), ErrorKind::Http, "bytes: 10 ");
}

#[case]
fn http_slow_response_times_out(engine: &'static str) {
    let server = TestServer::start();
    let mut p = http_kernel(engine)
        .with_timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    // A server that never answers, and one that stops in the middle of the body.
    for path in ["/slow/20000", "/slow-body/20000"] {
        let slow = request_json(&server.url(path), serde_json::json!({}));
        let start = std::time::Instant::now();
        expect_err(p.call("http", slow.as_str()), ErrorKind::Timeout, "300 ms");
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "{path}: {:?}",
            start.elapsed()
        );
    }
    let quick = request_json(&server.url("/status/200"), serde_json::json!({}));
    let out: String = p.call("http", quick.as_str()).unwrap();
    assert_eq!(out, "status 200");
}

#[case]
fn http_cancel_mid_request(engine: &'static str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let server = TestServer::start();
    // The timeout only keeps a broken cancel from hanging the suite.
    let mut p = http_kernel(engine)
        .with_timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let handle = p.cancel_handle();
    // A server that never answers, and one that stops in the middle of the body.
    for path in ["/slow/60000", "/slow-body/60000"] {
        let done = Arc::new(AtomicBool::new(false));
        let canceller = {
            let (handle, done) = (handle.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::Acquire) {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    handle.cancel().unwrap();
                }
            })
        };
        let slow = request_json(&server.url(path), serde_json::json!({}));
        let start = std::time::Instant::now();
        expect_err(
            p.call("http", slow.as_str()),
            ErrorKind::Cancelled,
            "cancelled",
        );
        done.store(true, Ordering::Release);
        canceller.join().unwrap();
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "{path}: {:?}",
            start.elapsed()
        );
    }
    let quick = request_json(&server.url("/status/200"), serde_json::json!({}));
    let out: String = p.call("http", quick.as_str()).unwrap();
    assert_eq!(out, "status 200");
}

#[case]
fn http_denied_host_is_never_contacted(engine: &'static str) {
    let server = TestServer::start();
    let url = server.url("/echo");
    for hosts in [&[][..], &["example.com", "*.127.0.0.1"][..]] {
        let mut p = http_plugin(engine, hosts, false);
        let err = p.call::<&str, &[u8]>("http_get", &url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Http, "{err}");
        assert!(
            err.to_string()
                .contains(&format!("HTTP request to {url} is not allowed")),
            "{err}"
        );
    }
    let mut p = builder(engine, &kernel()).build().unwrap();
    expect_err(
        p.call("http", request_json(&url, serde_json::json!({})).as_str()),
        ErrorKind::Http,
        "is not allowed",
    );
    still_works(&mut p);
    assert_eq!(server.hits(), 0, "the server was never contacted");
}

#[case]
fn http_redirect_to_a_denied_host(engine: &'static str) {
    let server = TestServer::start();
    let mut p = http_kernel(engine).build().unwrap();
    // Redirects within the sandbox are followed.
    let allowed = server.url(&format!("/redirect?to={}", server.url("/status/202")));
    let out: String = p
        .call(
            "http",
            request_json(&allowed, serde_json::json!({})).as_str(),
        )
        .unwrap();
    assert_eq!(out, "status 202");
    assert_eq!(server.hits(), 2);
    // localhost is the same server under a host the sandbox does not allow.
    let target = format!(
        "http://localhost:{}/echo",
        server.authority().rsplit(':').next().unwrap()
    );
    let denied = server.url(&format!("/redirect?to={target}"));
    expect_err(
        p.call(
            "http",
            request_json(&denied, serde_json::json!({})).as_str(),
        ),
        ErrorKind::Http,
        "localhost",
    );
    assert_eq!(
        server.hits(),
        3,
        "only the redirect itself reached a server"
    );
}

#[case]
fn http_globs_and_star(engine: &'static str) {
    let server = TestServer::start();
    let url = server.url("/status/200");
    for hosts in [&["*"][..], &["127.0.0.*"][..], &["nope", "127.0.0.1"][..]] {
        let mut p = http_plugin(engine, hosts, false);
        let out = as_http(&mut p, "http_get", &url);
        assert_eq!(out["status"], 200, "{hosts:?}: {out}");
    }
    assert_eq!(server.hits(), 3);
}

#[case]
fn http_bad_requests_are_errors(engine: &'static str) {
    let server = TestServer::start();
    let mut p = http_kernel(engine).with_allowed_host("*").build().unwrap();
    let url = server.url("/echo");
    let huge = "h".repeat(100 * 1024);
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", listener.local_addr().unwrap())
    };
    for (input, kind, needle) in [
        ("not json".to_owned(), ErrorKind::Guest, "not a JSON object"),
        (
            r#"{"method":"GET"}"#.to_owned(),
            ErrorKind::Guest,
            "missing field `url`",
        ),
        (
            r#"{"url":"http://x","headers":{"a":1}}"#.to_owned(),
            ErrorKind::Guest,
            "not a JSON object",
        ),
        (
            r#"{"url":"file:///etc/passwd"}"#.to_owned(),
            ErrorKind::Http,
            "file:///etc/passwd",
        ),
        (
            r#"{"url":"ftp://127.0.0.1/"}"#.to_owned(),
            ErrorKind::Http,
            "not an http or https URL",
        ),
        (
            r#"{"url":"/relative/path"}"#.to_owned(),
            ErrorKind::Http,
            "not an http or https URL",
        ),
        (
            r#"{"url":"http:///no-host"}"#.to_owned(),
            ErrorKind::Http,
            "URL",
        ),
        (
            r#"{"url":"http://exa mple.com/"}"#.to_owned(),
            ErrorKind::Http,
            "invalid URL",
        ),
        (
            request_json(&url, serde_json::json!({"x-big": huge})),
            ErrorKind::Http,
            "request headers",
        ),
        (
            request_json(&url, serde_json::json!({"x-bad": "a\nb"})),
            ErrorKind::Http,
            "invalid HTTP request",
        ),
        (
            request_json(&url, serde_json::json!({"bad name": "v"})),
            ErrorKind::Http,
            "invalid HTTP request",
        ),
        (
            serde_json::json!({"url": url, "method": "GE T"}).to_string(),
            ErrorKind::Http,
            "invalid HTTP request",
        ),
        (
            request_json(&closed, serde_json::json!({})),
            ErrorKind::Http,
            "failed",
        ),
    ] {
        expect_err(p.call("http", input.as_str()), kind, needle);
        still_works(&mut p);
    }
    expect_err(
        p.call(
            "http_bad_body",
            request_json(&url, serde_json::json!({})).as_str(),
        ),
        ErrorKind::Guest,
        "http_request (body): 12345",
    );
    assert_eq!(server.hits(), 0, "no bad request was sent");
    let out: String = p
        .call(
            "http",
            request_json(&server.url("/status/200"), serde_json::json!({})).as_str(),
        )
        .unwrap();
    assert_eq!(out, "status 200");
}

#[case]
fn http_bodies_are_not_decompressed(engine: &'static str) {
    // The response cap counts the bytes the plug-in gets: bodies are passed through as sent,
    // never decoded (a small gzip bomb would otherwise pass the cap), and xtism does not ask
    // for compressed bodies.
    let server = TestServer::start();
    let mut p = http_kernel(engine)
        .with_http_response_max(1000)
        .build()
        .unwrap();
    let request = request_json(&server.url("/gzip/1000"), serde_json::json!({}));
    let out: &[u8] = p.call("http", request.as_str()).unwrap();
    assert_eq!(out, vec![0x1f; 1000]);
    let request = request_json(&server.url("/echo"), serde_json::json!({}));
    let Json(echo): Json<serde_json::Value> = p.call("http", request.as_str()).unwrap();
    let accept = echo["headers"]["accept-encoding"].as_str().unwrap_or("");
    assert!(!accept.contains("gzip"), "{echo}");
}

#[case]
fn http_hostile_responses(engine: &'static str) {
    let server = TestServer::start();
    let mut p = http_plugin(engine, &["127.0.0.1"], true);
    let err = p
        .call::<&str, &[u8]>("http_get", &server.url("/huge-header"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http, "{err}");
    assert!(
        err.to_string()
            .ends_with("the response headers are larger than 65536 bytes"),
        "{err}"
    );
    // A header value that is not UTF-8 is left out, the others are kept.
    let out = as_http(&mut p, "http_get", &server.url("/binary-header"));
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(out["body"], "binary");
    assert_eq!(out["headers"]["x-fine"], "ok", "{out}");
    assert!(out["headers"].get("x-binary").is_none(), "{out}");
}
