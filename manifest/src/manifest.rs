//! The top-level [`Manifest`] document: its fields, builders, JSON/TOML
//! parsing and writing, and module naming for loading all of its modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ManifestError;
use crate::load::read_file;
use crate::serde_util::{null_as_default, string_map_skip_nulls};
use crate::wasm::Wasm;

/// The name of a plug-in's main module, the one whose exports are called.
pub const MAIN_MODULE_NAME: &str = "main";

/// Memory limits of a plug-in (the manifest's `memory` object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryOptions {
    /// Pages of 64 KiB that a plug-in instance's linear memories may grow by in all (the
    /// memories its main module starts with must fit in it too); see the runtime for the
    /// details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u32>,
    /// Maximum size in bytes of an HTTP response body a plug-in may receive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_http_response_bytes: Option<u64>,
    /// Maximum total size in bytes of a plug-in's variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_var_bytes: Option<u64>,
}

impl MemoryOptions {
    /// No limits: every field unset (the official crate's `MemoryOptions::new`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`max_pages`](MemoryOptions::max_pages).
    pub fn with_max_pages(mut self, pages: u32) -> Self {
        self.max_pages = Some(pages);
        self
    }

    /// Sets [`max_http_response_bytes`](MemoryOptions::max_http_response_bytes).
    pub fn with_max_http_response_bytes(mut self, bytes: u64) -> Self {
        self.max_http_response_bytes = Some(bytes);
        self
    }

    /// Sets [`max_var_bytes`](MemoryOptions::max_var_bytes).
    pub fn with_max_var_bytes(mut self, bytes: u64) -> Self {
        self.max_var_bytes = Some(bytes);
        self
    }

    /// True when no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == MemoryOptions::default()
    }
}

/// One `allowed_paths` entry split into its parts: a key `"ro:/host"` means
/// `/host` mounted read-only, any other key is a read-write host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMapping {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it.
    pub guest: PathBuf,
    /// Whether the key had the `ro:` prefix.
    pub read_only: bool,
}

/// An Extism plug-in manifest: the Wasm modules and the limits and
/// permissions they run with.
///
/// Parse one with [`Manifest::from_json`], [`Manifest::from_toml`],
/// [`Manifest::from_file`] or [`str::parse`], or build one:
///
/// ```
/// use std::time::Duration;
/// use xtism_manifest::{Manifest, Wasm};
///
/// let manifest = Manifest::new([Wasm::file("plugin.wasm")])
///     .with_memory_max(16)
///     .with_config_key("greeting", "hi")
///     .with_allowed_host("*.example.com")
///     .with_allowed_path("ro:/data", "/data")
///     .with_timeout(Duration::from_secs(1));
/// let json = manifest.to_json()?;
/// assert_eq!(json.parse::<Manifest>()?, manifest);
/// # Ok::<(), xtism_manifest::ManifestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The modules of the plug-in. See [`Manifest::module_names`] for how
    /// they are named and which one is the main module.
    #[serde(default, deserialize_with = "null_as_default")]
    pub wasm: Vec<Wasm>,
    /// Memory limits.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "MemoryOptions::is_empty"
    )]
    pub memory: MemoryOptions,
    /// Key/value configuration the plug-in can read. `null` values in the
    /// input are dropped.
    #[serde(
        default,
        deserialize_with = "string_map_skip_nulls",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
    /// Host names (glob patterns such as `*.example.com`) the plug-in may
    /// send HTTP requests to; `None` allows none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_hosts: Option<Vec<String>>,
    /// Host directories (keys, optionally prefixed `ro:` for read-only)
    /// mapped to guest paths (values). See [`Manifest::path_mappings`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_paths: Option<BTreeMap<String, PathBuf>>,
    /// Maximum duration of one plug-in call in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl Manifest {
    /// A manifest with the given modules and nothing else.
    pub fn new(wasm: impl IntoIterator<Item = impl Into<Wasm>>) -> Self {
        Manifest {
            wasm: wasm.into_iter().map(Into::into).collect(),
            ..Manifest::default()
        }
    }

    /// Appends a module.
    pub fn with_wasm(mut self, wasm: impl Into<Wasm>) -> Self {
        self.wasm.push(wasm.into());
        self
    }

    /// Sets [`MemoryOptions::max_pages`], in 64 KiB pages.
    pub fn with_memory_max(mut self, pages: u32) -> Self {
        self.memory.max_pages = Some(pages);
        self
    }

    /// Replaces all memory limits.
    pub fn with_memory_options(mut self, memory: MemoryOptions) -> Self {
        self.memory = memory;
        self
    }

    /// Sets one configuration key.
    pub fn with_config_key(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// Sets several configuration keys (keeping the others).
    pub fn with_config(
        mut self,
        config: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Self {
        self.config
            .extend(config.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Allows HTTP requests to one more host pattern.
    pub fn with_allowed_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts
            .get_or_insert_with(Vec::new)
            .push(host.into());
        self
    }

    /// Allows HTTP requests to exactly these host patterns, replacing any allowed before,
    /// as the official crate's `with_allowed_hosts` does. An empty iterator allows none.
    pub fn with_allowed_hosts(
        mut self,
        hosts: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allowed_hosts = Some(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// Allows no HTTP request at all (`allowed_hosts` empty), as the official crate's
    /// `disallow_all_hosts`.
    pub fn disallow_all_hosts(mut self) -> Self {
        self.allowed_hosts = Some(Vec::new());
        self
    }

    /// Maps host directory `host` (prefix it with `ro:` for read-only access)
    /// to `guest` inside the plug-in.
    pub fn with_allowed_path(mut self, host: impl Into<String>, guest: impl AsRef<Path>) -> Self {
        self.allowed_paths
            .get_or_insert_with(BTreeMap::new)
            .insert(host.into(), guest.as_ref().to_path_buf());
        self
    }

    /// Maps exactly these host paths to guest paths, replacing any mapped before, as the
    /// official crate's `with_allowed_paths` does (see
    /// [`with_allowed_path`](Self::with_allowed_path)).
    pub fn with_allowed_paths(
        mut self,
        paths: impl IntoIterator<Item = (impl Into<String>, impl AsRef<Path>)>,
    ) -> Self {
        self.allowed_paths = Some(
            paths
                .into_iter()
                .map(|(host, guest)| (host.into(), guest.as_ref().to_path_buf()))
                .collect(),
        );
        self
    }

    /// Sets the call timeout (stored in whole milliseconds, saturating).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// The call timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }

    /// The `allowed_paths` entries with the `ro:` prefix split off.
    pub fn path_mappings(&self) -> Vec<PathMapping> {
        let Some(paths) = &self.allowed_paths else {
            return Vec::new();
        };
        paths
            .iter()
            .map(|(key, guest)| {
                let (host, read_only) = match key.strip_prefix("ro:") {
                    Some(rest) => (rest, true),
                    None => (key.as_str(), false),
                };
                PathMapping {
                    host: PathBuf::from(host),
                    guest: guest.clone(),
                    read_only,
                }
            })
            .collect()
    }

    /// Parses a JSON manifest.
    pub fn from_json(json: &str) -> Result<Self, ManifestError> {
        serde_json::from_str(json).map_err(ManifestError::Json)
    }

    /// Parses a TOML manifest.
    ///
    /// Without the `toml` feature every call fails with [`ManifestError::LeftOut`], so a
    /// minimal build tells its user why a TOML manifest is refused.
    pub fn from_toml(toml: &str) -> Result<Self, ManifestError> {
        parse_toml(toml)
    }

    /// Reads a manifest file, parsed as JSON or TOML according to its
    /// extension (`.json` or `.toml`, in any letter case); other extensions
    /// are an error. Pass `path.parent()` as the base directory when loading
    /// its modules so relative module paths are resolved next to the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ManifestError> {
        let path = path.as_ref();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let parse: fn(&str) -> Result<Self, ManifestError> = match ext.as_deref() {
            Some("json") => Manifest::from_json,
            Some("toml") => Manifest::from_toml,
            _ => {
                return Err(ManifestError::UnsupportedFormat {
                    path: path.to_path_buf(),
                });
            }
        };
        let bytes = read_file(path)?;
        let text = String::from_utf8(bytes).map_err(|e| ManifestError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
        })?;
        parse(&text)
    }

    /// Writes the manifest as compact JSON (inline data as base64).
    pub fn to_json(&self) -> Result<String, ManifestError> {
        serde_json::to_string(self).map_err(|e| ManifestError::Serialize {
            format: "JSON",
            message: e.to_string(),
        })
    }

    /// Writes the manifest as indented JSON.
    pub fn to_json_pretty(&self) -> Result<String, ManifestError> {
        serde_json::to_string_pretty(self).map_err(|e| ManifestError::Serialize {
            format: "JSON",
            message: e.to_string(),
        })
    }

    /// Writes the manifest as TOML.
    #[cfg(feature = "toml")]
    pub fn to_toml(&self) -> Result<String, ManifestError> {
        toml::to_string(self).map_err(|e| ManifestError::Serialize {
            format: "TOML",
            message: e.to_string(),
        })
    }

    /// The index of the main module: the entry named `"main"` if there is
    /// one, else the last entry; `None` when there are no modules.
    pub fn main_index(&self) -> Option<usize> {
        self.wasm
            .iter()
            .position(|w| w.name() == Some(MAIN_MODULE_NAME))
            .or_else(|| self.wasm.len().checked_sub(1))
    }

    /// The module name of each entry, in order.
    ///
    /// * An entry with a `name` is called that.
    /// * The unnamed last entry is called `"main"` when no entry is
    ///   explicitly named `"main"` (it is then the main module, as in the
    ///   official runtime).
    /// * Any other unnamed entry is called `"#<index>"` (e.g. `"#0"`), a name
    ///   no sensible import uses; such a module is instantiated but can only
    ///   be reached by other modules under that name.
    ///
    /// Note that a last entry with a name other than `"main"` keeps its name
    /// even though it is the main module; use [`Manifest::main_index`] to
    /// find the main module. Two entries with the same resulting name are a
    /// [`ManifestError::DuplicateName`].
    pub fn module_names(&self) -> Result<Vec<String>, ManifestError> {
        let has_explicit_main = self.wasm.iter().any(|w| w.name() == Some(MAIN_MODULE_NAME));
        let last = self.wasm.len().checked_sub(1);
        let mut seen = BTreeSet::new();
        let mut names = Vec::with_capacity(self.wasm.len());
        for (index, wasm) in self.wasm.iter().enumerate() {
            let name = match wasm.name() {
                Some(name) => name.to_owned(),
                None if Some(index) == last && !has_explicit_main => MAIN_MODULE_NAME.to_owned(),
                None => format!("#{index}"),
            };
            if !seen.insert(name.clone()) {
                return Err(ManifestError::DuplicateName { name });
            }
            names.push(name);
        }
        Ok(names)
    }

    /// Checks what parsing cannot: that there is at least one module, that
    /// module names are non-empty and distinct, and that every `hash` is 64
    /// hex digits. Returns the module names like [`Manifest::module_names`].
    pub fn validate(&self) -> Result<Vec<String>, ManifestError> {
        if self.wasm.is_empty() {
            return Err(ManifestError::NoModules);
        }
        for (index, wasm) in self.wasm.iter().enumerate() {
            let invalid = |message: &str| ManifestError::InvalidEntry {
                index,
                message: message.to_owned(),
            };
            if wasm.name() == Some("") {
                return Err(invalid("the module name is empty"));
            }
            if let Some(hash) = &wasm.meta().hash {
                let hash = hash.trim();
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(invalid("`hash` must be a SHA-256 written as 64 hex digits"));
                }
            }
        }
        self.module_names()
    }

    /// Loads every module with [`Wasm::load`], paired with its name from
    /// [`Manifest::module_names`], in manifest order. Relative file paths are
    /// resolved against `base_dir` (normally the manifest file's directory).
    ///
    /// First runs [`Manifest::validate`]; then fails on the first module that
    /// cannot be loaded or whose hash does not match.
    pub fn load_all(
        &self,
        base_dir: Option<&Path>,
    ) -> Result<Vec<(String, Vec<u8>)>, ManifestError> {
        let names = self.validate()?;
        self.wasm
            .iter()
            .zip(names)
            .map(|(wasm, name)| {
                let bytes = wasm.load_named(base_dir, &name)?;
                Ok((name, bytes))
            })
            .collect()
    }
}

impl FromStr for Manifest {
    type Err = ManifestError;

    /// Parses a JSON manifest, like [`Manifest::from_json`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Manifest::from_json(s)
    }
}

/// Parses a TOML manifest with the toml crate.
#[cfg(feature = "toml")]
fn parse_toml(text: &str) -> Result<Manifest, ManifestError> {
    toml::from_str(text).map_err(ManifestError::Toml)
}

/// Refuses a TOML manifest: this build leaves the toml crate out.
#[cfg(not(feature = "toml"))]
fn parse_toml(_text: &str) -> Result<Manifest, ManifestError> {
    Err(ManifestError::LeftOut {
        what: "TOML manifests",
        feature: "toml",
    })
}
