//! Fetches a URL through the AssemblyScript plug-in `as/http.wasm`, allowing requests to
//! one host only: `cargo run -p xtism --example http_get -- https://example.com/ example.com`.

use std::path::Path;
use std::time::Duration;

use xtism::*;

/// Calls `http_get` of the corpus plug-in in `plugins` on `url`, allowing requests to
/// `host` only, and returns what the plug-in reports: `{"status", "headers", "body"}`.
pub fn fetch(plugins: &Path, url: &str, host: &str) -> Result<String, Error> {
    let wasm = std::fs::read(plugins.join("as/http.wasm"))?;
    let mut plugin = PluginBuilder::new(&wasm)
        // Deny by default: only hosts matching these globs ("*" for all) are reached.
        .with_allowed_host(host)
        // Let the plug-in read response headers (off by default).
        .with_http_response_headers(true)
        // Response bodies above 1 MiB fail the call (default 50 MiB).
        .with_http_response_max(1024 * 1024)
        // The call's timeout bounds its requests too.
        .with_timeout(Duration::from_secs(10))
        .build()?;
    plugin.call("http_get", url)
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "https://example.com/".into());
    let host = args.next().unwrap_or_else(|| "example.com".into());
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/plugins");
    println!("{}", fetch(&plugins, &url, &host)?);
    Ok(())
}
