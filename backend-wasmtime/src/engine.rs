//! The engine: [`WasmtimeEngine`], its wasmtime engines (one [`ConfiguredEngine`] per set of compile
//! options that wasmtime fixes per engine, each with core's kernel compiled for it), and
//! core's [`Engine`] trait over them: compiling, the compile cache's identity and artifacts,
//! and linking (see [`crate::link`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wasmtime::{
    Config, InstancePre, Linker, ModuleExport, ProfilingStrategy, WasmBacktraceDetails,
};
use xtism_core::XtismError;
use xtism_core::engine::KERNEL_WASM;
use xtism_core::engine::{
    Capabilities, CompileOptions, CompiledModule, Engine, LinkPlan, Linked, Module, Profiling,
};
use xtism_core::engine::{KERNEL_MODULE_MEMORY, Ticker};

use crate::error::error_message;
use crate::link::WasmtimeLinked;
use crate::module::{IdentityHasher, WasmtimeModule, wrap};
use crate::store::StoreData;
use crate::{NAME, pool, raw};

/// The wasmtime profiler for a [`Profiling`] choice.
fn profiler(profiling: Profiling) -> Result<ProfilingStrategy, XtismError> {
    Ok(match profiling {
        Profiling::None => ProfilingStrategy::None,
        Profiling::Perf => ProfilingStrategy::PerfMap,
        Profiling::JitDump => ProfilingStrategy::JitDump,
        Profiling::VTune => ProfilingStrategy::VTune,
        other => {
            return Err(XtismError::Unsupported {
                engine: NAME,
                feature: format!("profiling ({other:?})"),
            });
        }
    })
}

/// One wasmtime engine with the kernel module compiled for it.
pub(crate) struct ConfiguredEngine {
    pub(crate) engine: wasmtime::Engine,
    /// The kernel, ready to instantiate (it has no imports).
    pub(crate) kernel: InstancePre<StoreData>,
    /// The kernel's exports, by name, as handles.
    pub(crate) kernel_exports: HashMap<&'static str, ModuleExport>,
    /// The kernel's `memory` export.
    pub(crate) kernel_memory: ModuleExport,
    /// The slots of the engine's instance pool, if it has one.
    pub(crate) pool: Option<u32>,
}

impl ConfiguredEngine {
    fn new(
        options: &CompileOptions,
        ticker: &Ticker,
        pool: Option<u32>,
    ) -> Result<ConfiguredEngine, XtismError> {
        let mut config = Config::new();
        // The `gc` feature (for `externref`) turns the GC and exception-handling proposals
        // on by default; they stay off, as on the other engines.
        config
            .wasm_gc(false)
            .wasm_exceptions(false)
            .consume_fuel(options.fuel)
            .epoch_interruption(options.interruptible)
            .debug_info(options.debug_info)
            .coredump_on_trap(options.coredump)
            .wasm_backtrace_details(WasmBacktraceDetails::Disable)
            .profiler(profiler(options.profiling)?);
        if let Some(slots) = pool {
            config.allocation_strategy(pool::strategy(slots));
        }
        let engine = wasmtime::Engine::new(&config).map_err(|e| {
            if let Some(slots) = pool {
                XtismError::engine(format!(
                    "cannot make a wasmtime engine with an instance pool of {slots} slots: {}",
                    error_message(&e)
                ))
            } else if options.profiling == Profiling::None {
                XtismError::engine(e)
            } else {
                XtismError::Unsupported {
                    engine: NAME,
                    feature: format!("profiling ({:?}): {e}", options.profiling),
                }
            }
        })?;
        let kernel = wasmtime::Module::new(&engine, KERNEL_WASM).map_err(XtismError::engine)?;
        let kernel_exports = xtism_core::KERNEL_EXPORTS
            .iter()
            .filter_map(|(name, _, _)| Some((*name, kernel.get_export_index(name)?)))
            .collect();
        let kernel_memory = kernel
            .get_export_index(KERNEL_MODULE_MEMORY)
            .ok_or_else(|| XtismError::Invalid("the kernel module exports no memory".into()))?;
        let kernel = Linker::new(&engine)
            .instantiate_pre(&kernel)
            .map_err(XtismError::engine)?;
        if options.interruptible {
            let ticked = engine.clone();
            ticker.add(move || ticked.increment_epoch())?;
        }
        Ok(ConfiguredEngine {
            engine,
            kernel,
            kernel_exports,
            kernel_memory,
            pool,
        })
    }
}

/// The wasmtime engine. Modules compiled with different fuel, interruption, debug-info,
/// profiling or core-dump options use different wasmtime engines (wasmtime fixes those per
/// engine); each is made on first use and kept. One thread ticks the epoch of the
/// interruptible ones while calls run.
pub struct WasmtimeEngine {
    configured: Mutex<HashMap<CompileOptions, Arc<ConfiguredEngine>>>,
    pub(crate) ticker: Arc<Ticker>,
    /// The slots of each configured engine's instance pool, if instances come from one.
    pool: Option<u32>,
}

impl Default for WasmtimeEngine {
    fn default() -> Self {
        WasmtimeEngine::new()
    }
}

impl std::fmt::Debug for WasmtimeEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmtimeEngine")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl WasmtimeEngine {
    /// A wasmtime engine. Nothing is compiled and no thread runs until a plug-in is
    /// compiled.
    pub fn new() -> Self {
        WasmtimeEngine {
            configured: Mutex::default(),
            ticker: Arc::new(Ticker::new("xtism-wasmtime-epoch")),
            pool: None,
        }
    }

    /// A wasmtime engine whose instances come from wasmtime's pooling allocator, with room
    /// for `slots` live plug-ins: instantiating reuses a slot's memory mappings instead of
    /// making new ones (about 2.5x faster than [`WasmtimeEngine::new`] on the `instantiate`
    /// benchmark row). Calls run as fast as on the default allocator.
    ///
    /// What the pool fixes up front, unlike the default allocator and the official
    /// runtime:
    ///
    /// - **Live plug-ins.** A slot holds two wasmtime instances, two linear memories and two
    ///   tables: one plug-in of one module (merged with the kernel's data path, or beside a
    ///   kernel instance). A plug-in of several modules takes a slot's share per module, and
    ///   one that uses `externref` a third memory for its GC heap, so fewer plug-ins fit.
    ///   With 0 slots every instantiation fails.
    ///   Each set of compile options that changes the wasmtime engine (fuel, timeouts or
    ///   cancellation, debug info, profiling, core dumps) has a pool of its own.
    /// - **Module shape.** A module may define at most four memories and four tables, of
    ///   at most 4 GiB and 20,000 elements (wasmtime's defaults).
    /// - **Address space.** Each pool reserves two linear memories' worth of address space
    ///   per slot when its first plug-in is compiled (4 GiB and a guard region each on
    ///   64-bit hosts, about 8 TiB for 1,000 slots), none of it resident until used. A
    ///   Linux process on x86-64 has 128 TiB, so about 15,000 slots at most.
    ///
    /// # Errors
    ///
    /// None here. Compiling fails with [`XtismError::Engine`] if the pool's address space cannot
    /// be reserved (a `ulimit -v`, a 32-bit host); instantiating a plug-in while every slot
    /// is taken fails with [`XtismError::Engine`] saying the pool is full, and works again once
    /// a plug-in is dropped; a module beyond the shape above fails to compile
    /// ([`XtismError::Compile`]) with wasmtime's error naming the limit.
    pub fn with_instance_pool(slots: u32) -> Self {
        WasmtimeEngine {
            pool: Some(slots),
            ..WasmtimeEngine::new()
        }
    }

    fn configured(&self, options: &CompileOptions) -> Result<Arc<ConfiguredEngine>, XtismError> {
        // Made under the lock, so two threads never build the same configured engine twice.
        let mut configured = self.configured.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = configured.get(options) {
            return Ok(Arc::clone(v));
        }
        let v = Arc::new(ConfiguredEngine::new(options, &self.ticker, self.pool)?);
        configured.insert(options.clone(), Arc::clone(&v));
        Ok(v)
    }
}

impl Engine for WasmtimeEngine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::NONE;
        caps.jit = true;
        caps.fuel = true;
        caps.timeout = true;
        caps.cancel = true;
        caps.simd = true;
        caps.backtraces = true;
        caps.debug_info = true;
        // Perf maps on Unix, jitdump on Linux, VTune on x86-64 (Linux, macOS, Windows). A
        // profiler the platform lacks is refused with XtismError::Unsupported when compiling.
        caps.profiling = cfg!(unix) || cfg!(all(windows, target_arch = "x86_64"));
        caps.compile_cache = true;
        caps.coredump = true;
        caps.async_calls = true;
        caps
    }

    fn compile(
        &self,
        name: &str,
        wasm: &[u8],
        options: &CompileOptions,
    ) -> Result<Arc<dyn Module>, XtismError> {
        let configured = self.configured(options)?;
        let module =
            wasmtime::Module::new(&configured.engine, wasm).map_err(|e| XtismError::Compile {
                module: name.to_owned(),
                message: error_message(&e),
            })?;
        Ok(wrap(module))
    }

    // wasmtime's hash covers what shapes compiled code. Core dumps are not in it: they are
    // made at run time from the store, so an artifact compiled with them and one compiled
    // without are the same code and share one cache file.
    fn code_identity(&self, options: &CompileOptions) -> Option<Vec<u8>> {
        let configured = self.configured(options).ok()?;
        let mut hasher = IdentityHasher(Vec::new());
        std::hash::Hash::hash(
            &configured.engine.precompile_compatibility_hash(),
            &mut hasher,
        );
        Some(hasher.0)
    }

    fn serialize(&self, module: &dyn Module) -> Result<Vec<u8>, XtismError> {
        let module = CompiledModule::<WasmtimeModule>::downcast(module)
            .ok_or_else(|| XtismError::engine("a module of another engine"))?;
        module
            .module
            .serialize()
            .map_err(|e| XtismError::engine(error_message(&e)))
    }

    fn deserialize(
        &self,
        _name: &str,
        artifact: &[u8],
        options: &CompileOptions,
    ) -> Result<Arc<dyn Module>, XtismError> {
        let configured = self.configured(options)?;
        let module = raw::deserialize(&configured.engine, artifact)
            .map_err(|e| XtismError::engine(error_message(&e)))?;
        Ok(wrap(module))
    }

    fn link(
        &self,
        plan: LinkPlan,
        options: &CompileOptions,
    ) -> Result<Box<dyn Linked>, XtismError> {
        let configured = self.configured(options)?;
        Ok(Box::new(WasmtimeLinked::new(
            &configured,
            &self.ticker,
            plan,
            options,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_engines_are_made_once_per_set_of_options() {
        let engine = WasmtimeEngine::new();
        let plain = CompileOptions::default();
        let mut fuel = CompileOptions::default();
        fuel.fuel = true;
        let a = engine.configured(&plain).unwrap();
        assert!(Arc::ptr_eq(&a, &engine.configured(&plain).unwrap()));
        assert!(!Arc::ptr_eq(&a, &engine.configured(&fuel).unwrap()));
    }
}
