//! xtism-wasmer: xtism's engine traits on wasmer 7 (the native `sys` backend, Cranelift).
//!
//! This crate only adapts wasmer to [`xtism_core::engine`]: it compiles modules, materializes
//! core's [`LinkPlan`] as wasmer externs, binds core's kernel imports with
//! `Function::new_typed_with_env` (typed, one binding per signature), user host functions
//! and core's WASI functions with `Function::new_with_env`, and exposes the kernel memory
//! and each module's memory. Extism's meaning stays in core. What wasmer made us choose:
//!
//! - **One wasmer engine per compiled module.** Wasmer keeps compiled code in the engine that
//!   compiled it and frees it only with that engine, and its metering middleware serves a
//!   single module. So every module gets an engine of its own, kept alive by the module and
//!   by the instances made from it: its code is freed with the last plug-in that uses it.
//!   The kernel module uses one engine per configuration (fuel, interruption), made on
//!   first use, and each linked plug-in's stores come from a clone of it with tunables of
//!   the plug-in's limits (see **Resource limits**).
//! - **Fuel** is wasmer-middlewares' `Metering`, one unit per operator, its budget set before
//!   each call. Every plug-in module meters its own code against the call's budget; the kernel
//!   (ours, loop-free) is not metered.
//! - **Interruption.** Wasmer 7 cannot stop running code portably: its
//!   `experimental-host-interrupt` feature takes `SIGUSR1` over for the whole process (a
//!   `SIGUSR1` it did not send fails an assertion inside its signal handler, which aborts)
//!   and exists on Unix only, and a metering trap cannot be resumed, so fuel cannot be handed out in slices as
//!   with wasmi. Instead, interruptible modules carry a check, injected by a middleware of
//!   ours, at every function entry and loop header: it reads a flag global and traps when the
//!   flag is raised. Core's watchdog (`WatchedInstance`) raises the flags of running calls
//!   whose deadline has passed or that were cancelled, asking core's
//!   `CallLimits::interruption` every millisecond; the trap is reported as [`XtismError::Timeout`] or [`XtismError::Cancelled`], the flag
//!   lowered, and the plug-in stays usable.
//! - **Resource limits** are applied by our own wasmer `Tunables`, which create every memory
//!   and table: each memory charges its growth to the instance's budget of `max_pages`, a
//!   table's maximum is clamped to `max_table_elements`. Tunables belong to an engine, so
//!   each linked plug-in makes its stores from a clone of its configured engine (sharing its
//!   code) with tunables of its own limits. Wasmer answers a refused growth with -1, so a
//!   middleware of ours (`grow_check`) follows every `memory.grow` with a check that traps
//!   when a growth within the memory's maximum failed, as the other engines' limiters trap.
//!   (Core has read the instances, memories and tables a plug-in makes, and their sizes, and
//!   refused it past its limits before it is linked.)
//! - **Compile cache**: core's (see [`Engine::code_identity`]), over `Module::serialize` and
//!   `Module::deserialize`; the identity is the wasmer version, the host (target triple and
//!   CPU features) and the middleware configuration (fuel, interruption and their versions).
//!   An artifact is loaded into a headless engine of its own, as a compiled module has one.
//! - **Threads**: wasmer 7's `Store` is not `Send` (wasmerio/wasmer#7001), though nothing in
//!   the stores we build is tied to a thread between calls; the instance type asserts `Send`
//!   with the reasons spelled out.
//! - **Unsafe code** is all in one module, `raw`, each use with its SAFETY argument; the
//!   crate denies `unsafe_code` and allows it there only, so the compiler proves that no other
//!   module has any.
//!
//! The modules follow a plug-in's life: this one (the engine, its middlewares and compiling),
//! `link` (a link plan as modules and import sources, and instantiating), `host` (the host
//! functions a store holds), `store` (what they reach), `instance` (a running plug-in and its
//! calls); `convert` (types and values), `interrupt` (the injected check and the flags core's watchdog raises),
//! `limits`, `grow_check` and `raw` (the tunables and budgeted memories) serve them.

#![deny(missing_docs)]
#![deny(unsafe_code)]

mod convert;
mod grow_check;
mod host;
mod instance;
mod interrupt;
mod limits;
mod link;
#[allow(unsafe_code)]
mod raw;
mod store;

use std::sync::{Arc, OnceLock};

use wasmer::sys::{CompilerConfig, Cranelift, EngineBuilder, NativeEngineExt, Target};
use xtism_core::XtismError;
use xtism_core::engine::KERNEL_MODULE_NAME;
use xtism_core::engine::KERNEL_WASM;
use xtism_core::engine::{
    Capabilities, CompileOptions, CompiledModule, Engine, Export, Import, LinkPlan, Linked, Module,
};

use crate::convert::extern_kind;

/// The engine name.
const NAME: &str = "wasmer";

/// The fuel cost of one Wasm operator.
const OPERATOR_COST: u64 = 1;

/// Exports the metering middleware adds to a module: its budget and its exhaustion flag.
pub(crate) const METERING_REMAINING: &str = "wasmer_metering_remaining_points";
/// See [`METERING_REMAINING`].
pub(crate) const METERING_EXHAUSTED: &str = "wasmer_metering_points_exhausted";

/// What compiled code carries: which middlewares instrument it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Config {
    /// Metered with a fuel budget.
    pub fuel: bool,
    /// Stoppable by the watchdog.
    pub interruptible: bool,
}

impl Config {
    fn of(options: &CompileOptions) -> Config {
        Config {
            fuel: options.fuel,
            interruptible: options.interruptible,
        }
    }

    fn index(self) -> usize {
        usize::from(self.fuel) * 2 + usize::from(self.interruptible)
    }

    /// A fresh engine that compiles with this configuration's middlewares. Each module gets
    /// its own: wasmer frees code only with the engine that compiled it, and a metering
    /// middleware serves one module.
    fn compiling_engine(self) -> wasmer::Engine {
        let mut cranelift = Cranelift::new();
        if self.fuel {
            let metering = wasmer_middlewares::Metering::new(u64::MAX, |_: &_| OPERATOR_COST);
            cranelift.push_middleware(Arc::new(metering));
        }
        if self.interruptible {
            cranelift.push_middleware(Arc::new(interrupt::InterruptCheck::default()));
        }
        cranelift.push_middleware(Arc::new(grow_check::GrowCheck::default()));
        EngineBuilder::new(cranelift).into()
    }

    /// Everything about the configuration that changes compiled code, for cache keys.
    fn describe(self) -> String {
        format!(
            "fuel={} cost={OPERATOR_COST} interruptible={} check={} grow-check={}",
            self.fuel,
            self.interruptible,
            interrupt::CHECK_VERSION,
            grow_check::GROW_CHECK_VERSION
        )
    }
}

/// The engine that the stores of one configuration come from (each linked plug-in's through
/// a clone with its own tunables), with the kernel compiled for it.
/// The kernel is trusted and has no loops, so it is compiled without middlewares.
struct ConfiguredEngine {
    engine: wasmer::Engine,
    kernel: wasmer::Module,
    config: Config,
}

impl ConfiguredEngine {
    fn new(config: Config) -> Result<ConfiguredEngine, XtismError> {
        let engine = EngineBuilder::new(Cranelift::new()).into();
        let kernel =
            wasmer::Module::new(&engine, KERNEL_WASM).map_err(|e| XtismError::Compile {
                module: KERNEL_MODULE_NAME.into(),
                message: e.to_string(),
            })?;
        Ok(ConfiguredEngine {
            engine,
            kernel,
            config,
        })
    }
}

/// The wasmer engine.
///
/// Compiled code is native (Cranelift). Fuel, timeouts and cancellation are compiled into
/// the code of the modules that need them (see the crate documentation).
#[derive(Default)]
pub struct WasmerEngine {
    configured: [OnceLock<ConfiguredEngine>; 4],
}

impl std::fmt::Debug for WasmerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WasmerEngine")
    }
}

impl WasmerEngine {
    /// A wasmer engine.
    pub fn new() -> Self {
        WasmerEngine::default()
    }

    fn configured(&self, config: Config) -> Result<&ConfiguredEngine, XtismError> {
        let cell = &self.configured[config.index()];
        if let Some(v) = cell.get() {
            return Ok(v);
        }
        let v = ConfiguredEngine::new(config)?;
        Ok(cell.get_or_init(|| v))
    }
}

/// A module compiled by wasmer, with the engine that holds its code.
pub(crate) struct WasmerModule {
    pub module: wasmer::Module,
    /// The engine holding the module's code: it must outlive every instance.
    pub _engine: wasmer::Engine,
    pub config: Config,
}

/// `module` (compiled by `engine` for `config`) with its imports and exports in core's terms.
fn wrap(
    engine: wasmer::Engine,
    module: wasmer::Module,
    config: Config,
) -> Result<Arc<dyn Module>, XtismError> {
    let mut imports = Vec::new();
    for import in module.imports() {
        let kind = extern_kind(import.ty()).ok_or_else(|| XtismError::Unsupported {
            engine: NAME,
            feature: format!(
                "importing {}::{} (an exception tag or exception reference)",
                import.module(),
                import.name()
            ),
        })?;
        imports.push(Import::new(import.module(), import.name(), kind));
    }
    let exports = module
        .exports()
        .filter(|e| !is_instrumentation(e.name()))
        .filter_map(|e| Some(Export::new(e.name(), extern_kind(e.ty())?)))
        .collect();
    Ok(Arc::new(CompiledModule::new(
        WasmerModule {
            module,
            _engine: engine,
            config,
        },
        imports,
        exports,
    )))
}

/// Whether an export was added by xtism's middlewares rather than written by the plug-in.
fn is_instrumentation(name: &str) -> bool {
    name == interrupt::FLAG_EXPORT || name == METERING_REMAINING || name == METERING_EXHAUSTED
}

/// Compiles `wasm` with a fresh engine for `config`.
pub(crate) fn compile_module(
    name: &str,
    wasm: &[u8],
    config: Config,
) -> Result<(wasmer::Engine, wasmer::Module), XtismError> {
    let engine = config.compiling_engine();
    let module = wasmer::Module::new(&engine, wasm).map_err(|e| XtismError::Compile {
        module: name.to_owned(),
        message: e.to_string(),
    })?;
    Ok((engine, module))
}

impl Engine for WasmerEngine {
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
        caps.compile_cache = true;
        caps
    }

    fn compile(
        &self,
        name: &str,
        wasm: &[u8],
        options: &CompileOptions,
    ) -> Result<Arc<dyn Module>, XtismError> {
        let config = Config::of(options);
        if options.debug_info || options.profiling != xtism_core::engine::Profiling::None {
            return Err(XtismError::Unsupported {
                engine: NAME,
                feature: "debug info and profiling".into(),
            });
        }
        let (engine, module) = compile_module(name, wasm, config)?;
        wrap(engine, module, config)
    }

    fn code_identity(&self, options: &CompileOptions) -> Option<Vec<u8>> {
        if options.debug_info || options.profiling != xtism_core::engine::Profiling::None {
            return None;
        }
        let host = Target::default();
        let mut identity = Vec::new();
        for part in [
            wasmer_types::VERSION.to_owned(),
            host.triple().to_string(),
            format!("{:?}", host.cpu_features()),
            Config::of(options).describe(),
        ] {
            identity.extend_from_slice(&(part.len() as u64).to_le_bytes());
            identity.extend_from_slice(part.as_bytes());
        }
        Some(identity)
    }

    fn serialize(&self, module: &dyn Module) -> Result<Vec<u8>, XtismError> {
        let module = CompiledModule::<WasmerModule>::downcast(module)
            .ok_or_else(|| XtismError::engine("a module of another engine"))?;
        Ok(module
            .module
            .serialize()
            .map_err(XtismError::engine)?
            .to_vec())
    }

    fn deserialize(
        &self,
        _name: &str,
        artifact: &[u8],
        options: &CompileOptions,
    ) -> Result<Arc<dyn Module>, XtismError> {
        let engine = <wasmer::Engine as NativeEngineExt>::headless();
        let module = raw::deserialize(&engine, artifact.to_vec()).map_err(XtismError::engine)?;
        wrap(engine, module, Config::of(options))
    }

    fn link(
        &self,
        plan: LinkPlan,
        options: &CompileOptions,
    ) -> Result<Box<dyn Linked>, XtismError> {
        let configured = self.configured(Config::of(options))?;
        link::WasmerLinked::new(
            configured.engine.clone(),
            configured.kernel.clone(),
            configured.config,
            plan,
        )
        .map(|l| Box::new(l) as Box<dyn Linked>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<WasmerEngine>();
    }
}
