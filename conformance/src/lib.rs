//! xtism-conformance: the plug-in corpus and helpers for the cross-backend suite.
//!
//! `plugins/` holds real plug-ins: AssemblyScript built with the official PDK (`as/`), C
//! built with zig (`c/`), and hand-written WAT (`wat/`, assembled here at test time) for the
//! ABI edge cases. The suite in `tests/` runs every case on every engine compiled in.
//! [`TestServer`] is the local HTTP server the HTTP cases talk to.

#![deny(missing_docs)]

mod http_server;

use std::path::PathBuf;
use std::sync::Arc;

pub use http_server::TestServer;

/// The directory holding the plug-in corpus.
pub fn plugins_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugins")
}

/// The bytes of a plug-in of the corpus: `as/count_vowels.wasm`, `c/echo.wasm`, or a WAT
/// file such as `wat/kernel.wat`, assembled to Wasm.
pub fn plugin(path: &str) -> Vec<u8> {
    let full = plugins_dir().join(path);
    if path.ends_with(".wat") {
        wat::parse_file(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    } else {
        std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    }
}

/// The engines compiled into this build, by name.
pub fn engines() -> Vec<(&'static str, Arc<dyn xtism::Engine>)> {
    xtism::ENGINES
        .iter()
        .map(|name| (*name, xtism::engine(name).expect("a compiled-in engine")))
        .collect()
}
