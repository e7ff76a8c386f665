//! The error type of this crate: parsing, serializing and loading manifests.

use std::path::PathBuf;

/// Everything that can go wrong while parsing a manifest or loading the Wasm
/// modules it names.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// The JSON text is not a valid manifest (syntax error, unknown field,
    /// wrong type, invalid `wasm` entry, ...); the message says which.
    #[error("invalid JSON manifest: {0}")]
    Json(#[source] serde_json::Error),

    /// The TOML text is not a valid manifest (syntax error, unknown field,
    /// wrong type, invalid `wasm` entry, ...); the message says which.
    #[cfg(feature = "toml")]
    #[error("invalid TOML manifest: {0}")]
    Toml(#[source] toml::de::Error),

    /// The manifest needs something this build leaves out: a TOML manifest without the
    /// `toml` feature.
    #[error("this build of xtism leaves {what} out (Cargo feature `{feature}`)")]
    LeftOut {
        /// What is left out, for example `"TOML manifests"`.
        what: &'static str,
        /// The Cargo feature of xtism-manifest that brings it in.
        feature: &'static str,
    },

    /// The manifest could not be written in the given format (for example a
    /// path that is not valid UTF-8).
    #[error("could not serialize the manifest as {format}: {message}")]
    Serialize {
        /// The target format: `"JSON"` or `"TOML"`.
        format: &'static str,
        /// What the serializer reported.
        message: String,
    },

    /// A manifest file name ends in neither `.json` nor `.toml`.
    #[error("unsupported manifest file {path:?}: the extension must be .json or .toml")]
    UnsupportedFormat {
        /// The manifest file given.
        path: PathBuf,
    },

    /// A file (manifest or Wasm module) could not be read.
    #[error("could not read {path:?}: {source}")]
    Io {
        /// The file that could not be read (after resolving it against the
        /// base directory).
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Downloading a Wasm module failed before a complete response arrived
    /// (bad URL, connection refused, timeout, invalid method or header, ...).
    #[error("could not download {url}: {message}")]
    Http {
        /// The URL of the module.
        url: String,
        /// What went wrong.
        message: String,
    },

    /// The server answered a Wasm download with a status other than 2xx.
    #[error("download of {url} failed with HTTP status {status}")]
    HttpStatus {
        /// The URL of the module.
        url: String,
        /// The HTTP status code received.
        status: u16,
    },

    /// A downloaded Wasm module is larger than the download limit
    /// ([`MAX_DOWNLOAD_BYTES`](crate::MAX_DOWNLOAD_BYTES)).
    #[error("download of {url} is larger than the limit of {limit} bytes")]
    DownloadTooLarge {
        /// The URL of the module.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// The SHA-256 of a module's bytes differs from the `hash` in the manifest.
    #[error("hash mismatch for wasm module {name:?}: expected sha256 {expected}, got {actual}")]
    HashMismatch {
        /// The module's name, or a description of its source when it has none.
        name: String,
        /// The hash written in the manifest.
        expected: String,
        /// The lowercase hex SHA-256 of the bytes actually loaded.
        actual: String,
    },

    /// A `wasm` entry cannot be used as it is.
    #[error("invalid wasm entry {index}: {message}")]
    InvalidEntry {
        /// The entry's index in the `wasm` list.
        index: usize,
        /// What is wrong with it.
        message: String,
    },

    /// Two `wasm` entries resolve to the same module name.
    #[error("duplicate wasm module name {name:?}: every module needs a distinct name")]
    DuplicateName {
        /// The name used more than once.
        name: String,
    },

    /// The manifest names no Wasm module at all.
    #[error("the manifest contains no wasm modules")]
    NoModules,
}
