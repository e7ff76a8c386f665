//! The entries of a manifest's `wasm` list: where a module's bytes come from
//! (file, inline data or URL), its optional name and hash, and their strict
//! serde (de)serialization.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::serde_util::{DataBytes, encode_base64};

/// Optional metadata shared by every kind of `wasm` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmMetadata {
    /// The module name other modules import it under. Unnamed entries are
    /// named by [`Manifest::module_names`](crate::Manifest::module_names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Expected SHA-256 of the module bytes, as hex (compared
    /// case-insensitively). Loading refuses bytes that do not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// Where to download a module from: the `url`, `headers` and `method` fields
/// of a URL entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// The URL to download (`http` or `https`).
    pub url: String,
    /// Request headers to send (`header` is accepted too, as in the official manifest).
    #[serde(default, alias = "header", skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The HTTP method; `GET` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

impl HttpRequest {
    /// A `GET` request for `url` without extra headers.
    pub fn new(url: impl Into<String>) -> Self {
        HttpRequest {
            url: url.into(),
            headers: BTreeMap::new(),
            method: None,
        }
    }

    /// Adds (or replaces) a request header.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(key.into(), value.into());
        self
    }

    /// Sets the HTTP method (e.g. `"POST"`).
    pub fn with_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// The method to use: the configured one in upper case, or `GET`.
    pub fn effective_method(&self) -> String {
        self.method
            .as_deref()
            .map_or_else(|| "GET".to_owned(), str::to_ascii_uppercase)
    }
}

/// One entry of a manifest's `wasm` list.
///
/// In JSON an entry is an object with exactly one of `path`, `data` or `url`,
/// plus the optional `name` and `hash` (and, for `url`, the optional `headers`
/// and `method`). `data` is read from a base64 string (standard alphabet,
/// padding optional) or an array of byte values, and is always written as
/// padded base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wasm {
    /// A module read from a file. Relative paths are resolved against the
    /// base directory given to [`Wasm::load`] (normally the manifest's own
    /// directory), or the current directory when there is none.
    File {
        /// The file's path.
        path: PathBuf,
        /// Name and hash.
        meta: WasmMetadata,
    },
    /// A module given inline.
    Data {
        /// The module bytes.
        data: Vec<u8>,
        /// Name and hash.
        meta: WasmMetadata,
    },
    /// A module downloaded over HTTP(S).
    Url {
        /// URL, headers and method of the download.
        req: HttpRequest,
        /// Name and hash.
        meta: WasmMetadata,
    },
}

impl Wasm {
    /// A module read from the file at `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Wasm::File {
            path: path.into(),
            meta: WasmMetadata::default(),
        }
    }

    /// A module given as inline bytes.
    pub fn data(data: impl Into<Vec<u8>>) -> Self {
        Wasm::Data {
            data: data.into(),
            meta: WasmMetadata::default(),
        }
    }

    /// A module downloaded from `url` with a plain `GET`. Use
    /// [`Wasm::http`] (or `From<HttpRequest>`) for headers or another method.
    pub fn url(url: impl Into<String>) -> Self {
        Wasm::http(HttpRequest::new(url))
    }

    /// A module downloaded with the given request.
    pub fn http(req: HttpRequest) -> Self {
        Wasm::Url {
            req,
            meta: WasmMetadata::default(),
        }
    }

    /// Sets the module name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.meta_mut().name = Some(name.into());
        self
    }

    /// Sets the expected SHA-256 (hex) of the module bytes.
    pub fn with_hash(mut self, hash: impl Into<String>) -> Self {
        self.meta_mut().hash = Some(hash.into());
        self
    }

    /// The entry's name and hash.
    pub fn meta(&self) -> &WasmMetadata {
        match self {
            Wasm::File { meta, .. } | Wasm::Data { meta, .. } | Wasm::Url { meta, .. } => meta,
        }
    }

    /// The entry's name and hash, mutably.
    pub fn meta_mut(&mut self) -> &mut WasmMetadata {
        match self {
            Wasm::File { meta, .. } | Wasm::Data { meta, .. } | Wasm::Url { meta, .. } => meta,
        }
    }

    /// The entry's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.meta().name.as_deref()
    }

    /// A short human-readable description of where the bytes come from, such
    /// as `file "plugin.wasm"`, `inline data (8 bytes)` or
    /// `url https://example.com/x.wasm`; used in error messages.
    pub fn source_description(&self) -> String {
        match self {
            Wasm::File { path, .. } => format!("file {path:?}"),
            Wasm::Data { data, .. } => format!("inline data ({} bytes)", data.len()),
            Wasm::Url { req, .. } => format!("url {}", req.url),
        }
    }
}

impl From<Vec<u8>> for Wasm {
    fn from(data: Vec<u8>) -> Self {
        Wasm::data(data)
    }
}

impl From<&[u8]> for Wasm {
    fn from(data: &[u8]) -> Self {
        Wasm::data(data)
    }
}

impl<const N: usize> From<&[u8; N]> for Wasm {
    fn from(data: &[u8; N]) -> Self {
        Wasm::data(data.as_slice())
    }
}

impl From<PathBuf> for Wasm {
    fn from(path: PathBuf) -> Self {
        Wasm::file(path)
    }
}

impl From<&Path> for Wasm {
    fn from(path: &Path) -> Self {
        Wasm::file(path)
    }
}

impl From<HttpRequest> for Wasm {
    fn from(req: HttpRequest) -> Self {
        Wasm::http(req)
    }
}

impl Serialize for Wasm {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Plain values come before the `headers` table so the output is also
        // valid for formats such as TOML that want tables last.
        let meta = self.meta();
        let mut map = serializer.serialize_map(None)?;
        match self {
            Wasm::File { path, .. } => map.serialize_entry("path", path)?,
            Wasm::Data { data, .. } => map.serialize_entry("data", &encode_base64(data))?,
            Wasm::Url { req, .. } => {
                map.serialize_entry("url", &req.url)?;
                if let Some(method) = &req.method {
                    map.serialize_entry("method", method)?;
                }
            }
        }
        if let Some(name) = &meta.name {
            map.serialize_entry("name", name)?;
        }
        if let Some(hash) = &meta.hash {
            map.serialize_entry("hash", hash)?;
        }
        if let Wasm::Url { req, .. } = self
            && !req.headers.is_empty()
        {
            map.serialize_entry("headers", &req.headers)?;
        }
        map.end()
    }
}

/// The field names a `wasm` entry accepts.
const WASM_FIELDS: &[&str] = &["path", "data", "url", "headers", "method", "name", "hash"];

impl<'de> Deserialize<'de> for Wasm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WasmVisitor)
    }
}

struct WasmVisitor;

/// Stores `value` in `slot`, rejecting a second occurrence of `field`.
fn set_once<T, E: de::Error>(
    slot: &mut Option<Option<T>>,
    field: &'static str,
    value: Option<T>,
) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(field));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de> Visitor<'de> for WasmVisitor {
    type Value = Wasm;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a wasm entry object with one of `path`, `data` or `url`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wasm, A::Error> {
        // Outer Option: field seen; inner Option: `null` vs a value.
        let mut path: Option<Option<PathBuf>> = None;
        let mut data: Option<Option<DataBytes>> = None;
        let mut url: Option<Option<String>> = None;
        let mut headers: Option<Option<BTreeMap<String, String>>> = None;
        let mut method: Option<Option<String>> = None;
        let mut name: Option<Option<String>> = None;
        let mut hash: Option<Option<String>> = None;

        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "path" => set_once(&mut path, "path", map.next_value()?)?,
                "data" => set_once(&mut data, "data", map.next_value()?)?,
                "url" => set_once(&mut url, "url", map.next_value()?)?,
                "headers" => set_once(&mut headers, "headers", map.next_value()?)?,
                "method" => set_once(&mut method, "method", map.next_value()?)?,
                "name" => set_once(&mut name, "name", map.next_value()?)?,
                "hash" => set_once(&mut hash, "hash", map.next_value()?)?,
                other => return Err(de::Error::unknown_field(other, WASM_FIELDS)),
            }
        }

        let path = path.flatten();
        let data = data.flatten();
        let url = url.flatten();
        let headers = headers.flatten();
        let method = method.flatten();
        let meta = WasmMetadata {
            name: name.flatten(),
            hash: hash.flatten(),
        };

        // Like the official runtime, an entry with several sources is read as the first of
        // path, data, url; the other fields are accepted and unused.
        if path.is_none() && data.is_none() && url.is_none() {
            return Err(de::Error::custom(
                "a wasm entry needs one of `path`, `data` or `url`, but it has none of them",
            ));
        }

        Ok(if let Some(path) = path {
            Wasm::File { path, meta }
        } else if let Some(DataBytes(data)) = data {
            Wasm::Data { data, meta }
        } else {
            Wasm::Url {
                req: HttpRequest {
                    url: url.unwrap_or_default(),
                    headers: headers.unwrap_or_default(),
                    method,
                },
                meta,
            }
        })
    }
}
