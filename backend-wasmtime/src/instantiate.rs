//! Instantiating a [`WasmtimeLinked`]: a store with its limiter, fuel and epoch callback,
//! the kernel instance (unless the main module holds the kernel memory), and one instance
//! per module with its imports taken from the plan; an instantiation that fails is reported
//! in core's terms ([`instantiate_error`]).

use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use wasmtime::{Extern, Store, Trap};
use xtism_core::XtismError;
use xtism_core::engine::PluginState;
use xtism_core::engine::{Instance, InstantiateError, Linked, StoreLimiter};

use crate::error::trap_error;
use crate::instance::{WasmtimePlugin, on_epoch};
use crate::link::{KernelPlace, PlannedImport, WasmtimeLinked};
use crate::pool;
use crate::store::{Limiter, StoreData};

impl WasmtimeLinked {
    fn try_instantiate(
        &self,
        store: &mut Store<StoreData>,
    ) -> Result<Vec<wasmtime::Instance>, XtismError> {
        if self.fuel {
            // Core defers the main module's start function to the first call; what runs
            // here (other modules' start functions) is not metered.
            store.set_fuel(u64::MAX).map_err(XtismError::engine)?;
        }
        let kernel = match self.kernel {
            KernelPlace::Instance => {
                let kernel = self
                    .configured
                    .kernel
                    .instantiate(&mut *store)
                    .map_err(|e| instantiate_error(e, store, self.configured.pool))?;
                store.data_mut().kernel = kernel
                    .get_module_export(&mut *store, &self.configured.kernel_memory)
                    .and_then(Extern::into_memory);
                Some(kernel)
            }
            KernelPlace::MainExport(_) => None,
        };
        let mut instances: Vec<wasmtime::Instance> = Vec::with_capacity(self.modules.len());
        let mut externs: Vec<Extern> = Vec::new();
        for (linked, memory) in self.modules.iter().zip(&self.memories) {
            externs.clear();
            for import in &linked.imports {
                let ext = match import {
                    PlannedImport::Instance { index, export } => {
                        let provider = match index {
                            None => kernel.as_ref(),
                            Some(i) => instances.get(*i),
                        };
                        provider.and_then(|p| p.get_module_export(&mut *store, export))
                    }
                    PlannedImport::Linker(module, name) => {
                        self.linker.get(&mut *store, module, name).ok()
                    }
                };
                externs.push(ext.ok_or_else(|| {
                    XtismError::Invalid("the link plan names an import that does not exist".into())
                })?);
            }
            let instance = if self.async_functions {
                at_once(wasmtime::Instance::new_async(
                    &mut *store,
                    &linked.module,
                    &externs,
                ))
            } else {
                wasmtime::Instance::new(&mut *store, &linked.module, &externs)
            }
            .map_err(|e| instantiate_error(e, store, self.configured.pool))?;
            let memory = memory
                .as_ref()
                .and_then(|m| instance.get_module_export(&mut *store, m))
                .and_then(Extern::into_memory);
            store.data_mut().memories.push(memory);
            instances.push(instance);
        }
        if let (KernelPlace::MainExport(export), Some(main)) = (&self.kernel, instances.last()) {
            store.data_mut().kernel = main
                .get_module_export(&mut *store, export)
                .and_then(Extern::into_memory);
        }
        Ok(instances)
    }
}

/// The outcome of an async instantiation, which wasmtime asks for once a store has an async
/// host function. It is ready at its first poll: instantiating runs no guest code (core
/// defers every start function to the first call), so nothing in it can wait.
fn at_once<T>(instantiation: impl Future<Output = wasmtime::Result<T>>) -> wasmtime::Result<T> {
    match pin!(instantiation).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(outcome) => outcome,
        Poll::Pending => Err(wasmtime::Error::msg(
            "an async instantiation waited, which it cannot without guest code",
        )),
    }
}

/// A failed instantiation in core's terms. A trap (a start function's, or a segment out of
/// bounds) comes first: the limiter may remember a `memory.grow` it refused while a start
/// function ran, which the guest saw as -1 and is not why instantiating failed.
#[cold]
fn instantiate_error(
    e: wasmtime::Error,
    store: &mut Store<StoreData>,
    pool: Option<u32>,
) -> XtismError {
    if e.downcast_ref::<Trap>().is_some() {
        return trap_error(e);
    }
    if let Some(full) = pool.and_then(|slots| pool::full(&e, slots)) {
        return XtismError::engine(full);
    }
    if let Some(refused) = store.data_mut().limiter.0.take_refusal() {
        return XtismError::MemoryLimit(refused);
    }
    XtismError::engine(e)
}

impl Linked for WasmtimeLinked {
    fn instantiate(&self, state: PluginState) -> Result<Box<dyn Instance>, InstantiateError> {
        let memory = Arc::clone(state.memory_budget());
        let data = StoreData {
            state,
            kernel: None,
            memories: Vec::with_capacity(self.modules.len()),
            limiter: Limiter(StoreLimiter::new(self.limits, memory)),
            call: None,
            stop: None,
            yielded: Instant::now(),
        };
        let mut store = Store::new(&self.configured.engine, data);
        store.limiter(|d| &mut d.limiter);
        if self.interruptible {
            store.epoch_deadline_callback(on_epoch);
            store.set_epoch_deadline(1);
        }
        match self.try_instantiate(&mut store) {
            Ok(mut instances) => Ok(Box::new(WasmtimePlugin::new(
                store,
                instances
                    .pop()
                    .expect("try_instantiate makes one instance per module"),
                instances,
                Arc::clone(&self.ticker),
                self.fuel,
                self.interruptible,
            ))),
            Err(error) => Err(InstantiateError {
                error,
                state: Box::new(store.into_data().state),
            }),
        }
    }
}
