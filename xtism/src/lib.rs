//! xtism: run Extism plug-ins on the WebAssembly engine of your choice.
//!
//! This crate re-exports [`xtism_core`] (everything Extism means) and adds the engines
//! compiled in through features: `wasmtime`, `wasmi`, `wasmer` (all three by default). The
//! `http` feature (on by default) gives plug-ins `http_request` and manifests `url` modules;
//! without it, a minimal build carries no HTTP client or TLS stack. The `wat` feature (on by
//! default) accepts WebAssembly text wherever Wasm bytes go, as the official runtime does.
//! `toml` (TOML manifests) and `log-filter` (span and field directives in log filters) are on
//! by default too; the README's "Small builds" lists what leaving each out costs.
//! [`convert`] is the official `extism-convert` crate, as in the official `extism` crate;
//! its encodings beyond JSON and base64 are features: `msgpack`, `prost` and `raw` (on by
//! default, as there) and `protobuf`.
//! A program written against the official `extism` crate ports by changing the dependency
//! and the `use` line:
//!
//! ```no_run
//! use xtism::*;
//!
//! let wasm = std::fs::read("count_vowels.wasm")?;
//! let mut plugin = Plugin::new(&wasm, [], false)?;
//! let out: String = plugin.call("count_vowels", "Hello, World!")?;
//! println!("{out}");
//! # Ok::<(), xtism::Error>(())
//! ```
//!
//! The engine is chosen by [`PluginBuilder::with_engine`] (see [`engine_named`]), else by the
//! `XTISM_ENGINE` environment variable, else the default: wasmtime when compiled in, else
//! wasmi, else wasmer. The engine types are re-exported for engines with options of their
//! own: `WasmtimeEngine::with_instance_pool(slots)` makes a wasmtime engine that
//! instantiates from a pool of preallocated slots.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::sync::Arc;

mod typed_plugin;

pub use xtism_core::{
    AsyncCurrentPlugin, BoxError, CACHE_DIR_ENV, CacheSetting, CancelHandle, Capabilities,
    CompiledPlugin, CurrentPlugin, DEFAULT_MAX_HTTP_RESPONSE_BYTES, DEFAULT_MAX_VAR_BYTES,
    DEFAULT_YIELD_EVERY, DebugOptions, EXTISM_ENV_MODULE, EXTISM_USER_MODULE, Engine,
    EngineProvider, Error, ErrorExt, ErrorKind, FromBytes, FromBytesOwned, FuncType, Function,
    HOST_IMPORTS, KERNEL_EXPORTS, MAIN_MODULE, Manifest, MemoryHandle, NoDefaultEngine, PAGE_SIZE,
    PTR, Profiling, ToBytes, UserData, VAR_ENTRY_OVERHEAD, Val, ValType, WASI_MODULE, Wasm,
    WasmInput, WasmMetadata, XtismError, convert, engine, guest_initializers, host_fn, manifest,
    module_bytes, set_log_callback, set_log_file,
};
#[cfg(feature = "wasi")]
pub use xtism_core::{OutputCapture, WASI_OUTPUT_ENV, WasiOutput};
#[cfg(feature = "wasmer")]
pub use xtism_wasmer::WasmerEngine;
#[cfg(feature = "wasmi")]
pub use xtism_wasmi::WasmiEngine;
#[cfg(feature = "wasmtime")]
pub use xtism_wasmtime::WasmtimeEngine;

/// Names of the engines compiled into this build; the first is the default (wasmtime when
/// compiled in, else wasmi, else wasmer).
pub const ENGINES: &[&str] = &[
    #[cfg(feature = "wasmtime")]
    "wasmtime",
    #[cfg(feature = "wasmi")]
    "wasmi",
    #[cfg(feature = "wasmer")]
    "wasmer",
];

/// The engine made once per process and shared by every plug-in that names it.
#[cfg(any(feature = "wasmtime", feature = "wasmi", feature = "wasmer"))]
macro_rules! shared_engine {
    ($make:expr) => {{
        static ENGINE: std::sync::OnceLock<Arc<dyn Engine>> = std::sync::OnceLock::new();
        Ok(Arc::clone(ENGINE.get_or_init(|| Arc::new($make))))
    }};
}

/// The version, e.g. `1.41.0+xtism.0.1.0`: the Extism API version implemented, then xtism's
/// own as build metadata, as libxtism's `extism_version` gives it (the official crate's
/// string is its own version, ending in a NUL byte for C; this one has none).
pub fn extism_version() -> &'static str {
    concat!("1.41.0+xtism.", env!("CARGO_PKG_VERSION"))
}

/// Environment variable naming the default engine.
pub const ENGINE_ENV: &str = "XTISM_ENGINE";

/// The engine called `name` (`wasmtime`, `wasmi`, `wasmer`), if compiled in. Engines are
/// made once per process and shared.
///
/// # Errors
///
/// [`XtismError::Invalid`] naming the engines this build has, for any other name.
pub fn engine_named(name: &str) -> Result<Arc<dyn Engine>, Error> {
    match name {
        #[cfg(feature = "wasmtime")]
        "wasmtime" => shared_engine!(xtism_wasmtime::WasmtimeEngine::new()),
        #[cfg(feature = "wasmi")]
        "wasmi" => shared_engine!(xtism_wasmi::WasmiEngine::new()),
        #[cfg(feature = "wasmer")]
        "wasmer" => shared_engine!(xtism_wasmer::WasmerEngine::new()),
        _ => Err(XtismError::Invalid(format!(
            "unknown engine {name:?}; this build has: {}",
            ENGINES.join(", ")
        ))
        .into()),
    }
}

/// The engine named by `XTISM_ENGINE`, else the first of [`ENGINES`].
pub fn default_engine() -> Result<Arc<dyn Engine>, Error> {
    match std::env::var(ENGINE_ENV) {
        Ok(name) if !name.is_empty() => engine_named(&name),
        Err(std::env::VarError::NotUnicode(name)) => Err(XtismError::Invalid(format!(
            "{ENGINE_ENV} is not UTF-8 ({name:?}); this build has: {}",
            ENGINES.join(", ")
        ))
        .into()),
        _ => match ENGINES.first() {
            Some(name) => engine_named(name),
            None => Err(XtismError::Invalid(
                "this build of xtism has no engine: enable a feature (wasmtime, wasmi, wasmer)"
                    .into(),
            )
            .into()),
        },
    }
}

/// The [`EngineProvider`] of this crate: picks [`default_engine`].
#[derive(Debug)]
pub struct Engines;

impl EngineProvider for Engines {
    fn default_engine() -> Result<Arc<dyn Engine>, Error> {
        default_engine()
    }
}

/// A running plug-in on the engine [`default_engine`] picks, unless the builder chose one.
pub type Plugin = xtism_core::Plugin<Engines>;

/// Builds a [`Plugin`] or a [`CompiledPlugin`].
pub type PluginBuilder<'a> = xtism_core::PluginBuilder<'a, Engines>;

/// A bounded pool of [`Plugin`] instances for concurrent callers, with the official crate's
/// `Pool` API; configured by [`PoolBuilder`].
pub type Pool = xtism_core::Pool<Engines>;

/// An instance lent by a [`Pool`]; it goes back to the pool when dropped.
pub type PoolPlugin = xtism_core::PoolPlugin<Engines>;

pub use xtism_core::PoolBuilder;
