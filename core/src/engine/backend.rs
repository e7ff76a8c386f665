//! The traits a backend implements: an [`Engine`] compiles modules and links a plan, a
//! [`Linked`] plug-in instantiates, an [`Instance`] calls exports; a failed instantiation
//! hands its state back in an [`InstantiateError`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::capabilities::{Capabilities, CompileOptions};
use super::export_shape::ExportShape;
use super::host_access::HostAccess;
use super::interrupt::CallLimits;
use super::link_plan::LinkPlan;
use super::module::Module;
use super::plugin_state::PluginState;
use crate::error::XtismError;

/// A failed instantiation, handing back the state it was given so nothing is lost.
#[derive(Debug)]
pub struct InstantiateError {
    /// What went wrong.
    pub error: XtismError,
    /// The state passed to [`Linked::instantiate`].
    pub state: Box<PluginState>,
}

impl InstantiateError {
    /// The error to report: a host function's own error when one failed, else the engine's.
    pub fn into_error(mut self) -> XtismError {
        self.state.pending_error.take().unwrap_or(self.error)
    }
}

/// A plug-in ready to be instantiated many times.
pub trait Linked: Send + Sync {
    /// A fresh instance holding `state`.
    fn instantiate(&self, state: PluginState) -> Result<Box<dyn Instance>, InstantiateError>;
}

/// What [`Instance::call_async`] gives: the outcome [`Instance::call`] would give, once the
/// call is done.
pub type CallFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Option<i32>, XtismError>> + Send + 'a>>;

/// A running plug-in: the engine's store with every module instantiated.
pub trait Instance: HostAccess + Send {
    /// Calls the export `name` of the main module (`module: None`) or of module `module`
    /// (an index into [`LinkPlan::modules`]: how core runs the start functions and
    /// initializers of the modules a plug-in links, under the first call's limits), typed
    /// as `shape` says and with its arguments; returns the `i32` when the shape has one.
    /// Core has checked the export's type; a backend caches the main module's typed
    /// functions by name. Running out of `limits.fuel` is [`XtismError::OutOfFuel`];
    /// passing `limits.deadline` is [`XtismError::Timeout`] (core fills in the duration).
    ///
    /// # Errors
    ///
    /// Those above, [`XtismError::FunctionNotFound`] for an export that is missing or not
    /// of `shape`, and a trap as [`TrapCode::into_error`](super::TrapCode::into_error)
    /// makes it.
    fn call(
        &mut self,
        module: Option<usize>,
        name: &str,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError>;

    /// The async form of [`call`](Self::call), for an engine with the
    /// `async_calls` capability: the guest's calls of async host functions
    /// ([`Function::is_async`](super::Function::is_async)) wait on their
    /// [`PendingHostCall`](super::PendingHostCall) without blocking the thread, sync host
    /// functions run as in a sync call, and the guest yields to the executor at its
    /// interruption points once `limits.yield_every` has passed since it last did.
    /// Dropping the future abandons the call; the instance stays usable for the next one.
    ///
    /// # Errors
    ///
    /// Those of [`call`](Self::call). The default is [`XtismError::Unsupported`], for an
    /// engine without the capability (core does not call it there).
    fn call_async<'a>(
        &'a mut self,
        module: Option<usize>,
        name: &'a str,
        shape: ExportShape,
        limits: &'a CallLimits,
    ) -> CallFuture<'a> {
        let _ = (module, name, shape, limits);
        Box::pin(std::future::ready(Err(XtismError::Unsupported {
            engine: "this engine",
            feature: "async calls".into(),
        })))
    }

    /// Fuel used by the last call, when fuel is metered.
    fn fuel_consumed(&self) -> Option<u64> {
        None
    }

    /// Takes the core dump of the last call that failed in the engine (a trap, a host
    /// function's error, an interruption), leaving none behind: the bytes of a Wasm core
    /// dump file in the tool-conventions format (a Wasm module whose custom sections `core`,
    /// `coremodules`, `coreinstances` and `corestack` describe the store's modules,
    /// instances and stack, with every linear memory and global as data), ready to write to
    /// disk. A later failed call replaces an untaken dump.
    ///
    /// `None` when no dump was made: the plug-in was compiled without
    /// [`CompileOptions::coredump`], no call has failed since the last take, or the last
    /// failure was not one the engine dumps. The default is always `None`, for an engine
    /// without the `coredump` capability. Making the dump cannot fail; core writes it.
    fn take_core_dump(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// Hands the state back (before re-instantiation).
    fn into_state(self: Box<Self>) -> PluginState;
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
    ) -> Result<Arc<dyn Module>, XtismError>;

    /// Prepares a plug-in for instantiation.
    fn link(&self, plan: LinkPlan, options: &CompileOptions)
    -> Result<Box<dyn Linked>, XtismError>;

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
    /// [`XtismError::Unsupported`] by default; the engine's own error when serializing fails.
    fn serialize(&self, module: &dyn Module) -> Result<Vec<u8>, XtismError> {
        let _ = module;
        Err(XtismError::Unsupported {
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
    /// [`XtismError::Unsupported`] by default; the engine's own error for an artifact it refuses
    /// (core then compiles instead).
    fn deserialize(
        &self,
        name: &str,
        artifact: &[u8],
        options: &CompileOptions,
    ) -> Result<Arc<dyn Module>, XtismError> {
        let _ = (name, artifact, options);
        Err(XtismError::Unsupported {
            engine: self.name(),
            feature: "a compilation cache".into(),
        })
    }
}
