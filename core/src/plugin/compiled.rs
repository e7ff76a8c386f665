//! The compiled plug-in ([`CompiledPlugin`]): compiled and linked once, instantiated many
//! times; `CompiledInner` holds what every instance is made from.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::builder::PluginBuilder;
use super::call::is_extism_export;
use super::init::InitCall;
use super::provider::EngineProvider;
use crate::engine::{Engine, FuncType, Linked, PluginState};
use crate::error::Error;
use crate::error::XtismError;
use crate::http::HttpOptions;
use crate::state::Limits;

/// What every instance of a compiled plug-in is made from.
pub(super) struct CompiledInner {
    pub(super) engine: Arc<dyn Engine>,
    pub(super) linked: Box<dyn Linked>,
    pub(super) exports: HashMap<String, FuncType>,
    /// Calls to make once before the first call: deferred start functions and the guest
    /// runtimes' initializers, dependencies first.
    pub(super) init: Vec<InitCall>,
    /// How many modules the plug-in has (the last is main).
    pub(super) modules: usize,
    /// How to make each instance's WASI context, when the plug-in uses WASI.
    #[cfg(feature = "wasi")]
    pub(super) wasi: Option<crate::wasi::WasiOptions>,
    pub(super) config: BTreeMap<String, String>,
    pub(super) limits: Limits,
    /// `memory.max_pages`: each instance's budget of memory growth.
    pub(super) max_pages: Option<u32>,
    /// Why no instance can be made under `max_pages` (the main module's memories start
    /// above it): every call fails with it, as in the official runtime.
    pub(super) refused_start: Option<String>,
    pub(super) fuel: Option<u64>,
    /// The one budget of the plug-in's initialization: the builder's initialization fuel,
    /// else the call's.
    pub(super) initialization_fuel: Option<u64>,
    /// The manifest it was built from, its config merged with the builder's (for
    /// [`CurrentPlugin::manifest`](crate::CurrentPlugin::manifest)).
    pub(super) manifest: Arc<xtism_manifest::Manifest>,
    pub(super) timeout: Option<Duration>,
    /// Where to write the core dump of a call that traps.
    pub(super) coredump: Option<PathBuf>,
    /// Where to write the plug-in's memory when a call fails.
    pub(super) memdump: Option<PathBuf>,
    pub(super) http: Arc<HttpOptions>,
    /// An async host function the plug-in imports, if it imports one: such a plug-in is
    /// called only with `call_async`.
    pub(super) async_function: Option<String>,
    /// How long the guest of an async call computes before yielding to the executor.
    pub(super) yield_every: Duration,
}

/// A plug-in compiled and linked once, instantiated many times (cheap to clone, shareable
/// across threads).
#[derive(Clone)]
pub struct CompiledPlugin {
    pub(super) inner: Arc<CompiledInner>,
}

impl std::fmt::Debug for CompiledPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledPlugin")
            .field("engine", &self.inner.engine.name())
            .finish_non_exhaustive()
    }
}

impl CompiledPlugin {
    /// Compiles the plug-in a builder describes.
    pub fn new<P: EngineProvider>(builder: PluginBuilder<'_, P>) -> Result<Self, Error> {
        builder.compile()
    }

    /// The engine it was compiled for.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.inner.engine
    }

    /// Gives `state` a fresh WASI context (empty fd table, the allowed paths opened anew)
    /// when the plug-in uses WASI.
    pub(super) fn fresh_wasi(&self, state: &mut PluginState) -> Result<(), XtismError> {
        #[cfg(feature = "wasi")]
        if let Some(options) = &self.inner.wasi {
            state.extism.wasi = Some(options.build(Arc::clone(&state.cancel))?);
        }
        #[cfg(not(feature = "wasi"))]
        let _ = state;
        Ok(())
    }

    /// Whether the main module exports a function `name` that can be called: no
    /// parameters, an `i32` or nothing back.
    pub fn function_exists(&self, name: &str) -> bool {
        self.inner.exports.get(name).is_some_and(is_extism_export)
    }
}
