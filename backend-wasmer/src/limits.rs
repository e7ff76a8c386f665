//! Resource limits, enforced where wasmer creates memories, tables and globals: our own
//! [`Tunables`].
//!
//! Tunables belong to a wasmer engine, shared by every store, while limits belong to one
//! plug-in. So [`Linked::instantiate`](xtism_core::engine::Linked::instantiate) opens a
//! [`Budget`] on its thread for the duration of the instantiation (instantiation is
//! synchronous), and the tunables charge every memory and table they create to it:
//!
//! - a memory's maximum is clamped to `max_pages`, so `memory.grow` past it returns -1 and
//!   growing the kernel from the host fails; a memory whose minimum is above the cap is
//!   refused;
//! - a table's maximum is clamped to `max_table_elements`, and a larger minimum (a "table
//!   bomb") is refused before anything is allocated;
//! - more memories or tables than allowed are refused.
//!
//! Wasmer reports a refusal as an "insufficient resources" link error, which the backend
//! turns into [`Error::MemoryLimit`](xtism_core::Error::MemoryLimit). The budget also
//! collects the storage address of each instance's interruption flag (see [`interrupt`]),
//! which only the tunables get to see.
//!
//! [`interrupt`]: crate::interrupt

use std::cell::RefCell;
use std::ptr::NonNull;

use wasmer::sys::vm::{
    InternalStoreHandle, MemoryError, MemoryStyle, StoreObjects, TableStyle, VMGlobal,
    VMGlobalDefinition, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition,
};
use wasmer::sys::{BaseTunables, Tunables};
use wasmer::{ExportIndex, MemoryType, ModuleInfo, Pages, TableType};
use wasmer_compiler::LinkError;
use wasmer_types::LocalGlobalIndex;
use wasmer_types::entity::PrimaryMap;
use xtism_core::engine::ResourceLimits;

use crate::interrupt::{FLAG_EXPORT, Flag};

/// What the instantiation in progress on this thread may still create.
#[derive(Debug)]
struct Allowance {
    limits: ResourceLimits,
    memories: u32,
    tables: u32,
    flag: Option<Flag>,
}

thread_local! {
    static ALLOWANCE: RefCell<Option<Allowance>> = const { RefCell::new(None) };
}

/// The limits of the instantiation in progress on this thread; closed when dropped (the
/// previous one, for a nested instantiation from a host function, is restored).
pub(crate) struct Budget {
    previous: Option<Allowance>,
}

impl Budget {
    /// Charges what this thread instantiates to `limits` until the budget is dropped.
    pub(crate) fn open(limits: ResourceLimits) -> Budget {
        let allowance = Allowance {
            limits,
            memories: 0,
            tables: 0,
            flag: None,
        };
        Budget {
            previous: ALLOWANCE.with(|a| a.borrow_mut().replace(allowance)),
        }
    }

    /// The interruption flag of the module instantiated last, if it has one.
    pub(crate) fn take_flag(&self) -> Option<Flag> {
        ALLOWANCE.with(|a| a.borrow_mut().as_mut().and_then(|a| a.flag.take()))
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        let previous = self.previous.take();
        ALLOWANCE.with(|a| *a.borrow_mut() = previous);
    }
}

/// Runs `f` on the open allowance, if there is one.
fn charge<R>(f: impl FnOnce(&mut Allowance) -> R) -> Option<R> {
    ALLOWANCE.with(|a| a.borrow_mut().as_mut().map(f))
}

/// `ty` with its maximum clamped to the allowance, or why it cannot be created.
fn allowed_memory(ty: &MemoryType) -> Result<MemoryType, MemoryError> {
    let mut ty = *ty;
    let refused = charge(|a| {
        a.memories += 1;
        if a.memories > a.limits.max_memories {
            return Some(format!(
                "more than {} linear memories in one plug-in",
                a.limits.max_memories
            ));
        }
        if let Some(cap) = a.limits.max_pages {
            let cap = Pages(cap);
            if ty.minimum > cap {
                return Some(format!(
                    "a memory of {} pages exceeds the limit of {} pages",
                    ty.minimum.0, cap.0
                ));
            }
            ty.maximum = Some(ty.maximum.map_or(cap, |max| max.min(cap)));
        }
        None
    });
    match refused.flatten() {
        Some(reason) => Err(MemoryError::Generic(reason)),
        None => Ok(ty),
    }
}

/// `ty` with its maximum clamped to the allowance, or why it cannot be created.
fn allowed_table(ty: &TableType) -> Result<TableType, String> {
    let mut ty = *ty;
    let refused = charge(|a| {
        a.tables += 1;
        if a.tables > a.limits.max_tables {
            return Some(format!(
                "more than {} tables in one plug-in",
                a.limits.max_tables
            ));
        }
        let cap = a.limits.max_table_elements;
        if ty.minimum > cap {
            return Some(format!(
                "a table of {} elements exceeds the limit of {cap} elements",
                ty.minimum
            ));
        }
        ty.maximum = Some(ty.maximum.map_or(cap, |max| max.min(cap)));
        None
    });
    match refused.flatten() {
        Some(reason) => Err(reason),
        None => Ok(ty),
    }
}

/// Wasmer's base tunables (static memories with guard pages), with the limits of the
/// open [`Budget`] applied.
#[derive(Default)]
pub(crate) struct LimitingTunables {
    base: BaseTunables,
}

impl Tunables for LimitingTunables {
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(memory)
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
    ) -> Result<VMMemory, MemoryError> {
        self.base.create_host_memory(&allowed_memory(ty)?, style)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        let ty = allowed_memory(ty)?;
        // SAFETY: our caller (wasmer) guarantees the location, as this function requires.
        unsafe {
            self.base
                .create_vm_memory(&ty, style, vm_definition_location)
        }
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(&allowed_table(ty)?, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        let ty = allowed_table(ty)?;
        // SAFETY: our caller (wasmer) guarantees the location, as this function requires.
        unsafe {
            self.base
                .create_vm_table(&ty, style, vm_definition_location)
        }
    }

    /// Wasmer's own logic, plus noting where the interruption flag lives.
    fn create_globals(
        &self,
        context: &mut StoreObjects,
        module: &ModuleInfo,
        vm_definition_locations: &[NonNull<VMGlobalDefinition>],
    ) -> Result<PrimaryMap<LocalGlobalIndex, InternalStoreHandle<VMGlobal>>, LinkError> {
        let defined = module.globals.values().skip(module.num_imported_globals);
        if defined.len() > vm_definition_locations.len() {
            return Err(LinkError::Resource(
                "global definition location missing".into(),
            ));
        }
        let mut globals = PrimaryMap::with_capacity(defined.len());
        for (ty, location) in defined.zip(vm_definition_locations) {
            // SAFETY: wasmer hands us one valid definition location per defined global.
            let global =
                unsafe { self.create_vm_global(*ty, *location) }.map_err(LinkError::Resource)?;
            globals.push(InternalStoreHandle::new(context, global));
        }
        if let Some(ExportIndex::Global(index)) = module.exports.get(FLAG_EXPORT)
            && let Some(local) = module.local_global_index(*index)
            && let Some(location) = vm_definition_locations.get(local.as_u32() as usize)
        {
            charge(|a| a.flag = Some(Flag::new(*location)));
        }
        Ok(globals)
    }
}
