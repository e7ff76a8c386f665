//! The builder ([`PluginBuilder`]): every option of a plug-in, and
//! [`compile`](PluginBuilder::compile), which resolves the manifest, checks what the engine
//! supports, compiles each module (through the compile cache), plans the links and links.

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::compiled::{CompiledInner, CompiledPlugin};
use super::debug::DebugOptions;
use super::init::initialization;
use super::input::WasmInput;
use super::lifecycle::Plugin;
use super::link::plan_links;
use super::provider::{EngineProvider, NoDefaultEngine};
use super::resources::StoreResources;
use crate::cache::{self, CacheSetting};
use crate::engine::{
    CompileOptions, Engine, ExternKind, FuncType, Function, ImportSource, KernelMemory, Val,
    ValType,
};
use crate::error::Error;
use crate::error::XtismError;
use crate::function::{CurrentPlugin, UserData};
use crate::http::HttpSettings;
use crate::state::{DEFAULT_MAX_VAR_BYTES, Limits};
use crate::{name_section, start};

/// How long the guest of an async call computes before it yields to the executor, unless
/// [`PluginBuilder::with_async_yield_interval`] says otherwise: 1 ms.
pub const DEFAULT_YIELD_EVERY: Duration = Duration::from_millis(1);

/// Builds a [`Plugin`] or a [`CompiledPlugin`]. Cloning it clones its options, its Wasm
/// source and its host functions (which share their callbacks and user data).
pub struct PluginBuilder<'a, P: EngineProvider = NoDefaultEngine> {
    source: WasmInput<'a>,
    engine: Option<Arc<dyn Engine>>,
    functions: Vec<Function>,
    wasi: bool,
    allowed_paths: Vec<(String, PathBuf)>,
    #[cfg(feature = "wasi")]
    wasi_stdout: crate::wasi::WasiOutput,
    #[cfg(feature = "wasi")]
    wasi_stderr: crate::wasi::WasiOutput,
    config: BTreeMap<String, String>,
    timeout: Option<Duration>,
    fuel: Option<u64>,
    initialization_fuel: Option<u64>,
    max_pages: Option<u32>,
    max_var_bytes: Option<u64>,
    yield_every: Duration,
    cache: CacheSetting,
    debug: DebugOptions,
    http: HttpSettings,
    provider: PhantomData<fn() -> P>,
}

// By hand: a derive would ask `P: Clone` of the engine provider, a marker type.
impl<P: EngineProvider> Clone for PluginBuilder<'_, P> {
    fn clone(&self) -> Self {
        PluginBuilder {
            source: self.source.clone(),
            engine: self.engine.clone(),
            functions: self.functions.clone(),
            wasi: self.wasi,
            allowed_paths: self.allowed_paths.clone(),
            #[cfg(feature = "wasi")]
            wasi_stdout: self.wasi_stdout.clone(),
            #[cfg(feature = "wasi")]
            wasi_stderr: self.wasi_stderr.clone(),
            config: self.config.clone(),
            timeout: self.timeout,
            fuel: self.fuel,
            initialization_fuel: self.initialization_fuel,
            max_pages: self.max_pages,
            max_var_bytes: self.max_var_bytes,
            yield_every: self.yield_every,
            cache: self.cache.clone(),
            debug: self.debug.clone(),
            http: self.http.clone(),
            provider: PhantomData,
        }
    }
}

impl<'a, P: EngineProvider> PluginBuilder<'a, P> {
    /// A builder for the plug-in made from `wasm` (Wasm bytes or a manifest).
    pub fn new(wasm: impl Into<WasmInput<'a>>) -> Self {
        PluginBuilder {
            source: wasm.into(),
            engine: None,
            functions: Vec::new(),
            wasi: false,
            allowed_paths: Vec::new(),
            #[cfg(feature = "wasi")]
            wasi_stdout: crate::wasi::WasiOutput::from_env(),
            #[cfg(feature = "wasi")]
            wasi_stderr: crate::wasi::WasiOutput::from_env(),
            config: BTreeMap::new(),
            timeout: None,
            fuel: None,
            initialization_fuel: None,
            max_pages: None,
            max_var_bytes: None,
            yield_every: DEFAULT_YIELD_EVERY,
            cache: CacheSetting::Default,
            debug: DebugOptions::from_env(),
            http: HttpSettings::default(),
            provider: PhantomData,
        }
    }

    /// How long the guest of an async call ([`Plugin::call_async`]) may compute before it
    /// gives its thread back to the executor, so that a plug-in in a long loop does not
    /// starve the other tasks of that thread; 1 ms by default
    /// ([`DEFAULT_YIELD_EVERY`]). The guest yields at its engine's interruption points: an
    /// epoch tick (1 ms) on wasmtime, a fuel slice (2^20 units) on wasmi, so a shorter
    /// interval yields at each such point. Sync calls never yield. Not in the official
    /// crate, which has no async calls.
    pub fn with_async_yield_interval(mut self, interval: Duration) -> Self {
        self.yield_every = interval;
        self
    }

    /// Runs the plug-in on `engine` instead of the default one.
    pub fn with_engine(mut self, engine: Arc<dyn Engine>) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Gives the plug-in WASI preview 1 (when it imports it: a plug-in without WASI imports
    /// gets no WASI context). Without the `wasi` feature, a plug-in that imports WASI fails
    /// to link with [`XtismError::Link`] saying so; one that does not is built as usual.
    pub fn with_wasi(mut self, wasi: bool) -> Self {
        self.wasi = wasi;
        self
    }

    /// Maps the host path `host` (a directory, or a single file) to `guest` for WASI, over
    /// the manifest's `allowed_paths`; a `ro:` prefix on `host` makes it read-only, as in
    /// the manifest.
    pub fn with_allowed_path(mut self, host: impl Into<String>, guest: impl Into<PathBuf>) -> Self {
        self.allowed_paths.push((host.into(), guest.into()));
        self
    }

    /// Where the plug-in's WASI stdout goes (default: discarded, or the host's stdout when
    /// `EXTISM_ENABLE_WASI_OUTPUT` is set).
    #[cfg(feature = "wasi")]
    pub fn with_wasi_stdout(mut self, output: crate::wasi::WasiOutput) -> Self {
        self.wasi_stdout = output;
        self
    }

    /// Where the plug-in's WASI stderr goes (default: discarded, or the host's stderr when
    /// `EXTISM_ENABLE_WASI_OUTPUT` is set).
    #[cfg(feature = "wasi")]
    pub fn with_wasi_stderr(mut self, output: crate::wasi::WasiOutput) -> Self {
        self.wasi_stderr = output;
        self
    }

    /// Adds a host function.
    pub fn with_function<T: Send + 'static, F>(
        self,
        name: impl Into<String>,
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
        user_data: UserData<T>,
        f: F,
    ) -> Self
    where
        F: Fn(&mut CurrentPlugin, &[Val], &mut [Val], UserData<T>) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    {
        self.with_functions([Function::new(name, params, results, user_data, f)])
    }

    /// Adds a host function in another namespace than `extism:host/user`.
    pub fn with_function_in_namespace<T: Send + 'static, F>(
        self,
        namespace: impl Into<String>,
        name: impl Into<String>,
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
        user_data: UserData<T>,
        f: F,
    ) -> Self
    where
        F: Fn(&mut CurrentPlugin, &[Val], &mut [Val], UserData<T>) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    {
        self.with_functions([
            Function::new(name, params, results, user_data, f).with_namespace(namespace)
        ])
    }

    /// Adds host functions.
    pub fn with_functions(mut self, functions: impl IntoIterator<Item = Function>) -> Self {
        self.functions.extend(functions);
        self
    }

    /// Adds config entries, over the manifest's.
    pub fn with_config(
        mut self,
        config: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Self {
        self.config
            .extend(config.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Adds one config entry, over the manifest's.
    pub fn with_config_key(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.with_config([(key.into(), value.into())])
    }

    /// Stops every call after `timeout` (overrides the manifest's `timeout_ms`). A timeout
    /// too long for the clock to count from now (`Duration::MAX`) is no deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Gives every call a budget of `fuel` units.
    pub fn with_fuel_limit(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Gives the plug-in's initialization (its deferred start function, `_initialize`,
    /// `__wasm_call_ctors`, `hs_init`, run before its first call) one budget of `fuel`
    /// units for all of it, instead of the call's budget (the official runtime's
    /// `with_initialization_fuel_limit`).
    ///
    /// # Errors
    ///
    /// Building fails with [`XtismError::Invalid`] (text `an initialization fuel limit
    /// requires a call fuel limit`, the official runtime's) unless
    /// [`with_fuel_limit`](Self::with_fuel_limit) is set too.
    pub fn with_initialization_fuel_limit(mut self, fuel: u64) -> Self {
        self.initialization_fuel = Some(fuel);
        self
    }

    /// Limits the plug-in's memories to `pages` 64 KiB pages (overrides the manifest's
    /// `memory.max_pages`): the main module's memories must start with that many pages or
    /// fewer in all (else every call fails), and every instance may then grow its memories
    /// (the kernel's too) by that many pages in all; a growth past it fails the call with
    /// [`XtismError::MemoryLimit`], root cause `oom`. As in the official runtime (see the
    /// README, Limits).
    pub fn with_memory_max(mut self, pages: u32) -> Self {
        self.max_pages = Some(pages);
        self
    }

    /// Caps the bytes held in vars (overrides the manifest's `memory.max_var_bytes`).
    pub fn with_var_max(mut self, bytes: u64) -> Self {
        self.max_var_bytes = Some(bytes);
        self
    }

    /// Allows HTTP requests to hosts matching `glob` (`*` for all, `*.example.com` for the
    /// subdomains of example.com), besides the manifest's `allowed_hosts`. Without any,
    /// every request is denied.
    pub fn with_allowed_host(mut self, glob: impl Into<String>) -> Self {
        self.http.allowed_hosts.push(glob.into());
        self
    }

    /// Allows HTTP requests to hosts matching any of `globs` (see
    /// [`with_allowed_host`](Self::with_allowed_host)).
    pub fn with_allowed_hosts(
        mut self,
        globs: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.http
            .allowed_hosts
            .extend(globs.into_iter().map(Into::into));
        self
    }

    /// Caps HTTP response bodies at `bytes` (overrides the manifest's
    /// `memory.max_http_response_bytes`; default 50 MiB).
    pub fn with_http_response_max(mut self, bytes: u64) -> Self {
        self.http.max_response_bytes = Some(bytes);
        self
    }

    /// Lets the plug-in read the headers of HTTP responses through `http_headers` (off by
    /// default, as in the official runtime).
    pub fn with_http_response_headers(mut self, allow: bool) -> Self {
        self.http.response_headers = allow;
        self
    }

    /// Keeps compiled code in `dir` instead of the default cache directory (see
    /// [`CacheSetting`]). On an engine without the `compile_cache` capability (wasmi),
    /// compiling then fails with `Unsupported`.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = CacheSetting::Dir(dir.into());
        self
    }

    /// Compiles without the compile cache, neither reading nor writing it (the official
    /// runtime's `with_cache_disabled`). The cache is on by default for the JIT engines.
    pub fn with_cache_disabled(mut self) -> Self {
        self.cache = CacheSetting::Disabled;
        self
    }

    /// Sets the debugging switches (instead of those of the environment).
    pub fn with_debug_options(mut self, debug: DebugOptions) -> Self {
        self.debug = debug;
        self
    }

    /// Writes the plug-in's exported memory to `path` when a call fails (the official
    /// runtime's `with_memdump`; [`DebugOptions::memdump`]).
    pub fn with_memdump(mut self, path: impl Into<PathBuf>) -> Self {
        self.debug = self.debug.explicit();
        self.debug.memdump = Some(path.into());
        self
    }

    /// Writes a Wasm core dump to `path` when a call traps (the official runtime's
    /// `with_coredump`; [`DebugOptions::coredump`]): the plug-in's modules, instances,
    /// stack, memories and globals at the trap, in the
    /// [tool-conventions format](https://github.com/WebAssembly/tool-conventions/blob/main/Coredump.md),
    /// named `extism` as the official runtime names it. A host function's error, a timeout
    /// and a cancel are dumped too, as there; a call the plug-in failed by itself (a non-zero
    /// code, an `error_set` message) is not, and a call that succeeds never writes the file.
    /// Each dump replaces the last. A plug-in of one module with core dumps keeps its module
    /// as it was compiled (the kernel's data path is not merged in, as with debug info), so
    /// the dump's function indices are the module's own.
    ///
    /// # Errors
    ///
    /// Building fails with [`XtismError::Unsupported`] (`the wasmi engine does not support
    /// core dumps`) on an engine without the `coredump` capability (wasmi, wasmer). A dump
    /// that cannot be written fails nothing: the call's own error is returned, and the
    /// reason is logged as a warning (target `xtism`), as for
    /// [`with_memdump`](Self::with_memdump).
    pub fn with_coredump(mut self, path: impl Into<PathBuf>) -> Self {
        self.debug = self.debug.explicit();
        self.debug.coredump = Some(path.into());
        self
    }

    /// Emits debug info in compiled code for native debuggers (the official runtime's
    /// `with_debug_info`). Building fails with `Unsupported` on an engine without the
    /// `debug_info` capability (wasmi).
    pub fn with_debug_info(mut self) -> Self {
        self.debug = self.debug.explicit();
        self.debug.debug_info = true;
        self
    }

    /// Emits what the native profiler `profiling` needs (the official runtime's
    /// `with_profiling_strategy`, which takes wasmtime's `ProfilingStrategy`; xtism's
    /// [`Profiling`](crate::engine::Profiling) names the same profilers on every engine).
    /// Building fails with `Unsupported` on an engine without the `profiling` capability.
    pub fn with_profiling_strategy(mut self, profiling: crate::engine::Profiling) -> Self {
        self.debug = self.debug.explicit();
        self.debug.profiling = profiling;
        self
    }

    /// Compiles and links the plug-in without instantiating it.
    pub fn compile(mut self) -> Result<CompiledPlugin, Error> {
        // The provider's error is its own; everything after it is xtism's.
        let engine = match self.engine.take() {
            Some(engine) => engine,
            None => P::default_engine()?,
        };
        Ok(self.compile_typed(engine)?)
    }

    /// [`compile`](Self::compile) on `engine`, with xtism's typed error.
    fn compile_typed(self, engine: Arc<dyn Engine>) -> Result<CompiledPlugin, XtismError> {
        let engine = engine.for_plugin().unwrap_or(engine);
        let mut manifest = self.source.into_manifest()?;
        let caps = engine.capabilities();
        if !self.allowed_paths.is_empty() {
            manifest
                .allowed_paths
                .get_or_insert_default()
                .extend(self.allowed_paths);
        }
        #[cfg(feature = "wasi")]
        let wasi = self.wasi.then(|| crate::wasi::WasiOptions {
            paths: manifest.path_mappings(),
            stdout: self.wasi_stdout,
            stderr: self.wasi_stderr,
        });
        #[cfg(feature = "wasi")]
        if let Some(wasi) = &wasi {
            wasi.check()?;
        }
        let timeout = self
            .timeout
            .or(manifest.timeout_ms.map(Duration::from_millis));
        if timeout.is_some() && !caps.timeout {
            return Err(XtismError::Unsupported {
                engine: engine.name(),
                feature: "timeouts".into(),
            });
        }
        if self.initialization_fuel.is_some() && self.fuel.is_none() {
            return Err(XtismError::Invalid(
                "an initialization fuel limit requires a call fuel limit".into(),
            ));
        }
        if self.fuel.is_some() && !caps.fuel {
            return Err(XtismError::Unsupported {
                engine: engine.name(),
                feature: "fuel limits".into(),
            });
        }
        let debug = self.debug.for_engine(engine.as_ref())?;
        let cache_dir = self.cache.resolve(engine.as_ref())?;
        // Like the official runtime, every plug-in can be cancelled, so every call is
        // interruptible where the engine can interrupt.
        let options = CompileOptions {
            fuel: self.fuel.is_some(),
            interruptible: timeout.is_some() || caps.cancel,
            debug_info: debug.debug_info,
            profiling: debug.profiling,
            coredump: debug.coredump.is_some(),
        };
        manifest.config.extend(self.config);
        let config = manifest.config.clone();
        let limits = Limits {
            max_var_bytes: self
                .max_var_bytes
                .or(manifest.memory.max_var_bytes)
                .unwrap_or(DEFAULT_MAX_VAR_BYTES),
        };
        let max_pages = self.max_pages.or(manifest.memory.max_pages);
        let http = Arc::new(self.http.resolve(&manifest));

        let sources = manifest.load_all(None)?;
        let main_index = manifest
            .main_index()
            .ok_or_else(|| XtismError::Invalid("the manifest has no main module".into()))?;
        let mut modules = Vec::with_capacity(sources.len());
        let mut deferred = Vec::with_capacity(sources.len());
        // The kernel's data path goes into a plug-in of one module (see `merge`); modules of
        // a manifest of several share the kernel instance. Debug info and core dumps describe
        // the code as the user compiled it, so their plug-ins are not merged (naming a module
        // moves no code; see `name_section`).
        let merge = sources.len() == 1 && !options.debug_info && !options.coredump;
        let mut merged = false;
        let mut needs = StoreResources::default();
        for (index, (name, bytes)) in sources.iter().enumerate() {
            let bytes = crate::module_bytes(name, bytes)?;
            let rewritten = start::defer_start(&bytes);
            deferred.push(rewritten.is_some());
            let bytes = rewritten.as_deref().unwrap_or(&bytes);
            let named = name_section::with_module_name(bytes, name);
            let bytes = named.as_deref().unwrap_or(bytes);
            let compiled = cache::compile(
                engine.as_ref(),
                cache_dir.as_deref(),
                name,
                bytes,
                &options,
                merge,
            )?;
            merged = compiled.merged;
            needs.add_module(bytes, index == main_index, merged)?;
            modules.push((name.clone(), compiled.module));
        }
        // Dependencies first, main last.
        let main = modules.remove(main_index);
        modules.push(main);
        let main_deferred = deferred.remove(main_index);
        deferred.push(main_deferred);

        let kernel_memory = if merged {
            KernelMemory::MainExport
        } else {
            KernelMemory::Instance
        };
        if !merged {
            needs.add_kernel()?;
        }
        let plan = plan_links(
            &modules,
            kernel_memory,
            &self.functions,
            self.wasi,
            engine.as_ref(),
        )?;
        needs.check(&plan.limits)?;
        // Only a function the plug-in imports counts: the plan holds every one it was given.
        let async_function = plan
            .modules
            .iter()
            .flat_map(|m| &m.imports)
            .find_map(|import| match import {
                ImportSource::Function(index) => {
                    plan.functions.get(*index).filter(|f| f.is_async())
                }
                _ => None,
            })
            .map(|f| f.name().to_owned());
        if async_function.is_some() && !caps.async_calls {
            return Err(XtismError::Unsupported {
                engine: engine.name(),
                feature: "async host functions".into(),
            });
        }
        #[cfg(feature = "wasi")]
        let wasi = wasi.filter(|_| {
            plan.modules
                .iter()
                .any(|m| m.imports.iter().any(|i| matches!(i, ImportSource::Wasi(_))))
        });
        let exports: HashMap<String, FuncType> = plan
            .modules
            .last()
            .map(|m| {
                m.module
                    .exports()
                    .iter()
                    .filter(|e| e.name != start::DEFERRED_START)
                    .filter_map(|e| match &e.kind {
                        ExternKind::Func(ty) => Some((e.name.clone(), ty.clone())),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let init = initialization(&plan, &deferred);
        let module_count = plan.modules.len();
        let linked = engine.link(plan, &options)?;
        Ok(CompiledPlugin {
            inner: Arc::new(CompiledInner {
                engine,
                linked,
                exports,
                init,
                modules: module_count,
                #[cfg(feature = "wasi")]
                wasi,
                config,
                limits,
                max_pages,
                refused_start: needs.start_refusal(max_pages),
                fuel: self.fuel,
                initialization_fuel: self.initialization_fuel.or(self.fuel),
                manifest: Arc::new(manifest),
                timeout,
                coredump: debug.coredump,
                memdump: debug.memdump,
                http,
                async_function,
                yield_every: self.yield_every,
            }),
        })
    }

    /// Compiles, links and instantiates the plug-in.
    pub fn build(self) -> Result<Plugin<P>, Error> {
        Plugin::new_from_compiled(&self.compile()?)
    }
}
