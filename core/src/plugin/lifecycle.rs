//! The plug-in lifecycle ([`Plugin`]): making an instance of a compiled plug-in, running its
//! initializers once before the first call, re-instantiating after `_start` or an exit
//! (vars survive), and what a host changes between calls (config, reset, cancellation).

use std::marker::PhantomData;
use std::sync::Arc;

use super::builder::PluginBuilder;
use super::cancel::CancelHandle;
use super::compiled::{CompiledInner, CompiledPlugin};
use super::init::InitCall;
use super::input::WasmInput;
use super::provider::{EngineProvider, NoDefaultEngine};
use crate::engine::{
    CallLimits, CancelState, Function, Instance, InstantiateError, MemoryBudget, PluginState,
};
use crate::error::Error;
use crate::error::XtismError;
use crate::http::HttpState;

/// A running plug-in.
pub struct Plugin<P: EngineProvider = NoDefaultEngine> {
    pub(super) compiled: CompiledPlugin,
    pub(super) cancel: Arc<CancelState>,
    pub(super) instance: Option<Box<dyn Instance>>,
    /// The plug-in's id (a random v4 UUID per instance), as the official `Plugin::id`: it
    /// names the plug-in in logs, and host functions see it as [`CurrentPlugin::id`]. A new
    /// value assigned here reaches them from the next call on.
    ///
    /// [`CurrentPlugin::id`]: crate::CurrentPlugin::id
    pub id: uuid::Uuid,
    parked: Option<PluginState>,
    pub(super) initialized: bool,
    pub(super) needs_reinstantiate: bool,
    /// Whether the last call reached its export, whose fuel the instance then reports.
    pub(super) export_ran: bool,
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

    /// A new instance of a compiled plug-in. One whose main module's memories start with
    /// more pages than `memory.max_pages` has no instance: every call fails with
    /// [`XtismError::MemoryLimit`] (root cause `oom`), as in the official runtime.
    pub fn new_from_compiled(compiled: &CompiledPlugin) -> Result<Self, Error> {
        let id = uuid::Uuid::new_v4();
        let cancel = Arc::<CancelState>::default();
        let instance = match compiled.inner.refused_start {
            Some(_) => None,
            None => Some(first_instance(compiled, id, &cancel)?),
        };
        // The official runtime logs the same event at the same level.
        let engine = compiled.inner.engine.name();
        tracing::debug!(target: "xtism", plugin = %id, engine, "created");
        Ok(Plugin {
            compiled: compiled.clone(),
            cancel,
            instance,
            id,
            parked: None,
            initialized: false,
            needs_reinstantiate: false,
            export_ran: false,
            provider: PhantomData,
        })
    }

    /// The engine this plug-in runs on.
    pub fn engine_name(&self) -> &'static str {
        self.compiled.inner.engine.name()
    }

    /// Frees every block of kernel memory.
    pub fn reset(&mut self) -> Result<(), Error> {
        if self.never_runs() {
            return Ok(());
        }
        let instance = self.instance()?;
        let (memory, state) = instance.kernel();
        state.extism.kernel.reset(memory);
        Ok(())
    }

    /// Changes config on the running plug-in: `Some` sets a key, `None` removes it.
    pub fn update_config(
        &mut self,
        entries: impl IntoIterator<Item = (impl Into<String>, Option<impl Into<String>>)>,
    ) -> Result<(), Error> {
        if self.never_runs() {
            return Ok(());
        }
        let state = self.instance()?.state();
        for (key, value) in entries {
            match value {
                Some(v) => state.extism.config.insert(key.into(), v.into()),
                None => state.extism.config.remove(&key.into()),
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
    /// [`XtismError::Invalid`] when the plug-in has no instance (a re-instantiation failed).
    pub fn allow_http_response_headers(&mut self) -> Result<(), Error> {
        if self.never_runs() {
            return Ok(());
        }
        self.instance()?
            .state()
            .extism
            .http
            .allow_response_headers();
        Ok(())
    }

    /// A handle that stops this plug-in's running call from another thread, as the official
    /// `Plugin::cancel_handle`. Every plug-in has one; on an engine that cannot interrupt a
    /// call, [`CancelHandle::cancel`] fails with [`XtismError::Unsupported`].
    pub fn cancel_handle(&self) -> CancelHandle {
        let engine = &self.compiled.inner.engine;
        CancelHandle {
            state: Arc::clone(&self.cancel),
            id: self.id,
            engine: engine.name(),
            supported: engine.capabilities().cancel,
        }
    }

    /// Whether the plug-in runs with a WASI context: it was built with
    /// [`with_wasi(true)`](PluginBuilder::with_wasi) (or `Plugin::new(.., true)`) and one of
    /// its modules imports WASI. The official `Plugin::has_wasi` reports the builder's flag
    /// alone; xtism gives no WASI context to a plug-in that imports none, so this is `false`
    /// there (no guest code could tell the difference).
    pub fn has_wasi(&self) -> bool {
        #[cfg(feature = "wasi")]
        let wasi = self.compiled.inner.wasi.is_some();
        #[cfg(not(feature = "wasi"))]
        let wasi = false;
        wasi
    }

    /// Fuel used by the last call's export, in the engine's fuel units, when a fuel limit is
    /// set (`None` without one): 0 before the first call and after a call that failed
    /// before the export ran (no such function, an input that does not fit, a failed
    /// initializer), whose guest initializers, if any, ran on their own budget.
    pub fn fuel_consumed(&self) -> Option<u64> {
        match &self.instance {
            Some(instance) if self.export_ran => instance.fuel_consumed(),
            _ => self.compiled.inner.fuel.map(|_| 0),
        }
    }

    /// Whether `memory.max_pages` refused the plug-in's start, so that it has no instance
    /// and every call fails: what a host changes between calls then changes nothing anyone
    /// sees, and succeeds, as in the official runtime (whose kernel, config and `reset` do
    /// not need the main module's instance).
    fn never_runs(&self) -> bool {
        self.instance.is_none() && self.compiled.inner.refused_start.is_some()
    }

    pub(super) fn instance(&mut self) -> Result<&mut Box<dyn Instance>, XtismError> {
        let compiled = &self.compiled;
        self.instance
            .as_mut()
            .ok_or_else(|| no_instance(compiled, "the plug-in could not be re-instantiated"))
    }

    /// Replaces the instance by a fresh one holding the same state (after `_start`).
    /// When that fails the state is parked, so vars survive until a later attempt works.
    pub(super) fn reinstantiate(&mut self) -> Result<(), XtismError> {
        let state = match (self.instance.take(), self.parked.take()) {
            (Some(old), _) => old.into_state(),
            (None, Some(state)) => state,
            (None, None) => return Err(no_instance(&self.compiled, "the plug-in has no instance")),
        };
        let mut state = state;
        // The new instance has a new kernel memory: blocks of the old one mean nothing there.
        state.extism.kernel = Default::default();
        if let Err(e) = self.compiled.fresh_wasi(&mut state) {
            self.parked = Some(state);
            return Err(e);
        }
        state.memory.pause();
        match self.compiled.inner.linked.instantiate(state) {
            Ok(mut instance) => {
                instance.state().memory.restart();
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
    /// the first call's deadline and cancellation, with one fuel budget for all of them
    /// (the initialization fuel, else the call's). When one fails, the next call starts
    /// from a fresh instance. Once per instance, so kept out of the call's code.
    #[cold]
    pub(super) fn initialize(&mut self, limits: &CallLimits) -> Result<(), XtismError> {
        let (compiled, mut limits) = self.initialization_limits(limits)?;
        for step in &compiled.init {
            let result = self
                .instance()?
                .call(step.module, step.name, step.shape, &limits);
            self.initialized_by(step, result, &mut limits)?;
        }
        self.initialized = true;
        Ok(())
    }

    /// The async form of [`initialize`](Self::initialize).
    pub(super) async fn initialize_async(&mut self, limits: &CallLimits) -> Result<(), XtismError> {
        let (compiled, mut limits) = self.initialization_limits(limits)?;
        for step in &compiled.init {
            let result = self
                .instance()?
                .call_async(step.module, step.name, step.shape, &limits)
                .await;
            self.initialized_by(step, result, &mut limits)?;
        }
        self.initialized = true;
        Ok(())
    }

    /// Before the initializers run: the plug-in's id and the call's deadline are in the
    /// state, and the limits they run under.
    fn initialization_limits(
        &mut self,
        limits: &CallLimits,
    ) -> Result<(Arc<CompiledInner>, CallLimits), XtismError> {
        let id = self.id;
        let state = self.instance()?.state();
        state.extism.id = id;
        // Host imports that wait (HTTP, WASI sleeps) stop at the deadline.
        state.deadline = limits.deadline;
        let compiled = Arc::clone(&self.compiled.inner);
        let limits = CallLimits {
            fuel: compiled.initialization_fuel,
            deadline: limits.deadline,
            cancel: limits.cancel.clone(),
            yield_every: limits.yield_every,
        };
        Ok((compiled, limits))
    }

    /// What an initializer's `result` comes to; the fuel it used comes out of the budget
    /// the next one gets.
    fn initialized_by(
        &mut self,
        step: &InitCall,
        result: Result<Option<i32>, XtismError>,
        limits: &mut CallLimits,
    ) -> Result<(), XtismError> {
        let instance = self.instance()?;
        if let (Some(left), Some(used)) = (limits.fuel, instance.fuel_consumed()) {
            limits.fuel = Some(left.saturating_sub(used));
        }
        let state = instance.state();
        let refused = refused_growth(state);
        let pending = state.pending_error.take();
        // WASI `proc_exit(0)` ends the step successfully, another code fails it.
        let result = match (refused, state.extism.exit_code.take(), result) {
            (Some(error), _, _) => Err(error),
            (None, Some(0), _) => Ok(None),
            (None, Some(code), _) => Err(XtismError::Plugin {
                code,
                message: format!("{} exited with code {code} while initializing", step.name),
            }),
            (None, None, result) => result.map_err(|e| pending.unwrap_or(e)),
        };
        if let Err(e) = result {
            self.needs_reinstantiate = true;
            return Err(e);
        }
        Ok(())
    }
}

/// Why a plug-in has no instance: `memory.max_pages` refused its start, else `otherwise`.
fn no_instance(compiled: &CompiledPlugin, otherwise: &str) -> XtismError {
    match &compiled.inner.refused_start {
        Some(refusal) => XtismError::MemoryLimit(refusal.clone()),
        None => XtismError::Invalid(otherwise.into()),
    }
}

/// The first instance of plug-in `id`: its state, and growth counted from here on.
fn first_instance(
    compiled: &CompiledPlugin,
    id: uuid::Uuid,
    cancel: &Arc<CancelState>,
) -> Result<Box<dyn Instance>, XtismError> {
    let inner = &compiled.inner;
    let mut state = PluginState::new(
        id,
        inner.config.clone(),
        inner.limits,
        Arc::clone(cancel),
        Arc::new(MemoryBudget::new(inner.max_pages)),
    );
    state.extism.http = HttpState::new(Arc::clone(&inner.http));
    state.extism.manifest = Arc::clone(&inner.manifest);
    state.extism.main_module = inner.modules - 1;
    compiled.fresh_wasi(&mut state)?;
    let mut instance = inner
        .linked
        .instantiate(state)
        .map_err(InstantiateError::into_error)?;
    // Growth counts from here: what the instance was created with does not.
    instance.state().memory.restart();
    write_fresh_header(instance.as_mut());
    Ok(instance)
}

/// A growth past `memory.max_pages` in the call that just ended, whatever else happened in
/// it: the error the call fails with (the official runtime's limiter traps, root cause
/// `oom`). Also clears any error a host call recorded.
pub(super) fn refused_growth(state: &mut PluginState) -> Option<XtismError> {
    let refusal = state.memory.take_refusal()?;
    state.pending_error = None;
    Some(XtismError::MemoryLimit(refusal))
}

/// Writes the header of a new instance's kernel memory, so that the data path knows the
/// memory's size before anything runs.
fn write_fresh_header(instance: &mut dyn Instance) {
    let (memory, state) = instance.kernel();
    state.extism.kernel.write_header(memory);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_can_cross_threads() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        send::<Plugin>();
        send_sync::<CompiledPlugin>();
        send_sync::<Function>();
    }
}
