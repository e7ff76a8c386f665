//! The Plugin API: [`PluginBuilder`], [`CompiledPlugin`] and [`Plugin`].
//!
//! This is where Extism's call protocol lives: resolving the manifest, linking imports,
//! initializing the guest runtime once, placing the input, running the export, turning
//! traps, return codes and `error_set` messages into [`Error`]s, and handing out the output.
//! Engines only execute.

use std::any::Any;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xtism_manifest::Manifest;

use crate::abi::{self, EXTISM_ENV_MODULE, HOST_IMPORTS, KERNEL_EXPORTS, WASI_MODULE};
use crate::cache::{self, CacheSetting};
use crate::convert::{FromBytes, ToBytes};
use crate::engine::{
    CallLimits, CancelState, CompileOptions, Engine, ExternKind, HostAccess, ImportSource,
    Instance, InstantiateError, KernelMemory, LinkPlan, Linked, PlannedModule, Profiling,
    ResourceLimits,
};
use crate::error::Error;
use crate::function::{CurrentPlugin, FuncType, Function, UserData, Val, ValType};
use crate::http::{HttpOptions, HttpSettings, HttpState};
use crate::start;
use crate::state::{DEFAULT_MAX_VAR_BYTES, Limits, PluginState, Region, range};

/// Name of the main module of a plug-in.
pub const MAIN_MODULE: &str = "main";

/// Chooses the engine when the caller names none. The `xtism` facade crate provides one
/// that knows the compiled-in backends; core alone knows none.
pub trait EngineProvider: 'static {
    /// The engine to use by default.
    fn default_engine() -> Result<Arc<dyn Engine>, Error>;
}

/// The [`EngineProvider`] of core alone: every builder must name its engine.
#[derive(Debug)]
pub struct NoDefaultEngine;

impl EngineProvider for NoDefaultEngine {
    fn default_engine() -> Result<Arc<dyn Engine>, Error> {
        Err(Error::Invalid(
            "no engine chosen: call PluginBuilder::with_engine, or use the xtism crate".into(),
        ))
    }
}

/// The most 64 KiB pages a 32-bit Wasm memory can have.
const MAX_PAGES: u32 = 65_536;

/// What a plug-in is made from: Wasm bytes, or a manifest (as a value or as JSON/TOML bytes).
#[derive(Debug, Clone)]
pub enum WasmInput<'a> {
    /// Wasm bytes, or the bytes of a JSON or TOML manifest.
    Data(Cow<'a, [u8]>),
    /// A manifest.
    Manifest(Cow<'a, Manifest>),
}

impl<'a> From<&'a [u8]> for WasmInput<'a> {
    fn from(data: &'a [u8]) -> Self {
        WasmInput::Data(Cow::Borrowed(data))
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for WasmInput<'a> {
    fn from(data: &'a [u8; N]) -> Self {
        WasmInput::Data(Cow::Borrowed(&data[..]))
    }
}

impl<'a> From<&'a Vec<u8>> for WasmInput<'a> {
    fn from(data: &'a Vec<u8>) -> Self {
        WasmInput::Data(Cow::Borrowed(data))
    }
}

impl From<Vec<u8>> for WasmInput<'_> {
    fn from(data: Vec<u8>) -> Self {
        WasmInput::Data(Cow::Owned(data))
    }
}

impl From<Manifest> for WasmInput<'_> {
    fn from(manifest: Manifest) -> Self {
        WasmInput::Manifest(Cow::Owned(manifest))
    }
}

impl<'a> From<&'a Manifest> for WasmInput<'a> {
    fn from(manifest: &'a Manifest) -> Self {
        WasmInput::Manifest(Cow::Borrowed(manifest))
    }
}

impl WasmInput<'_> {
    /// The manifest this input describes (a lone Wasm module becomes a one-module manifest).
    fn into_manifest(self) -> Result<Manifest, Error> {
        match self {
            WasmInput::Manifest(m) => Ok(m.into_owned()),
            WasmInput::Data(data)
                if data.starts_with(b"\0asm") || crate::module_bytes::is_text(&data) =>
            {
                Ok(Manifest::new([xtism_manifest::Wasm::data(
                    data.into_owned(),
                )]))
            }
            WasmInput::Data(data) => {
                let neither = |detail: String| Error::Compile {
                    module: MAIN_MODULE.into(),
                    message: format!(
                        "the input is neither a Wasm module (binary modules start with \\0asm), \
                         WebAssembly text, nor a JSON or TOML manifest{detail}"
                    ),
                };
                if data.iter().all(u8::is_ascii_whitespace) {
                    return Err(neither(": it is empty".into()));
                }
                let text = std::str::from_utf8(&data)
                    .map_err(|e| neither(format!(": it is not UTF-8 text ({e})")))?;
                if text.trim_start().starts_with('{') {
                    Ok(Manifest::from_json(text)?)
                } else {
                    Manifest::from_toml(text).map_err(|e| neither(format!(" (read as TOML: {e})")))
                }
            }
        }
    }
}

/// Debugging switches of a plug-in, as the official runtime's `DebugOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DebugOptions {
    /// Emit debug info in compiled code (JIT engines).
    pub debug_info: bool,
    /// Emit information for a native profiler (JIT engines).
    pub profiling: Profiling,
    /// When a call fails, write the plug-in's exported memory to this file.
    pub memdump: Option<PathBuf>,
    /// Set from the environment: an engine without a feature asked for says so on stderr
    /// and goes on, where an explicit request is refused with [`Error::Unsupported`].
    from_env: bool,
}

impl DebugOptions {
    /// The switches the official runtime reads from the environment: `EXTISM_DEBUG=1`
    /// (debug info), `EXTISM_PROFILE=perf|jitdump|vtune`, `EXTISM_MEMDUMP=<file>`.
    pub fn from_env() -> DebugOptions {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        DebugOptions {
            debug_info: var("EXTISM_DEBUG").is_some_and(|v| v != "0"),
            profiling: match var("EXTISM_PROFILE").as_deref() {
                Some("perf") => Profiling::Perf,
                Some("jitdump") => Profiling::JitDump,
                Some("vtune") => Profiling::VTune,
                _ => Profiling::None,
            },
            memdump: var("EXTISM_MEMDUMP").map(PathBuf::from),
            from_env: true,
        }
    }

    /// Keeps the switches the engine supports. A missing one is an error when asked for
    /// explicitly; from the environment it is dropped with one line on stderr per engine
    /// and switch.
    fn for_engine(mut self, engine: &dyn Engine) -> Result<DebugOptions, Error> {
        let caps = engine.capabilities();
        let missing = [
            ("debug info".to_owned(), self.debug_info && !caps.debug_info),
            (
                format!("profiling ({:?})", self.profiling),
                self.profiling != Profiling::None && !caps.profiling,
            ),
        ];
        for (feature, _) in missing.iter().filter(|(_, missing)| *missing) {
            if !self.from_env {
                return Err(Error::Unsupported {
                    engine: engine.name(),
                    feature: feature.clone(),
                });
            }
            warn_once(engine.name(), feature);
        }
        self.debug_info &= caps.debug_info;
        if !caps.profiling {
            self.profiling = Profiling::None;
        }
        Ok(self)
    }
}

/// Prints, once per process for each engine and switch, that the engine ignores a debugging
/// switch set in the environment.
fn warn_once(engine: &str, feature: &str) {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let key = format!("{engine}: {feature}");
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.contains(&key) {
        eprintln!(
            "xtism: the {engine} engine does not support {feature}; ignoring the environment's request"
        );
        said.push(key);
    }
}

/// Builds a [`Plugin`] or a [`CompiledPlugin`].
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
    max_pages: Option<u32>,
    max_var_bytes: Option<u64>,
    cache: CacheSetting,
    debug: DebugOptions,
    http: HttpSettings,
    provider: PhantomData<fn() -> P>,
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
            max_pages: None,
            max_var_bytes: None,
            cache: CacheSetting::Default,
            debug: DebugOptions::from_env(),
            http: HttpSettings::default(),
            provider: PhantomData,
        }
    }

    /// Runs the plug-in on `engine` instead of the default one.
    pub fn with_engine(mut self, engine: Arc<dyn Engine>) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Gives the plug-in WASI preview 1 (when it imports it: a plug-in without WASI imports
    /// gets no WASI context). Without the `wasi` feature, a plug-in that imports WASI fails
    /// to link with [`Error::Link`] saying so; one that does not is built as usual.
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

    /// Stops every call after `timeout` (overrides the manifest's `timeout_ms`).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Gives every call a budget of `fuel` units.
    pub fn with_fuel_limit(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Caps every linear memory at `pages` (overrides the manifest's `memory.max_pages`).
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

    /// Compiles and links the plug-in without instantiating it.
    pub fn compile(self) -> Result<CompiledPlugin, Error> {
        let engine = match self.engine {
            Some(engine) => engine,
            None => P::default_engine()?,
        };
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
            return Err(Error::Unsupported {
                engine: engine.name(),
                feature: "timeouts".into(),
            });
        }
        if self.fuel.is_some() && !caps.fuel {
            return Err(Error::Unsupported {
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
        };
        let mut config = manifest.config.clone();
        config.extend(self.config);
        let limits = Limits {
            max_var_bytes: self
                .max_var_bytes
                .or(manifest.memory.max_var_bytes)
                .unwrap_or(DEFAULT_MAX_VAR_BYTES),
        };
        // A 32-bit memory has at most 65,536 pages: a larger cap means no cap, on every
        // engine (wasmer refuses a maximum above it).
        let max_pages = self
            .max_pages
            .or(manifest.memory.max_pages)
            .map(|pages| pages.min(MAX_PAGES));
        let http = Arc::new(self.http.resolve(&manifest));

        let sources = manifest.load_all(None)?;
        let main_index = manifest
            .main_index()
            .ok_or_else(|| Error::Invalid("the manifest has no main module".into()))?;
        let mut modules = Vec::with_capacity(sources.len());
        let mut deferred = Vec::with_capacity(sources.len());
        // The kernel's data path goes into a plug-in of one module (see `merge`); modules of
        // a manifest of several share the kernel instance. Debug info describes the code
        // as the user compiled it, so it keeps the module unchanged.
        let merge = sources.len() == 1 && !options.debug_info;
        let mut merged = false;
        for (name, bytes) in &sources {
            let bytes = crate::module_bytes(name, bytes)?;
            let rewritten = start::defer_start(&bytes);
            deferred.push(rewritten.is_some());
            let bytes = rewritten.as_deref().unwrap_or(&bytes);
            let compiled = cache::compile(
                engine.as_ref(),
                cache_dir.as_deref(),
                name,
                bytes,
                &options,
                merge,
            )?;
            merged = compiled.merged;
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
        let plan = plan_links(
            &modules,
            kernel_memory,
            &self.functions,
            self.wasi,
            max_pages,
            engine.as_ref(),
        )?;
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
                fuel: self.fuel,
                timeout,
                memdump: debug.memdump,
                http,
            }),
        })
    }

    /// Compiles, links and instantiates the plug-in.
    pub fn build(self) -> Result<Plugin<P>, Error> {
        Plugin::new_from_compiled(&self.compile()?)
    }
}

/// The exports that initialize a guest's language runtime, in the order to call them once
/// before the first call, as the official runtime does: a Haskell module gets `_initialize`
/// (when it is a reactor) then `hs_init(0, 0)`; otherwise `__wasm_call_ctors`, else
/// `_initialize`. Exports of the wrong type are not called.
pub fn guest_initializers<'a>(
    exports: impl IntoIterator<Item = (&'a str, &'a FuncType)>,
) -> Vec<&'static str> {
    let exports: HashMap<&str, &FuncType> = exports.into_iter().collect();
    let unit = FuncType::default();
    let is_unit = |name: &str| exports.get(name).is_some_and(|ty| **ty == unit);
    if exports
        .get("hs_init")
        .is_some_and(|ty| **ty == FuncType::new([ValType::I32, ValType::I32], []))
    {
        let mut init = Vec::new();
        if is_unit("_initialize") {
            init.push("_initialize");
        }
        init.push("hs_init");
        init
    } else if exports.contains_key("__wasm_call_ctors") {
        if is_unit("__wasm_call_ctors") {
            vec!["__wasm_call_ctors"]
        } else {
            Vec::new()
        }
    } else if is_unit("_initialize") {
        vec!["_initialize"]
    } else {
        Vec::new()
    }
}

/// The calls that initialize a plug-in at its first call, in order: for each module,
/// dependencies first, its deferred start function, then its guest runtime's initializers.
fn initialization(plan: &LinkPlan, deferred: &[bool]) -> Vec<InitCall> {
    let mut init = Vec::new();
    for (module, planned) in plan.modules.iter().enumerate() {
        if deferred.get(module).copied().unwrap_or(false) {
            init.push(InitCall {
                module,
                name: start::DEFERRED_START,
            });
        }
        let exports = planned.module.exports();
        let funcs = exports.iter().filter_map(|e| match &e.kind {
            ExternKind::Func(ty) => Some((e.name.as_str(), ty)),
            _ => None,
        });
        init.extend(
            guest_initializers(funcs)
                .into_iter()
                .map(|name| InitCall { module, name }),
        );
    }
    init
}

/// One initialization call: an export of a module of the plan.
#[derive(Debug, Clone, Copy)]
struct InitCall {
    /// Index in [`LinkPlan::modules`].
    module: usize,
    name: &'static str,
}

/// Whether `ty` is the type of an Extism export: no parameters, an `i32` or nothing back.
fn is_extism_export(ty: &FuncType) -> bool {
    ty.params().is_empty() && matches!(ty.results(), [] | [ValType::I32])
}

/// Decides where every import of every module comes from.
fn plan_links(
    modules: &[(String, Arc<dyn crate::engine::Module>)],
    kernel_memory: KernelMemory,
    functions: &[Function],
    wasi: bool,
    max_pages: Option<u32>,
    engine: &dyn Engine,
) -> Result<LinkPlan, Error> {
    if !engine.capabilities().simd
        && let Some(f) = functions.iter().find(|f| {
            f.ty()
                .params()
                .iter()
                .chain(f.ty().results())
                .any(|t| *t == ValType::V128)
        })
    {
        return Err(Error::Unsupported {
            engine: engine.name(),
            feature: format!("v128 values, which host function {} uses", f.name()),
        });
    }
    let kernel: HashMap<&str, FuncType> = KERNEL_EXPORTS
        .iter()
        .map(|(name, p, r)| (*name, FuncType::new(p.iter().copied(), r.iter().copied())))
        .collect();
    let mut planned: Vec<PlannedModule> = Vec::with_capacity(modules.len());
    for (name, module) in modules {
        let mut sources = Vec::with_capacity(module.imports().len());
        for import in module.imports() {
            let link_error = |reason: String| Error::Link {
                module: import.module.clone(),
                field: import.name.clone(),
                signature: import.kind.to_string(),
                reason,
            };
            let wanted = match &import.kind {
                ExternKind::Func(ty) => Some(ty),
                _ => None,
            };
            let check = |ty: &FuncType| match wanted {
                Some(w) if w == ty => Ok(()),
                _ => Err(link_error(format!("the host provides {ty}"))),
            };
            let source = if import.module == EXTISM_ENV_MODULE {
                if let Some((field, ty)) = kernel.get_key_value(import.name.as_str()) {
                    check(ty)?;
                    // A merge replaces every data-path import it can serve.
                    if kernel_memory == KernelMemory::MainExport {
                        return Err(link_error("the kernel was merged without it".into()));
                    }
                    ImportSource::Kernel(field)
                } else if let Some((_, host)) = HOST_IMPORTS.iter().find(|(n, _)| *n == import.name)
                {
                    check(&host.func_type())?;
                    ImportSource::Host(*host)
                } else {
                    return Err(link_error(format!(
                        "{EXTISM_ENV_MODULE} has no such function"
                    )));
                }
            } else if let Some(index) = functions
                .iter()
                // The last of several functions with one name wins, as in the official
                // runtime (whose linker allows shadowing).
                .rposition(|f| f.namespace() == import.module && f.name() == import.name)
            {
                check(functions[index].ty())?;
                ImportSource::Function(index)
            } else if let Some(index) = planned.iter().position(|m| m.name == import.module) {
                let export = planned[index]
                    .module
                    .exports()
                    .iter()
                    .find(|e| e.name == import.name)
                    .ok_or_else(|| {
                        link_error(format!("module {} has no such export", import.module))
                    })?;
                if export.kind != import.kind {
                    return Err(link_error(format!(
                        "module {} exports it as {}",
                        import.module, export.kind
                    )));
                }
                ImportSource::Module {
                    index,
                    name: import.name.clone(),
                }
            } else if import.module == WASI_MODULE {
                wasi_source(wasi, &import.name, wanted).map_err(link_error)?
            } else {
                return Err(link_error(
                    "no host function or manifest module provides it".into(),
                ));
            };
            sources.push(source);
        }
        planned.push(PlannedModule {
            name: name.clone(),
            module: Arc::clone(module),
            imports: sources,
        });
    }
    Ok(LinkPlan {
        modules: planned,
        kernel_memory,
        functions: functions.to_vec(),
        limits: ResourceLimits {
            max_pages,
            ..ResourceLimits::default()
        },
    })
}

/// Writes the header of a new instance's kernel memory, so that the data path knows the
/// memory's size before anything runs.
fn write_fresh_header(instance: &mut dyn Instance) {
    let (memory, state) = instance.kernel();
    state.kernel.write_header(memory);
}

/// Where a WASI import comes from, or why it cannot be linked.
fn wasi_source(wasi: bool, name: &str, wanted: Option<&FuncType>) -> Result<ImportSource, String> {
    if !wasi {
        return Err(
            "the plug-in needs WASI: enable it with `with_wasi(true)` (`xtism call --wasi`)".into(),
        );
    }
    #[cfg(feature = "wasi")]
    {
        let import = crate::wasi::find_import(name)
            .ok_or_else(|| format!("{WASI_MODULE} has no such function"))?;
        match wanted {
            Some(ty) if *ty == import.func_type() => Ok(ImportSource::Wasi(import)),
            _ => Err(format!("WASI provides {}", import.func_type())),
        }
    }
    #[cfg(not(feature = "wasi"))]
    {
        let _ = (name, wanted);
        Err("this build of xtism leaves WASI out".into())
    }
}

struct CompiledInner {
    engine: Arc<dyn Engine>,
    linked: Box<dyn Linked>,
    exports: HashMap<String, FuncType>,
    /// Calls to make once before the first call: deferred start functions and the guest
    /// runtimes' initializers, dependencies first.
    init: Vec<InitCall>,
    /// How many modules the plug-in has (the last is main).
    modules: usize,
    /// How to make each instance's WASI context, when the plug-in uses WASI.
    #[cfg(feature = "wasi")]
    wasi: Option<crate::wasi::WasiOptions>,
    config: BTreeMap<String, String>,
    limits: Limits,
    fuel: Option<u64>,
    timeout: Option<Duration>,
    memdump: Option<PathBuf>,
    http: Arc<HttpOptions>,
}

/// A plug-in compiled and linked once, instantiated many times (cheap to clone, shareable
/// across threads).
#[derive(Clone)]
pub struct CompiledPlugin {
    inner: Arc<CompiledInner>,
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
    fn fresh_wasi(&self, state: &mut PluginState) -> Result<(), Error> {
        #[cfg(feature = "wasi")]
        if let Some(options) = &self.inner.wasi {
            state.wasi = Some(options.build(Arc::clone(&state.cancel))?);
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

/// Stops a plug-in's running call from another thread.
#[derive(Debug, Clone)]
pub struct CancelHandle {
    state: Arc<CancelState>,
}

impl CancelHandle {
    /// Stops the call running now, if one is, with [`Error::Cancelled`]. A cancel while no
    /// call runs does nothing: the next call runs normally.
    pub fn cancel(&self) {
        self.state.cancel();
    }
}

/// A running plug-in.
pub struct Plugin<P: EngineProvider = NoDefaultEngine> {
    compiled: CompiledPlugin,
    cancel: Arc<CancelState>,
    instance: Option<Box<dyn Instance>>,
    /// The instance id, shown in logs.
    pub id: uuid::Uuid,
    parked: Option<PluginState>,
    initialized: bool,
    needs_reinstantiate: bool,
    provider: PhantomData<fn() -> P>,
}

impl<P: EngineProvider> std::fmt::Debug for Plugin<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("id", &self.id)
            .field("engine", &self.compiled.inner.engine.name())
            .finish_non_exhaustive()
    }
}

impl<P: EngineProvider> Plugin<P> {
    /// A plug-in from Wasm bytes or a manifest, with host functions, optionally with WASI.
    pub fn new<'a>(
        wasm: impl Into<WasmInput<'a>>,
        functions: impl IntoIterator<Item = Function>,
        with_wasi: bool,
    ) -> Result<Self, Error> {
        PluginBuilder::<P>::new(wasm)
            .with_functions(functions)
            .with_wasi(with_wasi)
            .build()
    }

    /// A new instance of a compiled plug-in.
    pub fn new_from_compiled(compiled: &CompiledPlugin) -> Result<Self, Error> {
        let id = uuid::Uuid::new_v4();
        let inner = &compiled.inner;
        let cancel = Arc::<CancelState>::default();
        let mut state =
            PluginState::new(id, inner.config.clone(), inner.limits, Arc::clone(&cancel));
        state.http = HttpState::new(Arc::clone(&inner.http));
        compiled.fresh_wasi(&mut state)?;
        let mut instance = inner
            .linked
            .instantiate(state)
            .map_err(InstantiateError::into_error)?;
        write_fresh_header(instance.as_mut());
        Ok(Plugin {
            compiled: compiled.clone(),
            cancel,
            instance: Some(instance),
            id,
            parked: None,
            initialized: false,
            needs_reinstantiate: false,
            provider: PhantomData,
        })
    }

    /// The engine this plug-in runs on.
    pub fn engine_name(&self) -> &'static str {
        self.compiled.inner.engine.name()
    }

    /// Whether the plug-in exports a function `name` that can be called: no parameters, an
    /// `i32` or nothing back.
    pub fn function_exists(&self, name: impl AsRef<str>) -> bool {
        self.compiled.function_exists(name.as_ref())
    }

    /// The names of the functions a host can call (exports taking no parameters and
    /// returning an `i32` or nothing), sorted.
    pub fn functions(&self) -> impl Iterator<Item = &str> {
        let mut names: Vec<&str> = self
            .compiled
            .inner
            .exports
            .iter()
            .filter(|(_, ty)| is_extism_export(ty))
            .map(|(name, _)| name.as_str())
            .collect();
        names.sort_unstable();
        names.into_iter()
    }

    /// Calls the export `name` with `input` and decodes its output. Borrowed output lives
    /// until the next call.
    pub fn call<'a, 'b, I: ToBytes<'a>, O: FromBytes<'b>>(
        &'b mut self,
        name: impl AsRef<str>,
        input: I,
    ) -> Result<O, Error> {
        let input = input.to_bytes()?;
        let output = self.checked_call(name.as_ref(), input.as_ref(), None)?;
        self.output(output)
    }

    /// Like [`call`](Self::call), and host functions can reach `host_context` through
    /// [`CurrentPlugin::host_context`] during this call.
    pub fn call_with_host_context<'a, 'b, I: ToBytes<'a>, O: FromBytes<'b>, C: Any + Send>(
        &'b mut self,
        name: impl AsRef<str>,
        input: I,
        host_context: C,
    ) -> Result<O, Error> {
        let input = input.to_bytes()?;
        let output =
            self.checked_call(name.as_ref(), input.as_ref(), Some(Box::new(host_context)))?;
        self.output(output)
    }

    /// Frees every block of kernel memory.
    pub fn reset(&mut self) -> Result<(), Error> {
        let instance = self.instance()?;
        let (memory, state) = instance.kernel();
        state.kernel.reset(memory);
        Ok(())
    }

    /// Changes config on the running plug-in: `Some` sets a key, `None` removes it.
    pub fn update_config(
        &mut self,
        entries: impl IntoIterator<Item = (impl Into<String>, Option<impl Into<String>>)>,
    ) -> Result<(), Error> {
        let state = self.instance()?.state();
        for (key, value) in entries {
            match value {
                Some(v) => state.config.insert(key.into(), v.into()),
                None => state.config.remove(&key.into()),
            };
        }
        Ok(())
    }

    /// Lets the plug-in read the headers of HTTP responses through `http_headers` from now
    /// on, as the official C API's `extism_plugin_allow_http_response_headers` does (the
    /// builder's [`with_http_response_headers`](PluginBuilder::with_http_response_headers)
    /// does it for every instance).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the plug-in has no instance (a re-instantiation failed).
    pub fn allow_http_response_headers(&mut self) -> Result<(), Error> {
        self.instance()?.state().http.allow_response_headers();
        Ok(())
    }

    /// A handle that stops this plug-in's running call from another thread. It fails with
    /// [`Error::Unsupported`] on an engine that cannot interrupt a call.
    pub fn cancel_handle(&self) -> Result<CancelHandle, Error> {
        let engine = &self.compiled.inner.engine;
        if !engine.capabilities().cancel {
            return Err(Error::Unsupported {
                engine: engine.name(),
                feature: "cancelling a call".into(),
            });
        }
        Ok(CancelHandle {
            state: Arc::clone(&self.cancel),
        })
    }

    /// Fuel used by the last call, when a fuel limit is set.
    pub fn fuel_consumed(&self) -> Option<u64> {
        self.instance.as_ref()?.fuel_consumed()
    }

    fn instance(&mut self) -> Result<&mut Box<dyn Instance>, Error> {
        self.instance
            .as_mut()
            .ok_or_else(|| Error::Invalid("the plug-in could not be re-instantiated".into()))
    }

    fn output<'b, O: FromBytes<'b>>(&'b mut self, output: Region) -> Result<O, Error> {
        let (memory, _) = self.instance()?.kernel();
        let r = range(memory.len(), output.offset, output.len).unwrap_or(0..0);
        O::from_bytes(&memory[r])
    }

    /// Replaces the instance by a fresh one holding the same state (after `_start`).
    /// When that fails the state is parked, so vars survive until a later attempt works.
    fn reinstantiate(&mut self) -> Result<(), Error> {
        let state = match (self.instance.take(), self.parked.take()) {
            (Some(old), _) => old.into_state(),
            (None, Some(state)) => state,
            (None, None) => return Err(Error::Invalid("the plug-in has no instance".into())),
        };
        let mut state = state;
        // The new instance has a new kernel memory: blocks of the old one mean nothing there.
        state.kernel = Default::default();
        if let Err(e) = self.compiled.fresh_wasi(&mut state) {
            self.parked = Some(state);
            return Err(e);
        }
        match self.compiled.inner.linked.instantiate(state) {
            Ok(mut instance) => {
                write_fresh_header(instance.as_mut());
                self.instance = Some(instance);
                self.needs_reinstantiate = false;
                self.initialized = false;
                Ok(())
            }
            Err(mut e) => {
                let error = e.state.pending_error.take().unwrap_or(e.error);
                self.parked = Some(*e.state);
                Err(error)
            }
        }
    }

    /// Runs the deferred start function and the guest runtime's initializers once, under
    /// the first call's limits. When one fails, the next call starts from a fresh instance.
    fn initialize(&mut self, limits: &CallLimits) -> Result<(), Error> {
        let compiled = Arc::clone(&self.compiled.inner);
        let main = compiled.modules - 1;
        for step in &compiled.init {
            let instance = self.instance()?;
            let result = if step.module == main {
                instance.call(step.name, limits)
            } else {
                instance.call_in_module(step.module, step.name, limits)
            };
            let state = instance.state();
            let pending = state.pending_error.take();
            // WASI `proc_exit(0)` ends the step successfully, another code fails it.
            let result = match (state.exit_code.take(), result) {
                (Some(0), _) => Ok(None),
                (Some(code), _) => Err(Error::Plugin {
                    code,
                    message: format!("{} exited with code {code} while initializing", step.name),
                }),
                (None, result) => result.map_err(|e| pending.unwrap_or(e)),
            };
            if let Err(e) = result {
                self.needs_reinstantiate = true;
                return Err(e);
            }
        }
        self.initialized = true;
        Ok(())
    }

    /// [`raw_call`](Self::raw_call), writing a memory dump when the call fails and one was
    /// asked for.
    fn checked_call(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send>>,
    ) -> Result<Region, Error> {
        let result = self.raw_call(name, input, host_context);
        if let (Err(_), Some(path)) = (&result, &self.compiled.inner.memdump) {
            let memory = self
                .instance
                .as_mut()
                .and_then(|i| i.plugin_memory())
                .unwrap_or_default();
            if let Err(e) = std::fs::write(path, memory) {
                tracing::warn!(target: "xtism", plugin = %self.id, "memdump to {}: {e}", path.display());
            }
        }
        result
    }

    /// One call under the plug-in's limits; the deadline covers the first call's
    /// initialization too.
    fn raw_call(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send>>,
    ) -> Result<Region, Error> {
        let timeout = self.compiled.inner.timeout;
        let limits = CallLimits {
            fuel: self.compiled.inner.fuel,
            deadline: timeout.map(|t| Instant::now() + t),
            cancel: Some(Arc::clone(&self.cancel)),
        };
        let cancel = Arc::clone(&self.cancel);
        let running = cancel.start_call();
        let result = self.call_with_limits(name, input, host_context, &limits);
        drop(running);
        result.map_err(|e| match e {
            Error::Timeout(_) => {
                Error::Timeout(timeout.map_or(0, |t| t.as_millis().try_into().unwrap_or(u64::MAX)))
            }
            other => other,
        })
    }

    fn call_with_limits(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send>>,
        limits: &CallLimits,
    ) -> Result<Region, Error> {
        match self.compiled.inner.exports.get(name) {
            None => {
                return Err(Error::FunctionNotFound(format!(
                    "the plug-in has no function named {name:?}"
                )));
            }
            Some(ty) if !is_extism_export(ty) => {
                return Err(Error::FunctionNotFound(format!(
                    "{name:?} has type {ty}; Extism exports take no parameters and return i32 or nothing"
                )));
            }
            Some(_) => {}
        }
        if self.needs_reinstantiate {
            self.reinstantiate()?;
        }
        if !self.initialized {
            // Host imports that wait (HTTP, WASI sleeps) stop at the deadline.
            self.instance()?.state().deadline = limits.deadline;
            self.initialize(limits)?;
        }
        let instance = self.instance()?;
        let host: &mut dyn HostAccess = &mut **instance;
        // The usual call sets up in one borrow of kernel memory: the input fits as it is.
        let placed = {
            let (memory, state) = host.kernel();
            state.kernel.reset(memory);
            state.pending_error = None;
            state.deadline = limits.deadline;
            abi::place_block(memory, state, input).map(|offset| {
                state.kernel.input = Region {
                    offset,
                    len: input.len() as u64,
                };
                state.kernel.write_header(memory);
            })
        };
        if placed.is_none() {
            let offset = abi::new_block(host, input).map_err(|_| {
                Error::MemoryLimit(format!(
                    "the input ({} bytes) does not fit in kernel memory",
                    input.len()
                ))
            })?;
            let (memory, state) = host.kernel();
            state.kernel.input = Region {
                offset,
                len: input.len() as u64,
            };
            state.kernel.write_header(memory);
        }
        host.state().host_context = host_context;

        let result = instance.call(name, limits);

        let (memory, state) = instance.kernel();
        state.host_context = None;
        state.deadline = None;
        // WASI `proc_exit(n)` ends the call as if the export returned n; the instance has
        // run its exit path, so the next call gets a fresh one (vars are kept).
        let exited = state.exit_code.take();
        let outcome = call_outcome(name, result, exited, memory, state);
        if name == "_start" || exited.is_some() {
            self.needs_reinstantiate = true;
        }
        outcome
    }
}

/// What a call comes to once the export has returned, trapped or exited: the output region,
/// or the error to report (a host import's own, the plug-in's with its `error_set` message,
/// a trap with that message).
#[inline]
fn call_outcome(
    name: &str,
    result: Result<Option<i32>, Error>,
    exited: Option<i32>,
    memory: &[u8],
    state: &mut PluginState,
) -> Result<Region, Error> {
    if let Some(e) = state.pending_error.take() {
        return Err(e);
    }
    // The plug-in's error message: a non-empty block set with `error_set`.
    let handle = state.kernel.error;
    let guest_message = abi::block(memory, state, handle)
        .filter(|bytes| handle != 0 && !bytes.is_empty())
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned());
    let (code, verb) = match (result, exited) {
        (_, Some(code)) => (code, "exited with code"),
        (Err(Error::Trap { message, backtrace }), None) => {
            return Err(Error::Trap {
                message: match guest_message {
                    Some(guest) => format!("{guest} ({message})"),
                    None => message,
                },
                backtrace,
            });
        }
        (Err(e), None) => return Err(e),
        (Ok(code), None) => (code.unwrap_or(0), "returned exit code"),
    };
    // As in the official runtime, an error message fails the call whatever the code.
    match (guest_message, code) {
        (Some(message), code) => Err(Error::Plugin { code, message }),
        (None, 0) => Ok(state.kernel.output),
        (None, code) if handle != 0 => Err(Error::Plugin {
            code,
            message: format!(
                "{name} {verb} {code}; its error handle {handle} is not an allocated block"
            ),
        }),
        (None, code) => Err(Error::Plugin {
            code,
            message: format!("{name} {verb} {code}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(params: &[ValType], results: &[ValType]) -> FuncType {
        FuncType::new(params.iter().copied(), results.iter().copied())
    }

    #[test]
    fn initializers_follow_the_official_order() {
        let unit = ty(&[], &[]);
        let hs = ty(&[ValType::I32, ValType::I32], &[]);
        let bad = ty(&[ValType::I32], &[]);
        let init = |exports: &[(&str, &FuncType)]| guest_initializers(exports.iter().copied());
        assert_eq!(
            init(&[("hs_init", &hs), ("_initialize", &unit)]),
            ["_initialize", "hs_init"]
        );
        assert_eq!(
            init(&[("hs_init", &hs), ("__wasm_call_ctors", &unit)]),
            ["hs_init"]
        );
        assert_eq!(
            init(&[("_initialize", &unit), ("__wasm_call_ctors", &unit)]),
            ["__wasm_call_ctors"]
        );
        assert_eq!(init(&[("_initialize", &unit)]), ["_initialize"]);
        assert!(init(&[("__wasm_call_ctors", &bad), ("_initialize", &unit)]).is_empty());
        assert!(init(&[("_initialize", &bad)]).is_empty());
        assert_eq!(
            init(&[("hs_init", &bad), ("_initialize", &unit)]),
            ["_initialize"]
        );
    }

    #[test]
    fn plugins_can_cross_threads() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        send::<Plugin>();
        send_sync::<CompiledPlugin>();
        send_sync::<Function>();
    }
}
