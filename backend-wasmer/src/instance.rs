//! A running plug-in ([`WasmerPlugin`]) and its calls: exports typed on their first call, each
//! call run under fuel and the watchdog, traps in core's terms, and core's [`HostAccess`] over
//! the store between calls.

use std::collections::HashMap;
use std::sync::Arc;

use wasmer::{
    FunctionEnv, Global, Instance as WasmerInstance, RuntimeError, Store, TypedFunction, Value,
};
use wasmer_types::TrapCode as WasmerTrap;
use xtism_core::XtismError;
use xtism_core::engine::{
    CallLimits, ExportShape, Frame, HostAccess, HostTrap, Instance, PluginState, TrapCode,
    TypedExport, WatchedInstance, format_backtrace,
};

use crate::link::{LinkedModule, Meter};
use crate::raw::{MemorySpan, SendStore};
use crate::store::{StoreData, grow_kernel, kernel_and_state, module_memory_and_state};

/// An export typed as the [`ExportShape`] core asked for.
pub(crate) type Typed =
    TypedExport<TypedFunction<(), i32>, TypedFunction<(), ()>, TypedFunction<(i32, i32), ()>>;

/// The export `name` of `instance`, typed as `shape`.
fn typed_export(
    store: &Store,
    instance: &WasmerInstance,
    name: &str,
    shape: ExportShape,
) -> Result<Typed, XtismError> {
    let func = instance.exports.get_function(name).ok();
    shape.typed(
        name,
        func,
        |f| f.typed(store),
        |f| f.typed(store),
        |f| f.typed(store),
    )
}

/// A running plug-in on wasmer.
pub(crate) struct WasmerPlugin {
    pub(crate) store: SendStore,
    pub(crate) env: FunctionEnv<StoreData>,
    pub(crate) main: WasmerInstance,
    /// The other modules' instances, in link-plan order.
    pub(crate) dependencies: Vec<WasmerInstance>,
    /// Where the kernel memory's bytes are: the store's data has it too, but reading it
    /// from there costs a store lookup on every access between calls.
    pub(crate) kernel_span: Option<MemorySpan>,
    /// Main-module exports, typed on their first call as core's shape says.
    pub(crate) exports: HashMap<Box<str>, Typed>,
    /// The instance as the watchdog sees it, when its modules are interruptible.
    pub(crate) watched: Option<WatchedInstance>,
    /// The interruption flags of every plug-in module, to lower them after an interruption.
    pub(crate) flag_globals: Vec<Global>,
    pub(crate) meters: Vec<Meter>,
    pub(crate) fuel_consumed: Option<u64>,
    /// Keeps the modules' code alive as long as the store (declared after it: dropped after).
    pub(crate) _modules: Arc<[LinkedModule]>,
}

/// wasmer's trap as core's code; one core has no code for keeps wasmer's text.
fn trap_code(e: &RuntimeError) -> TrapCode {
    if e.is::<HostTrap>() {
        return TrapCode::Other(HostTrap.to_string());
    }
    match e.clone().to_trap() {
        Some(WasmerTrap::UnreachableCodeReached) => TrapCode::Unreachable,
        Some(WasmerTrap::HeapAccessOutOfBounds) => TrapCode::MemoryOutOfBounds,
        Some(WasmerTrap::TableAccessOutOfBounds) => TrapCode::TableOutOfBounds,
        Some(WasmerTrap::IndirectCallToNull) => TrapCode::IndirectCallToNull,
        Some(WasmerTrap::BadSignature) => TrapCode::IndirectCallTypeMismatch,
        Some(WasmerTrap::IntegerOverflow) => TrapCode::IntegerOverflow,
        Some(WasmerTrap::IntegerDivisionByZero) => TrapCode::IntegerDivisionByZero,
        Some(WasmerTrap::BadConversionToInteger) => TrapCode::BadConversionToInteger,
        Some(WasmerTrap::StackOverflow) => TrapCode::StackOverflow,
        Some(WasmerTrap::HeapMisaligned | WasmerTrap::UnalignedAtomic) => TrapCode::UnalignedAtomic,
        _ => TrapCode::Other(e.message()),
    }
}

/// A trap as core's error: its code (core words it) and the Wasm backtrace.
#[cold]
pub(crate) fn trap_error(e: RuntimeError) -> XtismError {
    let frames = e.trace().iter().map(|frame| Frame {
        module: frame.module_name(),
        function: frame.function_name(),
        function_index: frame.func_index(),
        offset: Some(frame.module_offset()),
    });
    trap_code(&e).into_error(format_backtrace(frames))
}

impl WasmerPlugin {
    /// The export `name` of the main module (`module: None`; typed as `shape` on its first
    /// call, then cached) or of module `module`.
    fn export(
        &mut self,
        module: Option<usize>,
        name: &str,
        shape: ExportShape,
    ) -> Result<Typed, XtismError> {
        if let Some(module) = module {
            let instance = self.dependencies.get(module).unwrap_or(&self.main);
            return typed_export(&self.store.0, instance, name, shape);
        }
        if let Some(export) = self.exports.get(name) {
            return Ok(export.clone());
        }
        let export = typed_export(&self.store.0, &self.main, name, shape)?;
        self.exports.insert(name.into(), export.clone());
        Ok(export)
    }

    /// Gives every metered module `budget` units and clears its exhaustion flag.
    fn fill_meters(&mut self, budget: u64) -> Result<(), XtismError> {
        for meter in &self.meters {
            // The global holds an unsigned count in an `i64`.
            meter
                .remaining
                .set(&mut self.store.0, Value::I64(budget as i64))
                .map_err(XtismError::engine)?;
            meter
                .exhausted
                .set(&mut self.store.0, Value::I32(0))
                .map_err(XtismError::engine)?;
        }
        Ok(())
    }

    /// Fuel used since [`fill_meters`](Self::fill_meters), and whether a module ran out.
    fn read_meters(&mut self, budget: u64) -> (u64, bool) {
        let mut used = 0u64;
        let mut exhausted = false;
        for meter in &self.meters {
            exhausted |= matches!(meter.exhausted.get(&mut self.store.0), Value::I32(v) if v != 0);
            if let Value::I64(left) = meter.remaining.get(&mut self.store.0) {
                used = used.saturating_add(budget.saturating_sub(left as u64));
            }
        }
        if exhausted {
            (budget, true)
        } else {
            (used.min(budget), false)
        }
    }

    /// Lowers the interruption flags after the watchdog raised them.
    fn lower_flags(&mut self) -> Result<(), XtismError> {
        for flag in &self.flag_globals {
            flag.set(&mut self.store.0, Value::I32(0))
                .map_err(XtismError::engine)?;
        }
        Ok(())
    }
}

impl Instance for WasmerPlugin {
    fn call(
        &mut self,
        module: Option<usize>,
        name: &str,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        let export = self.export(module, name, shape)?;
        self.run_export(export, shape, limits)
    }

    fn fuel_consumed(&self) -> Option<u64> {
        self.fuel_consumed
    }

    fn into_state(mut self: Box<Self>) -> PluginState {
        self.env
            .as_mut(&mut self.store.0)
            .state
            .take()
            .expect("the state is in the store until the instance is consumed")
    }
}

impl WasmerPlugin {
    /// Runs a typed export under `limits` (fuel, deadline and cancellation), with the
    /// arguments of `shape`.
    fn run_export(
        &mut self,
        export: Typed,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        let args = match (&export, shape) {
            (_, ExportShape::Args(a, b)) => (a, b),
            (TypedExport::Args(_), _) => return Err(shape.mismatch()),
            _ => (0, 0),
        };
        let budget = limits.fuel.unwrap_or(u64::MAX);
        if !self.meters.is_empty() {
            self.fill_meters(budget)?;
        }
        let watch = match &mut self.watched {
            Some(watched) if limits.interruptible() => Some(watched.start(limits)?),
            _ => None,
        };
        let result = match export {
            TypedExport::Code(f) => f.call(&mut self.store.0).map(Some),
            TypedExport::Unit(f) => f.call(&mut self.store.0).map(|()| None),
            TypedExport::Args(f) => f.call(&mut self.store.0, args.0, args.1).map(|()| None),
        };
        let interrupted = watch.is_some_and(|w| w.finish());
        if interrupted {
            self.lower_flags()?;
        }
        let mut out_of_fuel = false;
        if !self.meters.is_empty() {
            let (used, exhausted) = self.read_meters(budget);
            out_of_fuel = exhausted;
            self.fuel_consumed = limits.fuel.map(|_| used);
        }
        result.map_err(|e| match limits.interruption() {
            Some(stop) if interrupted => stop,
            _ if out_of_fuel => XtismError::OutOfFuel,
            _ => trap_error(e),
        })
    }
}

/// [`HostAccess`] between calls.
impl HostAccess for WasmerPlugin {
    fn shared_state(&self) -> &PluginState {
        self.env.as_ref(&self.store.0).shared_state()
    }

    fn kernel(&mut self) -> (&mut [u8], &mut PluginState) {
        kernel_and_state(&mut self.store.0, &self.env, self.kernel_span)
    }

    fn grow_kernel(&mut self, pages: u64) -> bool {
        grow_kernel(&mut self.store.0, &self.env, pages)
    }

    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
        module_memory_and_state(&mut self.store.0, &self.env, module)
    }

    fn state(&mut self) -> &mut PluginState {
        self.env.as_mut(&mut self.store.0).state()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::WasmerLinked;

    #[test]
    fn instances_cross_threads() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        send::<WasmerPlugin>();
        send_sync::<WasmerLinked>();
    }
}
