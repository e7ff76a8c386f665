//! A running plug-in ([`WasmiPlugin`]) and its calls: exports typed on their first call, each
//! call run under its fuel budget, in slices when it has a deadline or can be cancelled, and
//! core's [`HostAccess`] over the store between calls. An async call is the same resumable
//! call, which also waits on a suspending async host function and yields between slices.

use std::collections::HashMap;
use std::future::poll_fn;
use std::time::Instant;

use wasmi::{Instance as WasmiInstance, Store, TypedFunc, TypedResumableCall};
use xtism_core::XtismError;
use xtism_core::engine::{
    CallFuture, CallLimits, ExportShape, FuelSlices, HostAccess, Instance, PluginState, TrapCode,
    TypedExport, call_typed_export, yield_now,
};

use crate::SLICE;
use crate::convert::to_wasmi;
use crate::store::{StoreData, grow_kernel_of, kernel_of, module_memory_of};

/// A running plug-in on wasmi.
pub(crate) struct WasmiPlugin {
    pub(crate) store: Store<StoreData>,
    pub(crate) main: WasmiInstance,
    /// The other modules' instances, in link-plan order.
    pub(crate) dependencies: Vec<WasmiInstance>,
    pub(crate) metered: bool,
    pub(crate) fuel_consumed: Option<u64>,
    /// Main-module exports, typed on their first call as core's shape says.
    pub(crate) exports: HashMap<Box<str>, Typed>,
}

/// An export typed as the [`ExportShape`] core asked for.
pub(crate) type Typed =
    TypedExport<TypedFunc<(), i32>, TypedFunc<(), ()>, TypedFunc<(i32, i32), ()>>;

/// A failed call as core's [`TrapCode`] (core words it); wasmi keeps no backtrace.
#[cold]
pub(crate) fn trap_error(e: wasmi::Error) -> XtismError {
    use wasmi::TrapCode as Wasmi;
    let code = match e.as_trap_code() {
        Some(Wasmi::UnreachableCodeReached) => TrapCode::Unreachable,
        Some(Wasmi::MemoryOutOfBounds) => TrapCode::MemoryOutOfBounds,
        Some(Wasmi::TableOutOfBounds) => TrapCode::TableOutOfBounds,
        Some(Wasmi::IndirectCallToNull) => TrapCode::IndirectCallToNull,
        Some(Wasmi::IntegerDivisionByZero) => TrapCode::IntegerDivisionByZero,
        Some(Wasmi::IntegerOverflow) => TrapCode::IntegerOverflow,
        Some(Wasmi::BadConversionToInteger) => TrapCode::BadConversionToInteger,
        Some(Wasmi::StackOverflow) => TrapCode::StackOverflow,
        Some(Wasmi::BadSignature) => TrapCode::IndirectCallTypeMismatch,
        Some(Wasmi::OutOfFuel) => TrapCode::OutOfFuel,
        _ => TrapCode::Other(e.to_string()),
    };
    code.into_error(None)
}

impl WasmiPlugin {
    /// The export `name` of the main module (`module: None`; typed as `shape` on its first
    /// call, then cached) or of module `module`. Always inlined: a call of its own, once
    /// `call_async` shared it, cost the 16-byte echo about 30 instructions (callgrind).
    #[inline(always)]
    fn export(
        &mut self,
        module: Option<usize>,
        name: &str,
        shape: ExportShape,
    ) -> Result<Typed, XtismError> {
        if let Some(module) = module {
            let instance = self.dependencies.get(module).unwrap_or(&self.main);
            return Self::typed_export(&self.store, instance, name, shape);
        }
        if let Some(export) = self.exports.get(name) {
            return Ok(*export);
        }
        let export = Self::typed_export(&self.store, &self.main, name, shape)?;
        self.exports.insert(name.into(), export);
        Ok(export)
    }

    /// The export `name` of `instance`, typed as `shape`.
    fn typed_export(
        store: &Store<StoreData>,
        instance: &WasmiInstance,
        name: &str,
        shape: ExportShape,
    ) -> Result<Typed, XtismError> {
        let func = instance.get_func(store, name);
        shape.typed(
            name,
            func,
            |f| f.typed(store),
            |f| f.typed(store),
            |f| f.typed(store),
        )
    }

    /// Runs a typed call under `limits`: fuel budget, deadline and cancel flag, checked
    /// between fuel slices when metered. The loop of [`run_async`](Self::run_async) without
    /// its waits and yields: sharing that one, polled once, cost the 16-byte echo about
    /// 290 instructions (callgrind).
    fn run<P: wasmi::WasmParams, R: wasmi::WasmResults>(
        &mut self,
        func: TypedFunc<P, R>,
        params: P,
        limits: &CallLimits,
    ) -> Result<R, XtismError> {
        if !self.metered {
            return func.call(&mut self.store, params).map_err(trap_error);
        }
        let (mut slices, first) = FuelSlices::begin(limits, SLICE);
        self.store.set_fuel(first).map_err(XtismError::engine)?;
        let mut call = func.call_resumable(&mut self.store, params);
        let outcome = loop {
            match call {
                Ok(TypedResumableCall::Finished(r)) => break Ok(r),
                Ok(TypedResumableCall::HostTrap(t)) => break Err(host_trap(t.host_error())),
                Ok(TypedResumableCall::OutOfFuel(t)) => {
                    if let Err(e) = refuel(&mut self.store, &mut slices, t.required_fuel(), limits)
                    {
                        break Err(e);
                    }
                    call = t.resume(&mut self.store);
                }
                Err(e) => break Err(trap_error(e)),
            }
        };
        self.fuel_consumed = slices.consumed(self.store.get_fuel().unwrap_or(0), limits);
        outcome
    }

    /// The async form of [`run`](Self::run), always metered (async calls are
    /// interruptible): fuel budget, deadline and cancel flag, checked between fuel slices.
    /// A host function that suspended the call (core's
    /// [`PluginState::suspend`]) is polled here, and the call resumes with its results;
    /// between fuel slices the call yields to the executor once `limits.yield_every` has
    /// passed since it last did.
    async fn run_async<P: wasmi::WasmParams, R: wasmi::WasmResults>(
        &mut self,
        func: TypedFunc<P, R>,
        params: P,
        limits: &CallLimits,
    ) -> Result<R, XtismError> {
        let (mut slices, first) = FuelSlices::begin(limits, SLICE);
        self.store.set_fuel(first).map_err(XtismError::engine)?;
        let mut yielded = Instant::now();
        let mut call = func.call_resumable(&mut self.store, params);
        let outcome = loop {
            match call {
                Ok(TypedResumableCall::Finished(r)) => break Ok(r),
                Ok(TypedResumableCall::HostTrap(t)) => {
                    let Some(mut pending) = self.store.data_mut().state.take_suspended() else {
                        break Err(host_trap(t.host_error()));
                    };
                    let results = match poll_fn(|cx| pending.poll(self, cx)).await {
                        Ok(results) => results,
                        Err(e) => break Err(host_trap(e)),
                    };
                    let results = match results.iter().map(to_wasmi).collect::<Result<Vec<_>, _>>()
                    {
                        Ok(results) => results,
                        Err(e) => break Err(e),
                    };
                    yielded = Instant::now();
                    call = t.resume(&mut self.store, &results);
                }
                Ok(TypedResumableCall::OutOfFuel(t)) => {
                    if let Err(e) = refuel(&mut self.store, &mut slices, t.required_fuel(), limits)
                    {
                        break Err(e);
                    }
                    if limits.yield_due(&mut yielded) {
                        yield_now().await;
                        // The interval counts guest time, not the executor's.
                        yielded = Instant::now();
                    }
                    call = t.resume(&mut self.store);
                }
                Err(e) => break Err(trap_error(e)),
            }
        };
        self.fuel_consumed = slices.consumed(self.store.get_fuel().unwrap_or(0), limits);
        outcome
    }
}

/// Gives a call that ran out of fuel, needing `required` units for its next step, the fuel
/// of its next slice on top of what it has left (wasmi leaves what the step could not use in
/// the store: overwritten, it would count as spent).
fn refuel(
    store: &mut Store<StoreData>,
    slices: &mut FuelSlices,
    required: u64,
    limits: &CallLimits,
) -> Result<(), XtismError> {
    let left = store.get_fuel().map_err(XtismError::engine)?;
    let next = slices.next(required.saturating_sub(left), limits)?;
    store
        .set_fuel(left.saturating_add(next))
        .map_err(XtismError::engine)
}

/// A host function's failure as a trap; core reports the error the state keeps.
#[cold]
fn host_trap(e: impl std::fmt::Display) -> XtismError {
    TrapCode::Other(e.to_string()).into_error(None)
}

impl HostAccess for WasmiPlugin {
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

impl Instance for WasmiPlugin {
    fn call(
        &mut self,
        module: Option<usize>,
        name: &str,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        let export = self.export(module, name, shape)?;
        call_typed_export!(export, shape, |f, args| self.run(f, args, limits))
    }

    fn call_async<'a>(
        &'a mut self,
        module: Option<usize>,
        name: &'a str,
        shape: ExportShape,
        limits: &'a CallLimits,
    ) -> CallFuture<'a> {
        Box::pin(async move {
            let export = self.export(module, name, shape)?;
            call_typed_export!(export, shape, |f, args| {
                self.run_async(f, args, limits).await
            })
        })
    }

    fn fuel_consumed(&self) -> Option<u64> {
        self.fuel_consumed
    }

    fn into_state(self: Box<Self>) -> PluginState {
        self.store.into_data().state
    }
}
