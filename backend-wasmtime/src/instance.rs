//! A running plug-in ([`WasmtimePlugin`]) and its calls: exports resolved and typed on
//! their first call, each call run under its fuel budget, deadline and cancel flag (the
//! epoch callback, [`on_epoch`], decides at each tick whether a call goes on), the core
//! dump of a failed call kept for core, and core's [`HostAccess`] over the store between
//! calls. An async call runs the same export on a fiber (`call_async`), and the epoch
//! callback also makes it yield to the executor.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::{Store, TypedFunc, UpdateDeadline};
use xtism_core::XtismError;
use xtism_core::engine::PluginState;
use xtism_core::engine::{
    CallFuture, CallLimits, ExportShape, HostAccess, Instance, Ticker, TickingCall, TypedExport,
    call_typed_export, yield_now,
};

use crate::error::{serialize_core_dump, trap_error};
use crate::store::{StoreData, grow_kernel_of, kernel_of, module_memory_of};

/// A running plug-in on wasmtime.
pub(crate) struct WasmtimePlugin {
    store: Store<StoreData>,
    main: wasmtime::Instance,
    /// The other modules' instances, in link-plan order.
    dependencies: Vec<wasmtime::Instance>,
    settings: CallSettings,
    last: LastCall,
    /// Main-module exports, typed on their first call as core's shape says.
    exports: HashMap<Box<str>, Typed>,
}

/// How every call of a plug-in runs: the epoch ticker, whether fuel is metered, whether
/// calls can be interrupted.
struct CallSettings {
    ticker: Arc<Ticker>,
    fuel: bool,
    interruptible: bool,
}

/// What the last call left for core to ask about.
#[derive(Default)]
struct LastCall {
    fuel_consumed: Option<u64>,
    /// The core dump of the last failed call, serialized, until core takes it.
    core_dump: Option<Vec<u8>>,
}

/// An export typed as the [`ExportShape`] core asked for.
type Typed = TypedExport<TypedFunc<(), i32>, TypedFunc<(), ()>, TypedFunc<(i32, i32), ()>>;

/// The epoch callback: stops the running call when its limits say so, and makes an async
/// call yield to the executor once its interval has passed since it last did.
pub(crate) fn on_epoch(
    mut store: wasmtime::StoreContextMut<'_, StoreData>,
) -> wasmtime::Result<UpdateDeadline> {
    let data = store.data_mut();
    let Some(call) = data.call.as_ref() else {
        return Ok(UpdateDeadline::Continue(1));
    };
    if let Some(stop) = call.interruption() {
        data.stop = Some(stop);
        return Err(wasmtime::Error::msg("the call was interrupted"));
    }
    if call.yield_due(&mut data.yielded) {
        return Ok(UpdateDeadline::YieldCustom(1, yield_now()));
    }
    Ok(UpdateDeadline::Continue(1))
}

impl WasmtimePlugin {
    /// A plug-in of `main` and the other modules' instances (`dependencies`, in link-plan
    /// order) in `store`, no export resolved yet.
    pub(crate) fn new(
        store: Store<StoreData>,
        main: wasmtime::Instance,
        dependencies: Vec<wasmtime::Instance>,
        ticker: Arc<Ticker>,
        fuel: bool,
        interruptible: bool,
    ) -> WasmtimePlugin {
        WasmtimePlugin {
            store,
            main,
            dependencies,
            settings: CallSettings {
                ticker,
                fuel,
                interruptible,
            },
            last: LastCall::default(),
            exports: HashMap::new(),
        }
    }

    /// Calls the export `name` of module `module`, typed per call: the initializers of a
    /// plug-in's other modules, once each. Kept out of line: [`Instance::call`]'s path to
    /// the main module is every call's, and this inside it cost the 16-byte echo about 19
    /// instructions (callgrind).
    #[inline(never)]
    fn call_in(
        &mut self,
        module: usize,
        name: &str,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        let export = self.export_in(module, name, shape)?;
        let (store, settings, last) = (&mut self.store, &self.settings, &mut self.last);
        call_typed_export!(&export, shape, |f, args| {
            run(store, settings, last, f, args, limits)
        })
    }

    /// The export `name` of module `module` (an index into the link plan's modules; the
    /// main module for the last), typed as `shape`, not cached.
    fn export_in(
        &mut self,
        module: usize,
        name: &str,
        shape: ExportShape,
    ) -> Result<Typed, XtismError> {
        let instance = self.dependencies.get(module).copied().unwrap_or(self.main);
        typed_export(&mut self.store, &instance, name, shape)
    }
}

/// The main-module export `name` of `exports`, resolved and typed once; later calls find it
/// there. Always inlined: a call of its own, once `call_async` shared it, cost the 16-byte
/// echo about 40 instructions (callgrind).
#[inline(always)]
fn resolve<'a>(
    exports: &'a mut HashMap<Box<str>, Typed>,
    store: &mut Store<StoreData>,
    main: &wasmtime::Instance,
    name: &str,
    shape: ExportShape,
) -> Result<&'a Typed, XtismError> {
    if !exports.contains_key(name) {
        let export = typed_export(store, main, name, shape)?;
        exports.insert(name.into(), export);
    }
    exports
        .get(name)
        .ok_or_else(|| XtismError::FunctionNotFound(name.to_owned()))
}

/// The export `name` of `instance`, typed as `shape`.
fn typed_export(
    store: &mut Store<StoreData>,
    instance: &wasmtime::Instance,
    name: &str,
    shape: ExportShape,
) -> Result<Typed, XtismError> {
    let func = instance.get_func(&mut *store, name);
    let store = &*store;
    shape.typed(
        name,
        func,
        |f| f.typed(store),
        |f| f.typed(store),
        |f| f.typed(store),
    )
}

/// Starts a call under `limits`: sets its fuel budget and, when it is `watched`, gives the
/// epoch callback its limits and enters the ticker (which keeps ticking for the call until
/// the returned [`TickingCall`] is dropped). Always inlined, as is [`end`]: they are the
/// prologue and epilogue of every call, sync ([`run`]) or async ([`run_async`]).
#[inline(always)]
fn begin<'t>(
    store: &mut Store<StoreData>,
    settings: &'t CallSettings,
    limits: &CallLimits,
    watched: bool,
) -> Result<Option<TickingCall<'t>>, XtismError> {
    if settings.fuel {
        store
            .set_fuel(limits.fuel.unwrap_or(u64::MAX))
            .map_err(XtismError::engine)?;
    }
    if !watched {
        return Ok(None);
    }
    let data = store.data_mut();
    data.call = Some(limits.clone());
    data.stop = None;
    store.set_epoch_deadline(1);
    Ok(Some(settings.ticker.enter()))
}

/// Ends a call started by [`begin`]: its outcome in core's terms (the interruption the
/// epoch callback recorded, or the trap), the fuel it used and a failed call's core dump
/// (when wasmtime made one) in `last`.
#[inline(always)]
fn end<R>(
    store: &mut Store<StoreData>,
    settings: &CallSettings,
    last: &mut LastCall,
    (running, outcome): (Option<TickingCall<'_>>, wasmtime::Result<R>),
    limits: &CallLimits,
) -> Result<R, XtismError> {
    let stop = running.and_then(|running| {
        drop(running);
        let data = store.data_mut();
        data.call = None;
        data.stop.take()
    });
    let outcome = match (outcome, stop) {
        (Err(e), Some(stop)) => {
            last.core_dump = serialize_core_dump(&e, &mut *store);
            Err(stop)
        }
        (outcome, _) => outcome.map_err(|e| failed_call(e, store, &mut last.core_dump)),
    };
    last.fuel_consumed = match (settings.fuel, limits.fuel) {
        (true, Some(budget)) => Some(budget.saturating_sub(store.get_fuel().unwrap_or(0))),
        _ => None,
    };
    outcome
}

/// Runs a typed call under `limits`: fuel budget, deadline and cancel flag. Always
/// inlined: it is the body of every call, and a frame of its own measured about 4% of the
/// 16-byte echo call.
#[inline(always)]
fn run<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
    store: &mut Store<StoreData>,
    settings: &CallSettings,
    last: &mut LastCall,
    func: &TypedFunc<P, R>,
    params: P,
    limits: &CallLimits,
) -> Result<R, XtismError> {
    let watched = settings.interruptible && limits.interruptible();
    let running = begin(store, settings, limits, watched)?;
    let outcome = func.call(&mut *store, params);
    end(store, settings, last, (running, outcome), limits)
}

/// A call that wasmtime failed, in core's terms, its core dump (if any) kept in `core_dump`.
#[cold]
fn failed_call(
    e: wasmtime::Error,
    store: &mut Store<StoreData>,
    core_dump: &mut Option<Vec<u8>>,
) -> XtismError {
    *core_dump = serialize_core_dump(&e, &mut *store);
    trap_error(e)
}

/// The async form of [`run`]: the call runs on a fiber (`call_async`), where it waits for
/// async host functions and yields at epoch ticks (see [`on_epoch`]). Async calls are
/// always watched (core gives them a cancel flag).
async fn run_async<P, R>(
    store: &mut Store<StoreData>,
    settings: &CallSettings,
    last: &mut LastCall,
    func: &TypedFunc<P, R>,
    params: P,
    limits: &CallLimits,
) -> Result<R, XtismError>
where
    P: wasmtime::WasmParams + Send + Sync,
    R: wasmtime::WasmResults + Send + Sync,
{
    let running = begin(store, settings, limits, true)?;
    store.data_mut().yielded = Instant::now();
    let outcome = func.call_async(&mut *store, params).await;
    end(store, settings, last, (running, outcome), limits)
}

impl HostAccess for WasmtimePlugin {
    fn shared_state(&self) -> &PluginState {
        &self.store.data().state
    }

    fn kernel(&mut self) -> (&mut [u8], &mut PluginState) {
        kernel_of(&mut self.store)
    }

    fn grow_kernel(&mut self, pages: u64) -> bool {
        grow_kernel_of(&mut self.store, pages)
    }

    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
        module_memory_of(&mut self.store, module)
    }
}

impl Instance for WasmtimePlugin {
    fn call(
        &mut self,
        module: Option<usize>,
        name: &str,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        if let Some(module) = module {
            return self.call_in(module, name, shape, limits);
        }
        let export = resolve(&mut self.exports, &mut self.store, &self.main, name, shape)?;
        let (store, settings, last) = (&mut self.store, &self.settings, &mut self.last);
        call_typed_export!(export, shape, |f, args| {
            run(store, settings, last, f, args, limits)
        })
    }

    fn call_async<'a>(
        &'a mut self,
        module: Option<usize>,
        name: &'a str,
        shape: ExportShape,
        limits: &'a CallLimits,
    ) -> CallFuture<'a> {
        Box::pin(async move {
            let typed;
            let export = match module {
                None => resolve(&mut self.exports, &mut self.store, &self.main, name, shape)?,
                Some(module) => {
                    typed = self.export_in(module, name, shape)?;
                    &typed
                }
            };
            let (store, settings, last) = (&mut self.store, &self.settings, &mut self.last);
            call_typed_export!(export, shape, |f, args| {
                run_async(store, settings, last, f, args, limits).await
            })
        })
    }

    fn fuel_consumed(&self) -> Option<u64> {
        self.last.fuel_consumed
    }

    fn take_core_dump(&mut self) -> Option<Vec<u8>> {
        self.last.core_dump.take()
    }

    fn into_state(self: Box<Self>) -> PluginState {
        self.store.into_data().state
    }
}
