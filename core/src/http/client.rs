//! The HTTP client behind `http_request`: ureq, with the sandbox, the limits, the call's
//! deadline and its cancel flag.
//!
//! Every request gets an [`Agent`] of its own. That is what makes a cancel prompt: ureq's
//! `Agent::shutdown` interrupts reads and writes blocked on the agent's connections from
//! another thread, and then refuses new requests, so it may only touch the request being
//! cancelled. A watcher thread, scoped to the request, polls the plug-in's cancel flag every
//! [`CANCEL_POLL`] and shuts the agent down. The deadline needs no thread: it is ureq's own
//! `timeout_global`, set to the time the call has left. (Name resolution and a TCP connect
//! in progress are not interrupted by a shutdown; they end at the deadline.)
//!
//! The sandbox is checked twice: on the URL before anything is sent, which gives the error
//! that names the URL, and by a resolver wrapped around ureq's own, which refuses every
//! host the request would connect to that `allowed_hosts` does not allow, redirects
//! included. Environment proxies are not used (as in the official runtime), so the host
//! resolved is always the host connected to.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ureq::Agent;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use xtism_manifest::HttpRequest;

use super::HttpOptions;
use super::allowed_hosts::AllowedHosts;
use crate::engine::CancelState;
use crate::error::XtismError;

/// How often a request in flight looks at the plug-in's cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(10);

/// Redirects followed, as in the official runtime (ureq 2's default); each one is checked
/// against `allowed_hosts`.
const MAX_REDIRECTS: u32 = 5;

/// The most bytes of request headers (names and values) a plug-in may send: the same cap
/// ureq puts on response headers.
const MAX_REQUEST_HEADER_BYTES: usize = 64 * 1024;

/// A response as the plug-in sees it.
#[derive(Debug)]
pub(crate) struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) with their first value; values that are not UTF-8 are left
    /// out, as in the official runtime.
    pub headers: BTreeMap<String, String>,
    /// The body, or why it could not be read (too large, the deadline, the connection).
    pub body: Result<Vec<u8>, XtismError>,
}

/// Sends `request` with `body`, within `options`' sandbox and response cap, stopping at
/// `time_left` (`None`: no deadline) or when `cancel` says so.
///
/// # Errors
///
/// [`XtismError::Http`] for a URL that is not `http`/`https` or has no host, a host that
/// `allowed_hosts` does not allow (nothing is sent), invalid or oversized request headers,
/// and any failure to get a response; [`XtismError::Timeout`] at the deadline. A cancelled
/// request fails with an I/O error; the caller turns it into [`XtismError::Cancelled`].
pub(crate) fn send(
    options: &HttpOptions,
    request: &HttpRequest,
    body: Vec<u8>,
    time_left: Option<Duration>,
    cancel: &CancelState,
) -> Result<Response, XtismError> {
    let url = &request.url;
    let uri: Uri = url
        .parse()
        .map_err(|e| XtismError::Http(format!("HTTP request: invalid URL {url:?}: {e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(XtismError::Http(format!(
            "HTTP request: the URL {url:?} is not an http or https URL"
        )));
    }
    let host = uri.host().unwrap_or_default();
    if host.is_empty() {
        return Err(XtismError::Http(format!(
            "HTTP request: the URL {url:?} has no host"
        )));
    }
    let allowed = Arc::new(AllowedHosts::new(&options.allowed_hosts));
    if !allowed.allows(host) {
        return Err(denied(url, host));
    }
    let header_bytes: usize = request.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if header_bytes > MAX_REQUEST_HEADER_BYTES {
        return Err(XtismError::Http(format!(
            "the HTTP request headers to {url} take {header_bytes} bytes, above the limit of {MAX_REQUEST_HEADER_BYTES}"
        )));
    }
    let mut builder = ureq::http::Request::builder()
        .method(request.effective_method().as_str())
        .uri(uri);
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let http_request = builder
        .body(body)
        .map_err(|e| XtismError::Http(format!("invalid HTTP request to {url}: {e}")))?;

    let denied_hop = Arc::new(Mutex::new(None));
    let resolver = SandboxResolver {
        allowed,
        denied: Arc::clone(&denied_hop),
        inner: DefaultResolver::default(),
    };
    let config: Config = Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .max_redirects(MAX_REDIRECTS)
        .proxy(None)
        .timeout_global(time_left)
        .build();
    let agent = Agent::with_parts(config, DefaultConnector::default(), resolver);

    let result = std::thread::scope(|scope| {
        let (done, finished) = mpsc::channel::<()>();
        let watched = agent.clone();
        std::thread::Builder::new()
            .name("xtism-http-cancel".into())
            .spawn_scoped(scope, move || watch(watched, cancel, finished))?;
        let result = exchange(&agent, http_request, url, options.max_response_bytes);
        drop(done);
        Ok::<_, std::io::Error>(result)
    })?;
    let hop = denied_hop.lock().unwrap_or_else(|e| e.into_inner()).take();
    match (result, hop) {
        (Err(_), Some(hop)) => Err(XtismError::Http(format!(
            "HTTP request to {hop} (redirected from {url}) is not allowed: its host matches no allowed_hosts entry"
        ))),
        (result, _) => result,
    }
}

#[cold]
fn denied(url: &str, host: &str) -> XtismError {
    XtismError::Http(format!(
        "HTTP request to {url} is not allowed: {host} matches no allowed_hosts entry"
    ))
}

/// Shuts `agent` down as soon as `cancel` is set, until the request is `finished`.
fn watch(agent: Agent, cancel: &CancelState, finished: mpsc::Receiver<()>) {
    loop {
        match finished.recv_timeout(CANCEL_POLL) {
            Err(RecvTimeoutError::Timeout) if cancel.is_cancelled() => {
                agent.shutdown();
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Runs the request and reads the response: status, headers and a body of at most
/// `max_bytes`.
fn exchange(
    agent: &Agent,
    request: ureq::http::Request<Vec<u8>>,
    url: &str,
    max_bytes: u64,
) -> Result<Response, XtismError> {
    let mut response = agent.run(request).map_err(|e| failed(url, e))?;
    let mut headers = BTreeMap::new();
    for name in response.headers().keys() {
        let first = response.headers().get(name).map(|v| v.as_bytes());
        if let Some(Ok(value)) = first.map(std::str::from_utf8) {
            headers.insert(name.as_str().to_owned(), value.to_owned());
        }
    }
    // One byte over the cap tells a body of exactly `max_bytes` from a larger one.
    let body = response
        .body_mut()
        .with_config()
        .limit(max_bytes.saturating_add(1))
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => XtismError::Http(format!(
                "HTTP response from {url} exceeds the configured maximum number of bytes: {max_bytes} (max_http_response_bytes)"
            )),
            other => failed(url, other),
        });
    Ok(Response {
        status: response.status().as_u16(),
        headers,
        body,
    })
}

/// The error of a request that got no (complete) response.
fn failed(url: &str, error: ureq::Error) -> XtismError {
    match error {
        ureq::Error::Timeout(_) => XtismError::Timeout(0),
        // ureq's message counts the bytes it happened to read: say the limit only, so the
        // message is the same whatever the reads.
        ureq::Error::LargeResponseHeader(_, limit) => XtismError::Http(format!(
            "HTTP request to {url} failed: the response headers are larger than {limit} bytes"
        )),
        other => XtismError::Http(format!("HTTP request to {url} failed: {other}")),
    }
}

/// ureq's resolver behind the sandbox: a host that `allowed_hosts` does not allow is never
/// resolved, so never connected to; the refused URL is kept for the error message.
#[derive(Debug)]
struct SandboxResolver {
    allowed: Arc<AllowedHosts>,
    denied: Arc<Mutex<Option<String>>>,
    inner: DefaultResolver,
}

impl Resolver for SandboxResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or_default();
        if !self.allowed.allows(host) {
            *self.denied.lock().unwrap_or_else(|e| e.into_inner()) = Some(uri.to_string());
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{host} matches no allowed_hosts entry"),
            )));
        }
        self.inner.resolve(uri, config, timeout)
    }
}
