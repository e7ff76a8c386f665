//! Extism-compatible plug-in manifests for xtism.
//!
//! This crate holds the serde types of the *manifest*: the JSON (or TOML)
//! document that tells an Extism runtime which WebAssembly modules make up a
//! plug-in and under which limits it runs. It also loads the Wasm bytes the
//! manifest names — from a file, from inline data or from a URL — and checks
//! their SHA-256 hashes. It contains no WebAssembly engine.
//!
//! # Format
//!
//! ```json
//! {
//!   "wasm": [
//!     {"path": "plugin.wasm", "name": "main", "hash": "<sha256 hex>"},
//!     {"data": "<base64 string>"},
//!     {"data": [0, 97, 115, 109, 1, 0, 0, 0]},
//!     {"url": "https://example.com/x.wasm", "headers": {"Authorization": "x"}, "method": "GET"}
//!   ],
//!   "memory": {"max_pages": 4, "max_http_response_bytes": 1048576, "max_var_bytes": 1048576},
//!   "config": {"key": "value"},
//!   "allowed_hosts": ["*.example.com"],
//!   "allowed_paths": {"/host/dir": "/guest/dir", "ro:/host/other": "/other"},
//!   "timeout_ms": 1000
//! }
//! ```
//!
//! Every field is optional. A `null` value is treated like an absent field.
//! Unknown fields are rejected at every level with an error that names the
//! field, and each `wasm` entry must have exactly one of `path`, `data` or
//! `url`. TOML manifests use the same structure (`[[wasm]]` tables,
//! `[memory]`, `[config]`, `[allowed_paths]`).
//!
//! # Features
//!
//! Both on by default; a minimal host can leave them out.
//!
//! - `url`: download `url` entries (ureq with rustls); without it they are refused.
//! - `toml`: TOML manifests (the toml crate); without it [`Manifest::from_toml`] fails with
//!   [`ManifestError::LeftOut`] ("this build of xtism leaves TOML manifests out").
//!
//! # Example
//!
//! ```
//! use xtism_manifest::{Manifest, Wasm};
//!
//! let manifest = Manifest::from_json(r#"{"wasm": [{"data": "AGFzbQEAAAA="}]}"#)?;
//! assert_eq!(manifest.wasm, vec![Wasm::data(b"\0asm\x01\0\0\0".to_vec())]);
//!
//! let modules = manifest.load_all(None)?;
//! assert_eq!(modules[0].0, "main");
//! # Ok::<(), xtism_manifest::ManifestError>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod load;
mod manifest;
mod serde_util;
mod wasm;

pub use error::ManifestError;
pub use load::{
    DOWNLOAD_CONNECT_TIMEOUT, DOWNLOAD_RESPONSE_TIMEOUT, MAX_DOWNLOAD_BYTES, sha256_hex,
};
pub use manifest::{MAIN_MODULE_NAME, Manifest, MemoryOptions, PathMapping};
pub use wasm::{HttpRequest, Wasm, WasmMetadata};
