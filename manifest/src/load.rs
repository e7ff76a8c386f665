//! Loading the bytes of a `wasm` entry: reading files, returning inline data,
//! downloading URLs with `ureq` (the `url` feature), and verifying SHA-256 hashes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::ManifestError;
use crate::wasm::{HttpRequest, Wasm};

/// The largest Wasm module a URL entry may download: 1 GiB. A larger response
/// body fails with [`ManifestError::DownloadTooLarge`].
pub const MAX_DOWNLOAD_BYTES: u64 = 1 << 30;

/// How long a download may take to connect to the server.
pub const DOWNLOAD_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a download waits for the response head after sending the request.
/// (The body itself has no overall time limit, only the size limit.)
pub const DOWNLOAD_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// The lowercase hex SHA-256 of `bytes`, in the form a manifest's `hash` uses.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Wasm {
    /// Loads the module bytes this entry names and checks them against its
    /// `hash`, if any.
    ///
    /// * `File`: reads the file; a relative path is resolved against
    ///   `base_dir` when given (normally the directory of the manifest file),
    ///   else against the current directory.
    /// * `Data`: returns a copy of the inline bytes.
    /// * `Url`: downloads the URL with the entry's method (default `GET`) and
    ///   headers. A non-2xx status is a [`ManifestError::HttpStatus`]; bodies
    ///   over [`MAX_DOWNLOAD_BYTES`] are refused. Redirects are followed and
    ///   the usual proxy environment variables are honoured. Without the `url`
    ///   feature a `Url` entry is a [`ManifestError::Http`].
    ///
    /// A hash mismatch is a [`ManifestError::HashMismatch`] whose `name` is
    /// the entry's name or, for an unnamed entry, its
    /// [`source_description`](Wasm::source_description).
    pub fn load(&self, base_dir: Option<&Path>) -> Result<Vec<u8>, ManifestError> {
        let label = match self.name() {
            Some(name) => name.to_owned(),
            None => self.source_description(),
        };
        self.load_named(base_dir, &label)
    }

    /// Like [`Wasm::load`], reporting a hash mismatch under `name`.
    pub(crate) fn load_named(
        &self,
        base_dir: Option<&Path>,
        name: &str,
    ) -> Result<Vec<u8>, ManifestError> {
        let bytes = match self {
            Wasm::File { path, .. } => read_file(&resolve_path(path, base_dir))?,
            Wasm::Data { data, .. } => data.clone(),
            Wasm::Url { req, .. } => download(req)?,
        };
        if let Some(expected) = &self.meta().hash {
            let actual = sha256_hex(&bytes);
            if !actual.eq_ignore_ascii_case(expected.trim()) {
                return Err(ManifestError::HashMismatch {
                    name: name.to_owned(),
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        Ok(bytes)
    }
}

/// Resolves a module path against the manifest's directory.
fn resolve_path(path: &Path, base_dir: Option<&Path>) -> PathBuf {
    match base_dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    }
}

/// Reads a whole file, attaching its path to any error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, ManifestError> {
    std::fs::read(path).map_err(|source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Without the `url` feature there is no HTTP client: a `url` entry is an error.
#[cfg(not(feature = "url"))]
fn download(req: &HttpRequest) -> Result<Vec<u8>, ManifestError> {
    Err(ManifestError::Http {
        url: req.url.clone(),
        message: "this build cannot download modules (the `url` feature is off)".into(),
    })
}

/// Downloads the body of `req`, enforcing the status and size rules of
/// [`Wasm::load`].
#[cfg(feature = "url")]
fn download(req: &HttpRequest) -> Result<Vec<u8>, ManifestError> {
    use std::io::ErrorKind;
    let url = &req.url;
    let http_err = |message: String| ManifestError::Http {
        url: url.clone(),
        message,
    };

    let mut builder = ureq::http::Request::builder()
        .method(req.effective_method().as_str())
        .uri(url.as_str());
    for (key, value) in &req.headers {
        builder = builder.header(key.as_str(), value.as_str());
    }
    let request = builder.body(()).map_err(|e| http_err(e.to_string()))?;

    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .allow_non_standard_methods(true)
        .timeout_connect(Some(DOWNLOAD_CONNECT_TIMEOUT))
        .timeout_recv_response(Some(DOWNLOAD_RESPONSE_TIMEOUT))
        .build()
        .into();

    let mut response = agent.run(request).map_err(|e| http_err(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(ManifestError::HttpStatus {
            url: url.clone(),
            status: status.as_u16(),
        });
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_DOWNLOAD_BYTES)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(limit) => ManifestError::DownloadTooLarge {
                url: url.clone(),
                limit,
            },
            ureq::Error::Io(io) if io.kind() == ErrorKind::UnexpectedEof => {
                http_err(format!("response body ended early: {io}"))
            }
            other => http_err(other.to_string()),
        })
}
