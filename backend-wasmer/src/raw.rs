//! Every `unsafe` of this backend, each with its SAFETY argument; the rest of the crate denies
//! unsafe code.
//!
//! The items here are safe to call, but some are sound only because of how the rest of the
//! crate uses them; those say so in their documentation.

use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use wasmer::sys::vm::{
    LinearMemory, MemoryError, MemoryStyle, TableStyle, Trap, VMExtern as SysExtern,
    VMGlobalDefinition, VMMemory, VMMemoryDefinition, VMSharedMemory, VMTable, VMTableDefinition,
};
use wasmer::sys::{BaseTunables, Tunables};
use wasmer::{
    AsStoreMut, DeserializeError, Extern, FunctionEnv, Global, Instance, Memory, MemoryType, Pages,
    Store, TableType,
};
use wasmer_types::StoreId;
use xtism_core::engine::{MemoryBudget, ResourceLimits};

use crate::limits::{allowed_table, budget_of_this_instantiation, charge_growth};
use crate::store::StoreData;

/// Loads an artifact of the compile cache into `engine`.
///
/// Only for what core's compile cache passes to `Engine::deserialize`: wasmer runs the
/// native code in the artifact as it is (its `Module::deserialize` checks a header, not the
/// archive).
pub(crate) fn deserialize(
    engine: &wasmer::Engine,
    artifact: Vec<u8>,
) -> Result<wasmer::Module, DeserializeError> {
    // SAFETY: the artifact was written by `Module::serialize` (our `Engine::serialize`) of
    // this wasmer version, on this host, with this configuration: core's cache names the file
    // by a hash of our `code_identity`, which holds all of them, and its checksum matched, so
    // it is not torn or corrupted. The cache directory is trusted, as core's cache
    // documentation requires (the checksum guards against accidents, not against whoever can
    // write there).
    unsafe { wasmer::Module::deserialize(engine, artifact) }
}

/// The store's own handle of `ext`, an export of one of its instances: the object wasmer
/// keeps in the store for it. None if `ext` belongs to another store.
fn vm_extern(store: &mut impl AsStoreMut, ext: Extern) -> Option<(SysExtern, StoreId)> {
    if !ext.is_from_store(&*store) {
        return None;
    }
    // This build of wasmer has the `sys` backend only, so there is no other to find here.
    let ext = ext.to_vm_extern().unwrap_sys();
    Some((ext, store.objects_mut().id()))
}

/// Where wasmer keeps the base and length of one memory: the definition that compiled code
/// reads, and that wasmer updates when the memory grows (in the `VMContext` of the instance
/// that defines the memory, or beside a host memory in the store). Reading it costs two
/// loads, where `Memory::view` asks the store for the memory and the memory for its size,
/// through dynamic calls, on each access.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemorySpan {
    definition: NonNull<VMMemoryDefinition>,
    /// The store that holds the memory.
    store: StoreId,
}

impl MemorySpan {
    /// Where `memory`'s base and length live; None if it belongs to another store than
    /// `store`.
    pub(crate) fn of(store: &mut impl AsStoreMut, memory: &Memory) -> Option<MemorySpan> {
        let (SysExtern::Memory(handle), id) = vm_extern(store, Extern::Memory(memory.clone()))?
        else {
            return None;
        };
        let definition = handle.get(store.objects_mut().as_sys()).vmmemory();
        Some(MemorySpan {
            definition,
            store: id,
        })
    }
}

// SAFETY: a `MemorySpan` is only dereferenced by `span_and_data`, under an exclusive borrow of
// the store that holds the memory (it checks which store it has); where the
// span itself is kept does not matter.
unsafe impl Send for MemorySpan {}

/// The bytes of the memory that `span` describes, and the data of `env`, borrowed together
/// from `store` for as long as it is. No bytes if `span` belongs to another store.
pub(crate) fn span_and_data<'a, T: Send + 'static>(
    store: &'a mut impl AsStoreMut,
    env: &FunctionEnv<T>,
    span: MemorySpan,
) -> (&'a mut [u8], &'a mut T) {
    if store.objects_mut().id() != span.store {
        return (&mut [], env.as_mut(store));
    }
    // SAFETY: the span belongs to `store` (checked above): it points into the `VMContext` of
    // the instance that defines the memory, or into the memory's own allocation in the
    // store's objects, both of which live as long as the store (wasmer frees instances and
    // store objects only with their store), and wasmer keeps its base and length current
    // whenever the memory grows (`VMOwnedMemory::grow` writes both). Reading it under the
    // store's exclusive borrow cannot race with a growth: growth goes through the store.
    let definition = unsafe { *span.definition.as_ptr() };
    let data = env.as_mut(store);
    if definition.current_length == 0 {
        return (&mut [], data);
    }
    // SAFETY: the bytes are the memory's now, mapped, readable and writable, and are not part
    // of any other Rust object. They are borrowed under the exclusive borrow of the store
    // that owns the memory for `'a`: nothing else can then read, write, grow (move) or drop
    // the memory while the slice lives, as all of that goes through the store, which is not
    // `Sync`, and no memory of this crate's stores is shared with another store. `data` is
    // the environment's own allocation in the store, apart from every memory.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(definition.base, definition.current_length) };
    (bytes, data)
}

/// The store of a plug-in, which may move to another thread between calls.
pub(crate) struct SendStore(pub(crate) Store);

// SAFETY: wasmer 7's `Store` is not `Send` (it was up to wasmer 6; see wasmerio/wasmer#7001),
// but nothing in ours is tied to a thread between calls. This reasoning assumes wasmer 7.4
// (pinned in the workspace) with the `sys` and `cranelift` features, and no other:
// - the store's `on_called` handler, the one field that is `!Send` by type, is never set
//   (nothing in this crate calls `Store::on_called`);
// - every host function and environment we put in the store is `Send`: wasmer's bounds on
//   `Function::new_typed_with_env`, `Function::new_with_env` and `FunctionEnv::new` enforce
//   it, and the assertions below check the types we use;
// - the raw pointers in the store's objects point into allocations the store owns;
// - wasmer's thread-local state (the store context stack, trap handling) refers to a store
//   only while a call runs, which borrows the plug-in mutably, so it cannot move meanwhile.
// Every other field of `instance::WasmerPlugin` is checked for `Send` by the compiler.
unsafe impl Send for SendStore {}

/// The parts the reasoning above relies on, checked at compile time: what the store holds
/// for us can move between threads.
const _: () = {
    const fn send<T: Send>() {}
    send::<StoreData>();
    send::<FunctionEnv<StoreData>>();
    send::<Memory>();
    send::<Global>();
    send::<Instance>();
};

/// The storage of one instance's interruption flag: the definition of the global that
/// `interrupt::InterruptCheck` added, in the instance's `VMContext`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag(NonNull<VMGlobalDefinition>);

// SAFETY: a `Flag` is only dereferenced by `Flag::raise`, from core's watchdog, while its
// instance's call runs (see `Flag::raise`).
unsafe impl Send for Flag {}
// SAFETY: as for `Send`.
unsafe impl Sync for Flag {}

impl Flag {
    /// The storage of `global`, an export of one of `store`'s instances; None if it belongs
    /// to another store.
    pub(crate) fn of(store: &mut impl AsStoreMut, global: &Global) -> Option<Flag> {
        let (SysExtern::Global(handle), _) = vm_extern(store, Extern::Global(global.clone()))?
        else {
            return None;
        };
        Some(Flag(handle.get(store.objects_mut().as_sys()).vmglobal()))
    }

    /// Raises the flag from the watchdog thread while the guest may be reading it.
    ///
    /// Only to be called from `interrupt::Flags`' `Interrupt::interrupt`, which core's
    /// watchdog calls only while the flag's instance runs a call; the compiler does not
    /// check this.
    pub(crate) fn raise(self) {
        // SAFETY: core calls `Interrupt::interrupt` only while a call of the instance is
        // watched: once `WatchedInstance::start` marked it running and before its
        // `WatchedCall` is finished or dropped, which waits for an interruption in progress
        // to end (core's documented promise, which holds while the guard is not leaked).
        // `WasmerPlugin::run_export` starts the watch under `&mut self`, keeps the guard on
        // its stack around the engine call and finishes it before returning: the
        // instance's store is alive and borrowed by that call, so the global's storage is
        // too. The storage is an aligned `i32` global (`VMGlobalDefinition` is
        // 16-byte aligned) that compiled code only reads, with plain loads (its export is
        // hidden from the link plan, so no other module can import and write it), and that
        // the host only writes between calls, after `WatchedCall::finish` returned; this store is
        // atomic. The guest's loads are machine loads outside Rust's memory model: an aligned
        // 4-byte store cannot tear under them.
        unsafe {
            let value = &raw mut (*self.0.as_ptr()).val.i32;
            AtomicI32::from_ptr(value).store(1, Ordering::Release);
        }
    }
}

/// Wasmer's base tunables (static memories with guard pages), with a plug-in's
/// [`ResourceLimits`] applied to every memory and table they create (see
/// [`limits`](crate::limits)). Here because wasmer's trait has unsafe methods.
pub(crate) struct LimitingTunables {
    base: BaseTunables,
    limits: ResourceLimits,
}

impl LimitingTunables {
    pub(crate) fn new(limits: ResourceLimits) -> LimitingTunables {
        LimitingTunables {
            base: BaseTunables::new(),
            limits,
        }
    }
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
        Ok(BudgetedMemory::wrap(
            self.base.create_host_memory(ty, style)?,
        ))
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        // SAFETY: our caller (wasmer) guarantees the location, as this function requires;
        // it is passed on unchanged, with the type and style.
        let memory = unsafe {
            self.base
                .create_vm_memory(ty, style, vm_definition_location)
        }?;
        Ok(BudgetedMemory::wrap(memory))
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base
            .create_host_table(&allowed_table(ty, &self.limits)?, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        let ty = allowed_table(ty, &self.limits)?;
        // SAFETY: our caller (wasmer) guarantees the location, as this function requires;
        // it is passed on unchanged. Only the type changed, to the same minimum and a
        // maximum no larger, which the style still fits (the base tunables' style is
        // `Static` whatever the type).
        unsafe {
            self.base
                .create_vm_table(&ty, style, vm_definition_location)
        }
    }
}

/// A memory made by wasmer's base tunables that charges its growth to the budget of the
/// instance it was made for (see [`limits`](crate::limits)); everything else is the base
/// memory's. Here because forwarding the trait's atomic wait is unsafe.
#[derive(Debug)]
pub(crate) struct BudgetedMemory {
    base: VMMemory,
    budget: Arc<MemoryBudget>,
}

impl BudgetedMemory {
    /// `base` charging the budget of the instance this thread is making; `base` itself
    /// when none is being made.
    fn wrap(base: VMMemory) -> VMMemory {
        let Some(budget) = budget_of_this_instantiation() else {
            return base;
        };
        let memory: Box<dyn LinearMemory + Send + Sync> = Box::new(BudgetedMemory { base, budget });
        VMMemory::from(memory)
    }
}

impl LinearMemory for BudgetedMemory {
    fn ty(&self) -> MemoryType {
        self.base.ty()
    }

    fn size(&self) -> Pages {
        self.base.size()
    }

    fn style(&self) -> MemoryStyle {
        self.base.style()
    }

    fn grow(&mut self, delta: Pages) -> Result<Pages, MemoryError> {
        let charged = charge_growth(&self.base, delta, &self.budget)?;
        self.base
            .grow(delta)
            .inspect_err(|_| self.budget.refund(charged))
    }

    fn grow_at_least(&mut self, min_size: u64) -> Result<(), MemoryError> {
        let pages = min_size.div_ceil(xtism_core::engine::PAGE_SIZE);
        let delta = pages.saturating_sub(u64::from(self.base.size().0));
        let delta = Pages(u32::try_from(delta).unwrap_or(u32::MAX));
        let charged = charge_growth(&self.base, delta, &self.budget)?;
        self.base
            .grow_at_least(min_size)
            .inspect_err(|_| self.budget.refund(charged))
    }

    fn reset(&mut self) -> Result<(), MemoryError> {
        self.base.reset()
    }

    fn vmmemory(&self) -> NonNull<VMMemoryDefinition> {
        self.base.vmmemory()
    }

    fn try_clone(&self) -> Result<Box<dyn LinearMemory + Send + Sync + 'static>, MemoryError> {
        let clone = VMMemory(LinearMemory::try_clone(&self.base)?);
        Ok(Box::new(BudgetedMemory {
            base: clone,
            budget: Arc::clone(&self.budget),
        }))
    }

    unsafe fn initialize_with_data(&self, start: usize, data: &[u8]) -> Result<(), Trap> {
        // SAFETY: forwarded with the caller's guarantee to the memory this one is.
        unsafe { self.base.initialize_with_data(start, data) }
    }

    fn copy(&self) -> Result<Box<dyn LinearMemory + Send + Sync + 'static>, MemoryError> {
        let copy = VMMemory(LinearMemory::copy(&self.base)?);
        Ok(Box::new(BudgetedMemory {
            base: copy,
            budget: Arc::clone(&self.budget),
        }))
    }

    fn as_shared(&self) -> Result<VMSharedMemory, MemoryError> {
        self.base.as_shared()
    }

    unsafe fn do_wait(
        &mut self,
        dst: u32,
        expected: wasmer::sys::vm::ExpectedValue,
        timeout: Option<Duration>,
    ) -> Result<u32, wasmer::sys::vm::WaiterError> {
        // SAFETY: forwarded with the caller's guarantee to the memory this one is.
        unsafe { self.base.do_wait(dst, expected, timeout) }
    }

    fn do_notify(&mut self, dst: u32, count: u32) -> u32 {
        self.base.do_notify(dst, count)
    }

    fn thread_conditions(&self) -> Option<&wasmer::sys::vm::ThreadConditions> {
        self.base.thread_conditions()
    }
}
