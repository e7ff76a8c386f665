//! HTTP for plug-ins: the `http_request`, `http_status_code` and `http_headers` imports of
//! `extism:host/env`, and what the host allows them.
//!
//! A plug-in hands `http_request` a JSON request (`{"url", "method", "headers"}`, the
//! official runtime's shape) and a body block (0 for none), and gets the response body back
//! as a new block (0 when empty). The host decides, per plug-in, which hosts it may reach
//! (`allowed_hosts` globs, deny by default), how large a response may be
//! (`max_http_response_bytes`) and whether the plug-in sees response headers. The status
//! and headers of the last response stay readable through the two getters, whatever the
//! status: a 404 or a 500 is a response, not an error.
//!
//! The client itself (ureq, the sandbox, the deadline and cancellation) is in
//! [`client`], behind the `http` cargo feature; without it every request is refused.

#[cfg(feature = "http")]
mod allowed_hosts;
#[cfg(feature = "http")]
mod client;

use std::collections::BTreeMap;
use std::sync::Arc;

use xtism_manifest::{HttpRequest, Manifest};

use crate::abi::{bad_handle, block, new_block};
use crate::engine::{HostAccess, HostTrap};
use crate::error::XtismError;
use crate::state::DEFAULT_MAX_HTTP_RESPONSE_BYTES;

/// What the host allows one plug-in's HTTP requests, fixed when it is compiled.
// Without the `http` feature nothing sends requests, so only `response_headers` is read.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
#[derive(Debug, Clone)]
pub(crate) struct HttpOptions {
    /// Globs matched against the host of each URL; empty denies every request.
    pub allowed_hosts: Vec<String>,
    /// The largest response body a request may return, in bytes.
    pub max_response_bytes: u64,
    /// Whether `http_headers` reports the last response's headers (else it returns 0).
    pub response_headers: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            allowed_hosts: Vec::new(),
            max_response_bytes: DEFAULT_MAX_HTTP_RESPONSE_BYTES,
            response_headers: false,
        }
    }
}

/// The HTTP settings a [`PluginBuilder`](crate::PluginBuilder) collects, added to (or
/// overriding) the manifest's.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpSettings {
    pub allowed_hosts: Vec<String>,
    pub max_response_bytes: Option<u64>,
    pub response_headers: bool,
}

impl HttpSettings {
    /// The options of a plug-in built from `manifest`: its `allowed_hosts` plus the
    /// builder's, the builder's response cap over the manifest's `max_http_response_bytes`
    /// over the official default (50 MiB).
    pub fn resolve(self, manifest: &Manifest) -> HttpOptions {
        let mut allowed_hosts = manifest.allowed_hosts.clone().unwrap_or_default();
        allowed_hosts.extend(self.allowed_hosts);
        HttpOptions {
            allowed_hosts,
            max_response_bytes: self
                .max_response_bytes
                .or(manifest.memory.max_http_response_bytes)
                .unwrap_or(DEFAULT_MAX_HTTP_RESPONSE_BYTES),
            response_headers: self.response_headers,
        }
    }
}

/// The HTTP side of a plug-in instance: its options, and the status and headers of the
/// last response (kept across calls, as in the official runtime).
#[derive(Debug, Default)]
pub(crate) struct HttpState {
    options: Arc<HttpOptions>,
    status: u16,
    headers: BTreeMap<String, String>,
}

impl HttpState {
    /// The state of a new instance whose requests follow `options`.
    pub fn new(options: Arc<HttpOptions>) -> Self {
        HttpState {
            options,
            status: 0,
            headers: BTreeMap::new(),
        }
    }

    /// Lets this instance read response headers from now on.
    pub fn allow_response_headers(&mut self) {
        Arc::make_mut(&mut self.options).response_headers = true;
    }
}

/// `http_request(req, body) -> response body`: sends the request described by the JSON in
/// block `req` with the bytes of block `body` (0: no body). Both blocks are consumed, as in
/// the official runtime. Any failure (bad handle or JSON, denied host, no response, a body
/// past the limit, the deadline, a cancel) fails the call.
pub(crate) fn http_request(
    host: &mut dyn HostAccess,
    request: i64,
    body: i64,
) -> Result<i64, HostTrap> {
    let (request, body) = take_request(host, request, body)?;
    respond(host, &request, body)
}

/// Reads and frees the request and body blocks.
fn take_request(
    host: &mut dyn HostAccess,
    request: i64,
    body: i64,
) -> Result<(HttpRequest, Vec<u8>), HostTrap> {
    let (memory, state) = host.kernel();
    let Some(json) = block(memory, state, request as u64) else {
        return Err(state.fail(bad_handle("http_request", request)));
    };
    let parsed = serde_json::from_slice::<HttpRequest>(json);
    let body_bytes = match body {
        0 => Vec::new(),
        _ => match block(memory, state, body as u64) {
            Some(bytes) => bytes.to_vec(),
            None => return Err(state.fail(bad_handle("http_request (body)", body))),
        },
    };
    state.extism.kernel.free(memory, request as u64);
    state.extism.kernel.free(memory, body as u64);
    match parsed {
        Ok(request) => Ok((request, body_bytes)),
        Err(e) => Err(state.fail(XtismError::Guest(format!(
            "http_request: the request is not a JSON object {{\"url\", \"method\", \"headers\"}}: {e}"
        )))),
    }
}

/// Sends the request within the plug-in's sandbox, limits, deadline and cancel flag, keeps
/// the response's status (and headers, when enabled) and returns its body as a new block.
#[cfg(feature = "http")]
fn respond(
    host: &mut dyn HostAccess,
    request: &HttpRequest,
    body: Vec<u8>,
) -> Result<i64, HostTrap> {
    let state = host.state();
    if let Some(e) = state.interruption() {
        return Err(state.fail(e));
    }
    let sent = client::send(
        &state.extism.http.options,
        request,
        body,
        state.time_left(),
        &state.cancel,
    );
    let response = match sent {
        Ok(response) => response,
        // A request stopped by the deadline or a cancel fails the call with that kind.
        Err(e) => return Err(state.fail(state.interruption().unwrap_or(e))),
    };
    state.extism.http.status = response.status;
    if state.extism.http.options.response_headers {
        state.extism.http.headers = response.headers;
    }
    let body = match response.body {
        Ok(body) => body,
        Err(e) => return Err(state.fail(state.interruption().unwrap_or(e))),
    };
    match new_block(host, &body) {
        Ok(offset) => Ok(offset as i64),
        Err(e) => Err(host.state().fail(e)),
    }
}

/// Without the `http` feature there is no client: every request is refused, naming its URL.
#[cfg(not(feature = "http"))]
fn respond(
    host: &mut dyn HostAccess,
    request: &HttpRequest,
    _body: Vec<u8>,
) -> Result<i64, HostTrap> {
    Err(host.state().fail(XtismError::Http(format!(
        "HTTP request to {} is not allowed: this build of xtism has no HTTP (the `http` feature is off)",
        request.url
    ))))
}

/// `http_status_code() -> status`: the status of the last response, 0 before any.
pub(crate) fn http_status_code(host: &mut dyn HostAccess) -> Result<i32, HostTrap> {
    Ok(i32::from(host.state().extism.http.status))
}

/// `http_headers() -> block`: the last response's headers as a JSON object (`{}` before
/// any response) when the host enables response headers, else 0.
pub(crate) fn http_headers(host: &mut dyn HostAccess) -> Result<i64, HostTrap> {
    let http = &host.state().extism.http;
    if !http.options.response_headers {
        return Ok(0);
    }
    let json = serde_json::to_vec(&http.headers).unwrap_or_else(|_| b"{}".to_vec());
    match new_block(host, &json) {
        Ok(offset) => Ok(offset as i64),
        Err(e) => Err(host.state().fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xtism_manifest::MemoryOptions;

    #[test]
    fn builder_settings_add_to_the_manifest() {
        let manifest = Manifest::new([xtism_manifest::Wasm::data(vec![])])
            .with_allowed_host("a.example.com")
            .with_memory_options(MemoryOptions::default().with_max_http_response_bytes(10));
        let options = HttpSettings::default().resolve(&manifest);
        assert_eq!(options.allowed_hosts, ["a.example.com"]);
        assert_eq!(options.max_response_bytes, 10);
        assert!(!options.response_headers);

        let settings = HttpSettings {
            allowed_hosts: vec!["*.b.org".into()],
            max_response_bytes: Some(20),
            response_headers: true,
        };
        let options = settings.resolve(&manifest);
        assert_eq!(options.allowed_hosts, ["a.example.com", "*.b.org"]);
        assert_eq!(options.max_response_bytes, 20);
        assert!(options.response_headers);
    }

    #[test]
    fn defaults_deny_everything_and_cap_at_50_mib() {
        let manifest = Manifest::new([xtism_manifest::Wasm::data(vec![])]);
        let options = HttpSettings::default().resolve(&manifest);
        assert!(options.allowed_hosts.is_empty());
        assert_eq!(options.max_response_bytes, 50 * 1024 * 1024);
    }
}
