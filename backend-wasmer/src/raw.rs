//! Every `unsafe` of this backend, each with its SAFETY argument; the rest of the crate denies
//! unsafe code.
//!
//! The items here are safe to call, but some are sound only because of how the rest of the
//! crate uses them; those say so in their documentation.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, Ordering};

use wasmer::sys::vm::{
    InternalStoreHandle, MemoryError, MemoryStyle, StoreObjects, TableStyle, VMGlobal,
    VMGlobalDefinition, VMMemory, VMMemoryDefinition, VMTable, VMTableDefinition,
};
use wasmer::sys::{BaseTunables, Tunables};
use wasmer::{
    AsStoreMut, DeserializeError, ExportIndex, FunctionEnv, Global, Instance, Memory, MemoryType,
    ModuleInfo, Store, TableType,
};
use wasmer_compiler::LinkError;
use wasmer_types::LocalGlobalIndex;
use wasmer_types::entity::PrimaryMap;
use wasmer_types::{LocalMemoryIndex, MemoryIndex, StoreId};

use crate::interrupt::FLAG_EXPORT;
use crate::limits::{allowed_memory, allowed_table, note_flag, note_memory, watched_memory};
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

/// The bytes of `memory`, if there is one, and the data of `env`, borrowed together from
/// `store` for as long as it is.
///
/// Panics if `memory` or `env` belongs to another store (wasmer checks).
pub(crate) fn memory_and_data<'a, T: Send + 'static>(
    store: &'a mut impl AsStoreMut,
    env: &FunctionEnv<T>,
    memory: Option<&Memory>,
) -> (Option<&'a mut [u8]>, &'a mut T) {
    let span = memory.map(|memory| {
        let view = memory.view(&*store);
        (
            view.data_ptr(),
            usize::try_from(view.data_size()).unwrap_or(0),
        )
    });
    let data = env.as_mut(store);
    let bytes = span.map(|(ptr, len)| -> &'a mut [u8] {
        if len == 0 {
            return &mut [];
        }
        // SAFETY: `ptr` and `len` are the memory's bytes now, taken under the exclusive
        // borrow of the store that owns the memory (`view` checked that it does) for `'a`.
        // Nothing else can then read, write, grow (move) or drop the memory while the slice
        // lives: all of that goes through the store, which is not `Sync`, and no memory of
        // this crate's stores is shared with another store. The bytes are mapped, readable
        // and writable, and are not part of any other Rust object; `data` is the
        // environment's own allocation in the store, apart from every memory.
        unsafe { std::slice::from_raw_parts_mut(ptr, len) }
    });
    (bytes, data)
}

/// Where wasmer keeps the base and length of one memory of an instance: the definition in the
/// instance's `VMContext` that compiled code reads, and that wasmer updates when the memory
/// grows, as [`LimitingTunables::create_memories`] saw it (the only place a `MemorySpan` is
/// made). Reading it costs two loads, where [`memory_and_data`] asks the store for the
/// memory and the memory for its size, through dynamic calls, on each access.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemorySpan {
    definition: NonNull<VMMemoryDefinition>,
    /// The store whose instance holds the definition.
    store: StoreId,
}

// SAFETY: a `MemorySpan` is only dereferenced by `span_and_data`, under an exclusive borrow of
// the store whose instance holds the definition (it checks which store it has); where the
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
    // one of the store's instances, which lives as long as the store (wasmer frees instances
    // only with their store), and wasmer keeps its base and length current whenever the
    // memory grows (`VMOwnedMemory::grow` writes both). Reading it under the store's
    // exclusive borrow cannot race with a growth: growth goes through the store.
    let definition = unsafe { *span.definition.as_ptr() };
    let data = env.as_mut(store);
    if definition.current_length == 0 {
        return (&mut [], data);
    }
    // SAFETY: as in `memory_and_data`: the bytes are the memory's, mapped, readable and
    // writable, borrowed under the exclusive borrow of the store that owns the memory for
    // `'a`, during which nothing else can read, write, grow (move) or drop it; `data` is the
    // environment's own allocation, apart from every memory.
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
/// `interrupt::InterruptCheck` added, as wasmer gave it to
/// [`LimitingTunables::create_globals`] (the only place a `Flag` is made).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag(NonNull<VMGlobalDefinition>);

// SAFETY: a `Flag` is only dereferenced by `Flag::raise`, from core's watchdog, while its
// instance's call runs (see `Flag::raise`).
unsafe impl Send for Flag {}
// SAFETY: as for `Send`.
unsafe impl Sync for Flag {}

impl Flag {
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

/// Refuses an instance with fewer definition locations than defined `what`s (memories or
/// globals): the tunables write one definition per location.
#[allow(
    clippy::result_large_err,
    reason = "wasmer's error type, which its Tunables return"
)]
fn enough_locations(defined: usize, locations: usize, what: &str) -> Result<(), LinkError> {
    if defined > locations {
        return Err(LinkError::Resource(format!(
            "{what} definition location missing"
        )));
    }
    Ok(())
}

/// Wasmer's base tunables (static memories with guard pages), with the limits of the open
/// [`Budget`](crate::limits::Budget) applied. Here because wasmer's trait has unsafe methods;
/// the policy is in [`limits`](crate::limits).
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
        // SAFETY: our caller (wasmer) guarantees the location, as this function requires;
        // it is passed on unchanged. Only the type changed, to the same minimum and a
        // maximum no larger, which the style still fits (the base tunables' style is
        // `Static` whatever the type).
        unsafe {
            self.base
                .create_vm_memory(&ty, style, vm_definition_location)
        }
    }

    /// Wasmer's own logic, plus noting where the watched memory's definition lives.
    unsafe fn create_memories(
        &self,
        context: &mut StoreObjects,
        module: &ModuleInfo,
        memory_styles: &PrimaryMap<MemoryIndex, MemoryStyle>,
        memory_definition_locations: &[NonNull<VMMemoryDefinition>],
    ) -> Result<PrimaryMap<LocalMemoryIndex, InternalStoreHandle<VMMemory>>, LinkError> {
        let defined = module.memories.iter().skip(module.num_imported_memories);
        enough_locations(
            defined.len(),
            memory_definition_locations.len(),
            "linear memory",
        )?;
        let mut memories = PrimaryMap::with_capacity(defined.len());
        for ((index, ty), location) in defined.zip(memory_definition_locations) {
            let style = memory_styles
                .get(index)
                .ok_or_else(|| LinkError::Resource("memory style missing".into()))?;
            // SAFETY: wasmer hands us one valid definition location per defined memory, in
            // the new instance's `VMContext` (there are enough: checked above), as
            // `create_vm_memory` requires; its default `create_memories` does the same.
            let memory = unsafe { self.create_vm_memory(ty, style, *location) }
                .map_err(|e| LinkError::Resource(format!("Failed to create memory: {e}")))?;
            memories.push(InternalStoreHandle::new(context, memory));
        }
        if let Some(name) = watched_memory()
            && let Some(ExportIndex::Memory(index)) = module.exports.get(name)
            && let Some(local) = module.local_memory_index(*index)
            && let Some(location) = memory_definition_locations.get(local.as_u32() as usize)
        {
            note_memory(MemorySpan {
                definition: *location,
                store: context.id(),
            });
        }
        Ok(memories)
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
        // SAFETY: as in `create_vm_memory`: the location is passed on unchanged, and the
        // type keeps its minimum with a maximum no larger.
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
        enough_locations(defined.len(), vm_definition_locations.len(), "global")?;
        let mut globals = PrimaryMap::with_capacity(defined.len());
        for (ty, location) in defined.zip(vm_definition_locations) {
            // SAFETY: wasmer hands us one valid definition location per defined global, in
            // the new instance's `VMContext` (there are enough: checked above). This method
            // is safe to call by wasmer's design (its default does the same); only wasmer
            // calls it.
            let global =
                unsafe { self.create_vm_global(*ty, *location) }.map_err(LinkError::Resource)?;
            globals.push(InternalStoreHandle::new(context, global));
        }
        if let Some(ExportIndex::Global(index)) = module.exports.get(FLAG_EXPORT)
            && let Some(local) = module.local_global_index(*index)
            && let Some(location) = vm_definition_locations.get(local.as_u32() as usize)
        {
            note_flag(Flag(*location));
        }
        Ok(globals)
    }
}
