//! Linking and instantiating: [`WasmiLinked`] holds the modules and where their imports come
//! from; instantiating makes a store with its limiter and fuel, the kernel instance (unless
//! the main module holds the kernel memory) and one instance per module.

use std::collections::HashMap;
use std::sync::Arc;

use wasmi::{Extern, Instance as WasmiInstance, Store};
use xtism_core::XtismError;
use xtism_core::engine::{
    ImportSource, Instance, InstantiateError, KERNEL_MEMORY_EXPORT, KERNEL_MODULE_MEMORY, Linked,
    MODULE_MEMORY_EXPORT, PluginState, ResourceLimits, StoreLimiter, TrapCode,
};

use crate::host::{UserFunction, host_func, user_func, wasi_func};
use crate::instance::{WasmiPlugin, trap_error};
use crate::store::{Limiter, StoreData};

/// A plug-in linked for wasmi: modules and where their imports come from.
pub(crate) struct WasmiLinked {
    pub(crate) engine: wasmi::Engine,
    /// The kernel module, when the kernel memory lives in an instance of it.
    pub(crate) kernel: Option<wasmi::Module>,
    pub(crate) modules: Vec<(wasmi::Module, Vec<ImportSource>)>,
    pub(crate) functions: Vec<UserFunction>,
    pub(crate) limits: ResourceLimits,
    pub(crate) metered: bool,
}

impl WasmiLinked {
    fn try_instantiate(
        &self,
        store: &mut Store<StoreData>,
    ) -> Result<(WasmiInstance, Vec<WasmiInstance>), XtismError> {
        if self.metered {
            // Core defers the main module's start function to the first call; what runs
            // here (other modules' start functions) is not metered.
            store.set_fuel(u64::MAX).map_err(XtismError::engine)?;
        }
        let kernel = match &self.kernel {
            Some(module) => {
                let kernel = WasmiInstance::new(&mut *store, module, &[])
                    .map_err(|e| instantiate_error(e, store))?;
                store.data_mut().kernel = kernel.get_memory(&*store, KERNEL_MODULE_MEMORY);
                Some(kernel)
            }
            None => None,
        };
        let mut instances: Vec<WasmiInstance> = Vec::with_capacity(self.modules.len());
        for (index, (module, sources)) in self.modules.iter().enumerate() {
            let mut externs = Vec::with_capacity(sources.len());
            for source in sources {
                let ext = match source {
                    ImportSource::Wasi(import) => {
                        Some(Extern::Func(wasi_func(store, *import, index)))
                    }
                    ImportSource::Kernel(name) => {
                        kernel.and_then(|kernel| kernel.get_export(&*store, name))
                    }
                    ImportSource::Host(import) => Some(Extern::Func(host_func(store, *import))),
                    ImportSource::Function(index) => self
                        .functions
                        .get(*index)
                        .map(|f| Extern::Func(user_func(store, f))),
                    ImportSource::Module { index, name } => instances
                        .get(*index)
                        .and_then(|i| i.get_export(&*store, name)),
                };
                externs.push(ext.ok_or_else(|| {
                    XtismError::Invalid("the link plan names an import that does not exist".into())
                })?);
            }
            let instance = WasmiInstance::new(&mut *store, module, &externs)
                .map_err(|e| instantiate_error(e, store))?;
            let memory = instance.get_memory(&*store, MODULE_MEMORY_EXPORT);
            store.data_mut().memories.push(memory);
            instances.push(instance);
        }
        let main = instances
            .pop()
            .ok_or_else(|| XtismError::Invalid("the link plan has no modules".into()))?;
        if kernel.is_none() {
            store.data_mut().kernel = main.get_memory(&*store, KERNEL_MEMORY_EXPORT);
        }
        Ok((main, instances))
    }
}

/// A failed instantiation in core's terms; a limit refusal in the words of core's limiter,
/// when it refused the growth (not a `memory.grow` it refused earlier, while a start
/// function ran).
fn instantiate_error(e: wasmi::Error, store: &mut Store<StoreData>) -> XtismError {
    use wasmi::errors::{ErrorKind, InstantiationError, MemoryError, TableError};
    match e.kind() {
        // An active data or element segment out of bounds is a trap of instantiation, as on
        // the other engines and in their words, not a limit.
        ErrorKind::Memory(MemoryError::OutOfBoundsAccess) => {
            TrapCode::MemoryOutOfBounds.into_error(None)
        }
        ErrorKind::Table(
            TableError::InitOutOfBounds
            | TableError::FillOutOfBounds
            | TableError::SetOutOfBounds
            | TableError::CopyOutOfBounds,
        ) => TrapCode::TableOutOfBounds.into_error(None),
        ErrorKind::Memory(_)
        | ErrorKind::Table(_)
        | ErrorKind::Instantiation(
            InstantiationError::FailedToInstantiateMemory(_)
            | InstantiationError::FailedToInstantiateTable(_)
            | InstantiationError::TooManyInstances
            | InstantiationError::TooManyTables
            | InstantiationError::TooManyMemories,
        ) => XtismError::MemoryLimit(
            store
                .data_mut()
                .limiter
                .0
                .take_refusal()
                .unwrap_or_else(|| e.to_string()),
        ),
        _ => trap_error(e),
    }
}

impl Linked for WasmiLinked {
    fn instantiate(&self, state: PluginState) -> Result<Box<dyn Instance>, InstantiateError> {
        let memory = Arc::clone(state.memory_budget());
        let data = StoreData {
            state,
            kernel: None,
            memories: Vec::with_capacity(self.modules.len()),
            limiter: Limiter(StoreLimiter::new(self.limits, memory)),
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limiter);
        match self.try_instantiate(&mut store) {
            Ok((main, dependencies)) => Ok(Box::new(WasmiPlugin {
                store,
                main,
                dependencies,
                metered: self.metered,
                fuel_consumed: None,
                exports: HashMap::new(),
            })),
            Err(error) => Err(InstantiateError {
                error,
                state: Box::new(store.into_data().state),
            }),
        }
    }
}
