//! A running plug-in ([`WasmiPlugin`]) and its calls: exports typed on their first call, each
//! call run under its fuel budget, in slices when it has a deadline or can be cancelled, and
//! core's [`HostAccess`] over the store between calls.

use std::collections::HashMap;

use wasmi::{Instance as WasmiInstance, Store, TypedFunc, TypedResumableCall};
use xtism_core::XtismError;
use xtism_core::engine::{CallLimits, ExportShape, HostAccess, Instance, PluginState, TrapCode};

use crate::SLICE;
use crate::store::{StoreData, kernel_of, module_memory_of};

/// A running plug-in on wasmi.
pub(crate) struct WasmiPlugin {
    pub(crate) store: Store<StoreData>,
    pub(crate) main: WasmiInstance,
    /// The other modules' instances, in link-plan order.
    pub(crate) dependencies: Vec<WasmiInstance>,
    pub(crate) metered: bool,
    pub(crate) fuel_consumed: Option<u64>,
    /// Main-module exports, typed on their first call as core's shape says.
    pub(crate) exports: HashMap<Box<str>, TypedExport>,
}

/// An export typed as the [`ExportShape`] core asked for, one variant per shape.
#[derive(Clone, Copy)]
pub(crate) enum TypedExport {
    /// `() -> i32`.
    Code(TypedFunc<(), i32>),
    /// `() -> ()`.
    Unit(TypedFunc<(), ()>),
    /// `(i32, i32) -> ()`.
    Args(TypedFunc<(i32, i32), ()>),
}

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
    /// The main-module export `name`, typed as `shape` on its first call.
    fn export(&mut self, name: &str, shape: ExportShape) -> Result<TypedExport, XtismError> {
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
    ) -> Result<TypedExport, XtismError> {
        let func = instance.get_func(store, name).ok_or_else(|| {
            XtismError::FunctionNotFound(format!("the module has no function named {name:?}"))
        })?;
        match shape {
            ExportShape::Code => func.typed(store).map(TypedExport::Code),
            ExportShape::Unit => func.typed(store).map(TypedExport::Unit),
            ExportShape::Args(..) => func.typed(store).map(TypedExport::Args),
        }
        .map_err(|_| XtismError::FunctionNotFound(format!("{name:?} is not of shape {shape:?}")))
    }

    /// Runs a typed export under `limits`, with the arguments of `shape`.
    fn run_export(
        &mut self,
        export: TypedExport,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        match (export, shape) {
            (TypedExport::Code(f), _) => self.run(f, (), limits).map(Some),
            (TypedExport::Unit(f), _) => self.run(f, (), limits).map(|()| None),
            (TypedExport::Args(f), ExportShape::Args(a, b)) => {
                self.run(f, (a, b), limits).map(|()| None)
            }
            (TypedExport::Args(_), _) => Err(XtismError::FunctionNotFound(format!(
                "the export is not of shape {shape:?}"
            ))),
        }
    }

    /// Runs a typed call under `limits`: fuel budget and deadline, in slices when metered.
    fn run<P: wasmi::WasmParams, R: wasmi::WasmResults>(
        &mut self,
        func: TypedFunc<P, R>,
        params: P,
        limits: &CallLimits,
    ) -> Result<R, XtismError> {
        if !self.metered {
            return func.call(&mut self.store, params).map_err(trap_error);
        }
        let interruptible = limits.deadline.is_some() || limits.cancel.is_some();
        let slice = if interruptible { SLICE } else { u64::MAX };
        let budget = limits.fuel.unwrap_or(u64::MAX);
        let mut given = budget.min(slice);
        self.store.set_fuel(given).map_err(XtismError::engine)?;
        let mut call = func.call_resumable(&mut self.store, params);
        let outcome = loop {
            match call {
                Ok(TypedResumableCall::Finished(r)) => break Ok(r),
                Ok(TypedResumableCall::HostTrap(t)) => {
                    break Err(TrapCode::Other(t.host_error().to_string()).into_error(None));
                }
                Ok(TypedResumableCall::OutOfFuel(t)) => {
                    if let Some(stop) = limits.interruption() {
                        break Err(stop);
                    }
                    let left = budget - given;
                    let next = left.min(slice.max(t.required_fuel()));
                    if next == 0 || next < t.required_fuel() {
                        break Err(XtismError::OutOfFuel);
                    }
                    self.store.set_fuel(next).map_err(XtismError::engine)?;
                    given += next;
                    call = t.resume(&mut self.store);
                }
                Err(e) => break Err(trap_error(e)),
            }
        };
        let left = self.store.get_fuel().unwrap_or(0);
        self.fuel_consumed = limits.fuel.map(|_| given.saturating_sub(left));
        outcome
    }
}

impl HostAccess for WasmiPlugin {
    fn shared_state(&self) -> &PluginState {
        &self.store.data().state
    }

    fn kernel(&mut self) -> (&mut [u8], &mut PluginState) {
        kernel_of(&mut self.store)
    }

    fn grow_kernel(&mut self, pages: u64) -> bool {
        match self.store.data().kernel {
            Some(memory) => memory.grow(&mut self.store, pages).is_ok(),
            None => false,
        }
    }

    fn plugin_memory(&mut self) -> Option<&mut [u8]> {
        let memory = self.store.data().plugin_memory()?;
        Some(memory.data_mut(&mut self.store))
    }

    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
        module_memory_of(&mut self.store, module)
    }
}

impl Instance for WasmiPlugin {
    fn call(
        &mut self,
        name: &str,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        let export = self.export(name, shape)?;
        self.run_export(export, shape, limits)
    }

    fn call_in_module(
        &mut self,
        module: usize,
        name: &str,
        shape: ExportShape,
        limits: &CallLimits,
    ) -> Result<Option<i32>, XtismError> {
        let instance = self.dependencies.get(module).unwrap_or(&self.main);
        let export = Self::typed_export(&self.store, instance, name, shape)?;
        self.run_export(export, shape, limits)
    }

    fn fuel_consumed(&self) -> Option<u64> {
        self.fuel_consumed
    }

    fn into_state(self: Box<Self>) -> PluginState {
        self.store.into_data().state
    }
}
