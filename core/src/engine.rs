//! The engine boundary: what a backend provides so that core can run Extism plug-ins on it.
//!
//! The traits are object-safe because the engine is picked at run time, by value (the CLI,
//! the C API and the benchmarks switch engines without recompiling). The required surface
//! is small and carries no Extism meaning: compile bytes, instantiate a set of modules wired
//! as core's [`LinkPlan`] says, call an export, and expose the kernel memory. Which import
//! goes where, what a block is, how vars and config behave: all of that is decided in core,
//! once, so it cannot differ between engines.
//!
//! Host calls flow back through [`HostAccess`], which a backend implements over its
//! caller/store so that core's kernel imports and user host functions can borrow the kernel
//! memory and the [`PluginState`] together.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::abi::HostImport;
use crate::error::Error;
use crate::function::{FuncType, Function, Val, ValType};
use crate::state::PluginState;

/// What a backend can do. Core turns a missing capability into a clear error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Compiles to machine code.
    pub jit: bool,
    /// Can meter execution with a fuel budget.
    pub fuel: bool,
    /// Can stop a running call at a deadline.
    pub timeout: bool,
    /// Can stop a running call from another thread.
    pub cancel: bool,
    /// Supports the SIMD proposal (and `v128` host function values).
    pub simd: bool,
    /// Reports Wasm backtraces on traps.
    pub backtraces: bool,
    /// Emits debug info for compiled code (for native debuggers).
    pub debug_info: bool,
    /// Supports a native profiler ([`Profiling`]).
    pub profiling: bool,
    /// Can serialize compiled code for the compile cache ([`Engine::code_identity`],
    /// [`Engine::serialize`], [`Engine::deserialize`]).
    pub compile_cache: bool,
}

impl Capabilities {
    /// All capabilities off; backends switch on what they have.
    pub const NONE: Capabilities = Capabilities {
        jit: false,
        fuel: false,
        timeout: false,
        cancel: false,
        simd: false,
        backtraces: false,
        debug_info: false,
        profiling: false,
        compile_cache: false,
    };

    /// Each capability by name, with whether the engine has it.
    pub fn by_name(&self) -> [(&'static str, bool); 9] {
        [
            ("jit", self.jit),
            ("fuel", self.fuel),
            ("timeout", self.timeout),
            ("cancel", self.cancel),
            ("simd", self.simd),
            ("backtraces", self.backtraces),
            ("debug info", self.debug_info),
            ("profiling", self.profiling),
            ("compile cache", self.compile_cache),
        ]
    }
}

/// How modules are compiled: choices an engine must make before compiling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CompileOptions {
    /// Meter execution with fuel.
    pub fuel: bool,
    /// Calls must be stoppable at a deadline or from another thread.
    pub interruptible: bool,
    /// Emit debug info in compiled code.
    pub debug_info: bool,
    /// Which native profiler to support.
    pub profiling: Profiling,
}

/// A native profiler an engine can emit information for, as the official runtime's
/// `EXTISM_PROFILE` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profiling {
    /// No profiling.
    #[default]
    None,
    /// Linux `perf` map files.
    Perf,
    /// The jitdump format.
    JitDump,
    /// Intel VTune.
    VTune,
}

/// The limits of one call.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CallLimits {
    /// Fuel budget, when the module was compiled with fuel.
    pub fuel: Option<u64>,
    /// When to stop the call with [`Error::Timeout`], when compiled interruptible.
    pub deadline: Option<std::time::Instant>,
    /// Stop the call with [`Error::Cancelled`] once this says so, when compiled
    /// interruptible.
    pub cancel: Option<Arc<CancelState>>,
}

impl CallLimits {
    /// Why the call must stop now, if it must: [`Error::Cancelled`] or [`Error::Timeout`].
    /// Backends ask this at their interruption points.
    pub fn interruption(&self) -> Option<Error> {
        if self.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            Some(Error::Cancelled)
        } else if self
            .deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
        {
            Some(Error::Timeout(0))
        } else {
            None
        }
    }
}

/// Marks a call as running until dropped.
pub(crate) struct RunningCall<'a>(&'a CancelState);

impl Drop for RunningCall<'_> {
    fn drop(&mut self) {
        self.0.call.fetch_add(1, Ordering::AcqRel);
    }
}

/// Which call of a plug-in, if any, has been cancelled.
///
/// Calls are numbered: the number is odd while a call runs. Cancelling records the running
/// call's number, so a cancel that arrives between calls, or late, never touches a later
/// call.
#[derive(Debug, Default)]
pub struct CancelState {
    call: AtomicU64,
    cancelled: AtomicU64,
}

impl CancelState {
    /// Whether the running call has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        let call = self.call.load(Ordering::Acquire);
        call % 2 == 1 && self.cancelled.load(Ordering::Acquire) == call
    }

    /// A call starts; it ends when the guard drops (even if a host function panics).
    pub(crate) fn start_call(&self) -> RunningCall<'_> {
        self.call.fetch_add(1, Ordering::AcqRel);
        RunningCall(self)
    }

    /// Cancels the running call, if there is one.
    pub(crate) fn cancel(&self) {
        let call = self.call.load(Ordering::Acquire);
        if call % 2 == 1 {
            self.cancelled.store(call, Ordering::Release);
        }
    }
}

/// What an import or export is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternKind {
    /// A function with its signature.
    Func(FuncType),
    /// A linear memory.
    Memory,
    /// A table.
    Table,
    /// A global.
    Global,
}

impl std::fmt::Display for ExternKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExternKind::Func(ty) => ty.fmt(f),
            ExternKind::Memory => f.write_str("memory"),
            ExternKind::Table => f.write_str("table"),
            ExternKind::Global => f.write_str("global"),
        }
    }
}

/// One import of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Import module (namespace).
    pub module: String,
    /// Import field name.
    pub name: String,
    /// What is imported.
    pub kind: ExternKind,
}

/// One export of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// What is exported.
    pub kind: ExternKind,
}

/// A module compiled by a backend.
pub trait Module: Send + Sync + Any {
    /// The imports, in the module's order.
    fn imports(&self) -> &[Import];
    /// The exports.
    fn exports(&self) -> &[Export];
    /// For the backend to get its own type back.
    fn as_any(&self) -> &dyn Any;
}

/// A backend's compiled module `M` with its imports and exports in core's terms: the one
/// [`Module`] implementation, so a backend only supplies its own module type.
pub struct TypedModule<M> {
    /// The backend's compiled module.
    pub inner: M,
    imports: Vec<Import>,
    exports: Vec<Export>,
}

impl<M> TypedModule<M> {
    /// Wraps a backend's module with its imports (in the module's order) and exports.
    pub fn new(inner: M, imports: Vec<Import>, exports: Vec<Export>) -> Self {
        TypedModule {
            inner,
            imports,
            exports,
        }
    }

    /// The backend's own module inside `module`, when the same backend made it.
    pub fn downcast(module: &dyn Module) -> Option<&M>
    where
        M: 'static,
    {
        module
            .as_any()
            .downcast_ref::<TypedModule<M>>()
            .map(|m| &m.inner)
    }
}

impl<M: Send + Sync + 'static> Module for TypedModule<M> {
    fn imports(&self) -> &[Import] {
        &self.imports
    }

    fn exports(&self) -> &[Export] {
        &self.exports
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Where one import of a module comes from. Core decides; the backend only materializes.
#[derive(Debug, Clone)]
pub enum ImportSource {
    /// The export of the same name of the kernel module.
    Kernel(&'static str),
    /// A kernel import implemented in core.
    Host(HostImport),
    /// A user host function: an index into [`LinkPlan::functions`].
    Function(usize),
    /// A WASI preview-1 function implemented in core. The backend binds it for the
    /// importing module, passing that module's index to [`WasiImport::invoke_converted`].
    Wasi(WasiImport),
    /// An export of a module instantiated earlier: an index into [`LinkPlan::modules`].
    Module {
        /// Index of the providing module.
        index: usize,
        /// Export name.
        name: String,
    },
}

/// A WASI preview-1 function implemented in core, for backends to bind with their dynamic
/// function API (there are two dozen signatures, and each call's cost is the system call's,
/// not the binding's).
#[derive(Clone, Copy)]
pub struct WasiImport {
    /// The function's name in `wasi_snapshot_preview1`.
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [ValType],
    /// Result types (an `i32` errno, or nothing for `proc_exit`).
    pub results: &'static [ValType],
    /// Runs the function for module `module` (an index into [`LinkPlan::modules`]) on
    /// `params`, filling in `results`.
    pub(crate) call: WasiCall,
}

/// How core runs a WASI function: for the module at an index of [`LinkPlan::modules`], on
/// parameters, filling in results.
pub(crate) type WasiCall =
    fn(&mut dyn HostAccess, usize, &[Val], &mut [Val]) -> Result<(), HostTrap>;

impl std::fmt::Debug for WasiImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WasiImport({} {})", self.name, self.func_type())
    }
}

impl WasiImport {
    /// The Wasm signature.
    pub fn func_type(&self) -> FuncType {
        FuncType::new(self.params.iter().copied(), self.results.iter().copied())
    }

    /// Runs the function for a call from module `module` on arguments a backend converted
    /// from its engine's values, and returns the results for the backend to convert back.
    /// A failed conversion fails the call, and so does a call that must stop (deadline
    /// passed, cancelled) by the time the function returns.
    pub fn invoke_converted(
        &self,
        host: &mut dyn HostAccess,
        module: usize,
        params: impl IntoIterator<Item = Result<Val, Error>>,
    ) -> Result<Vec<Val>, HostTrap> {
        let params = match params.into_iter().collect::<Result<Vec<Val>, Error>>() {
            Ok(params) => params,
            Err(e) => return Err(host.state().fail(e)),
        };
        let mut results: Vec<Val> = self.results.iter().map(|t| Val::default_for(*t)).collect();
        (self.call)(host, module, &params, &mut results)?;
        let state = host.state();
        if let Some(stop) = state.interruption() {
            return Err(state.fail(stop));
        }
        Ok(results)
    }
}

/// One module to instantiate, with the source of each of its imports.
#[derive(Clone)]
pub struct PlannedModule {
    /// Module name (`main` for the plug-in itself).
    pub name: String,
    /// The compiled module, from this engine.
    pub module: Arc<dyn Module>,
    /// One source per import, in [`Module::imports`] order.
    pub imports: Vec<ImportSource>,
}

/// Where a plug-in's kernel memory lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelMemory {
    /// In an instance of the kernel module ([`KERNEL_WASM`](crate::KERNEL_WASM)), made
    /// before the plug-in's modules: its export `memory`; the modules' data-path imports are
    /// [`ImportSource::Kernel`] exports of that instance.
    Instance,
    /// Core merged the kernel's data path into the main module (the plug-in has no other):
    /// the main instance's memory export [`KERNEL_MEMORY_EXPORT`](crate::KERNEL_MEMORY_EXPORT).
    /// No kernel instance is made, and no import is [`ImportSource::Kernel`].
    MainExport,
}

/// How to instantiate a plug-in: modules in instantiation order, the last one main.
#[derive(Clone)]
pub struct LinkPlan {
    /// Modules, dependencies first; the last is the plug-in's main module.
    pub modules: Vec<PlannedModule>,
    /// Where the kernel memory lives.
    pub kernel_memory: KernelMemory,
    /// The user host functions.
    pub functions: Vec<Function>,
    /// What the store may hold.
    pub limits: ResourceLimits,
}

/// Caps on what one plug-in instance may allocate in its engine's store, so that a plug-in
/// cannot exhaust the host's memory through tables or memories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceLimits {
    /// Pages of every linear memory (plug-in and kernel); `None` is Wasm's own 4 GiB cap.
    pub max_pages: Option<u32>,
    /// Elements of every table.
    pub max_table_elements: u32,
    /// Linear memories in the store.
    pub max_memories: u32,
    /// Tables in the store.
    pub max_tables: u32,
    /// Module instances in the store.
    pub max_instances: u32,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits {
            max_pages: None,
            max_table_elements: 1 << 20,
            max_memories: 16,
            max_tables: 64,
            max_instances: 64,
        }
    }
}

/// A failed instantiation, handing back the state it was given so nothing is lost.
#[derive(Debug)]
pub struct InstantiateError {
    /// What went wrong.
    pub error: Error,
    /// The state passed to [`Linked::instantiate`].
    pub state: Box<PluginState>,
}

impl InstantiateError {
    /// The error to report: a host function's own error when one failed, else the engine's.
    pub fn into_error(mut self) -> Error {
        self.state.pending_error.take().unwrap_or(self.error)
    }
}

/// A plug-in ready to be instantiated many times.
pub trait Linked: Send + Sync {
    /// A fresh instance holding `state`.
    fn instantiate(&self, state: PluginState) -> Result<Box<dyn Instance>, InstantiateError>;
}

/// A running plug-in: the engine's store with every module instantiated.
pub trait Instance: HostAccess + Send {
    /// Calls a main-module export of type `() -> i32` or `() -> ()`, or `(i32, i32) -> ()`
    /// with two zeros (`hs_init`); returns the `i32` when there is one. Running out of
    /// `limits.fuel` is [`Error::OutOfFuel`]; passing `limits.deadline` is
    /// [`Error::Timeout`] (core fills in the duration).
    fn call(&mut self, name: &str, limits: &CallLimits) -> Result<Option<i32>, Error>;

    /// Like [`call`](Self::call), for an export of module `module` (an index into
    /// [`LinkPlan::modules`]): how core runs the start functions and initializers of the
    /// modules a plug-in links, under the first call's limits.
    fn call_in_module(
        &mut self,
        module: usize,
        name: &str,
        limits: &CallLimits,
    ) -> Result<Option<i32>, Error>;

    /// Fuel used by the last call, when fuel is metered.
    fn fuel_consumed(&self) -> Option<u64> {
        None
    }

    /// Hands the state back (before re-instantiation).
    fn into_state(self: Box<Self>) -> PluginState;
}

/// How a backend's dynamically bound import (a user host function, a WASI function) runs:
/// on the host access and the arguments converted from the engine's values, giving back the
/// results to convert back. Each backend has one dynamic binding helper taking this.
pub trait DynamicInvoke:
    Fn(
        &mut dyn HostAccess,
        &mut dyn Iterator<Item = Result<Val, Error>>,
    ) -> Result<Vec<Val>, HostTrap>
    + Send
    + Sync
    + 'static
{
}

impl<F> DynamicInvoke for F where
    F: Fn(
            &mut dyn HostAccess,
            &mut dyn Iterator<Item = Result<Val, Error>>,
        ) -> Result<Vec<Val>, HostTrap>
        + Send
        + Sync
        + 'static
{
}

/// A WebAssembly engine.
pub trait Engine: Send + Sync + 'static {
    /// The engine's name: `wasmtime`, `wasmi`, `wasmer`.
    fn name(&self) -> &'static str;

    /// What it can do.
    fn capabilities(&self) -> Capabilities;

    /// The engine one plug-in's modules are compiled and linked with: `None` (the default)
    /// for this one, shared by every plug-in; an engine of its own for an engine whose
    /// compiled code lives as long as the engine (wasmi's code map only grows), so that
    /// dropping the plug-in frees its code.
    fn for_plugin(&self) -> Option<Arc<dyn Engine>> {
        None
    }

    /// Compiles and validates a module. `name` is for error messages.
    fn compile(
        &self,
        name: &str,
        wasm: &[u8],
        options: &CompileOptions,
    ) -> Result<Arc<dyn Module>, Error>;

    /// Prepares a plug-in for instantiation.
    fn link(&self, plan: LinkPlan, options: &CompileOptions) -> Result<Box<dyn Linked>, Error>;

    /// For the compile cache: bytes naming everything besides the Wasm bytes and the module
    /// name that shapes the code [`compile`](Engine::compile) makes with `options` (engine
    /// version, target, CPU features, code-shaping configuration). Two calls give equal bytes
    /// only if the two compiles would make interchangeable code. `None` (the default): this
    /// engine keeps no cache.
    fn code_identity(&self, options: &CompileOptions) -> Option<Vec<u8>> {
        let _ = options;
        None
    }

    /// For the compile cache: the compiled code of `module` (made by this engine's
    /// [`compile`](Engine::compile)), as bytes that [`deserialize`](Engine::deserialize)
    /// loads.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] by default; the engine's own error when serializing fails.
    fn serialize(&self, module: &dyn Module) -> Result<Vec<u8>, Error> {
        let _ = module;
        Err(Error::Unsupported {
            engine: self.name(),
            feature: "a compilation cache".into(),
        })
    }

    /// For the compile cache: loads what [`serialize`](Engine::serialize) made, for a module
    /// compiled under the same [`code_identity`](Engine::code_identity) and `name`. Core
    /// passes only intact files found under that identity; their directory is trusted (see
    /// the cache documentation in the README), since an engine runs the native code inside.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] by default; the engine's own error for an artifact it refuses
    /// (core then compiles instead).
    fn deserialize(
        &self,
        name: &str,
        artifact: &[u8],
        options: &CompileOptions,
    ) -> Result<Arc<dyn Module>, Error> {
        let _ = (name, artifact, options);
        Err(Error::Unsupported {
            engine: self.name(),
            feature: "a compilation cache".into(),
        })
    }
}

/// The marker a failing host call returns: the real error is kept in the [`PluginState`]
/// and core reports it once the backend's trap unwinds the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostTrap;

impl std::fmt::Display for HostTrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("host function failed")
    }
}

impl std::error::Error for HostTrap {}

/// The host's view of a running plug-in, implemented by backends over their caller (inside
/// a host call) and store (between calls).
pub trait HostAccess {
    /// The kernel memory and the plug-in state, borrowed together.
    fn kernel(&mut self) -> (&mut [u8], &mut PluginState);

    /// Grows the kernel memory by `pages`; false when a limit refuses it.
    fn grow_kernel(&mut self, pages: u64) -> bool;

    /// The plug-in's exported `memory`, if it has one.
    fn plugin_memory(&mut self) -> Option<&mut [u8]>;

    /// The exported `memory` of module `module` (an index into [`LinkPlan::modules`]; the
    /// last is the main module), if it exports one, borrowed with the plug-in state.
    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState);

    /// The plug-in state.
    fn state(&mut self) -> &mut PluginState {
        self.kernel().1
    }
}
