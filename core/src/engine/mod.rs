//! The engine boundary: what a backend provides so that core can run Extism plug-ins on it.
//!
//! The traits are object-safe because the engine is picked at run time, by value (the CLI,
//! the C API and the benchmarks switch engines without recompiling). The required surface
//! is small and carries no Extism meaning: compile bytes, instantiate a set of modules wired
//! as core's [`LinkPlan`] says, call an export, and expose the kernel memory. Which import
//! goes where, what a block is, how vars and config behave: all of that is decided in core,
//! once, so it cannot differ between engines.
//!
//! Host calls flow back through [`HostAccess`], which a backend implements over its
//! caller/store so that core's kernel imports and user host functions can borrow the kernel
//! memory and the [`PluginState`] together.
//!
//! # The ground floor of core
//!
//! This module is the bottom layer of the crate and imports only the leaf `error`, nothing
//! from the modules that stand on it: the kernel imports (`abi`, `http`, `wasi`), the user
//! host functions (`function`) and the plug-in state (`state`) sit on it, and the plug-in
//! lifecycle (`plugin`, `pool`, `cache`, `merge`) above them. Two things it carries come
//! from above, and each is held through the narrowest shape that lets this layer stay
//! ignorant of it:
//!
//! - A user host function ([`Function`]) is, down here, its name, its signature and a
//!   callback over [`HostAccess`] (a trait object). How that callback is made from the
//!   user's closure over a `CurrentPlugin`, and the function's import namespace, are
//!   `function`'s business; a backend only needs [`Function::ty`] and
//!   [`Function::invoke_converted`].
//! - The [`PluginState`] a store carries is defined here with the part of it this layer
//!   uses (the error a host call failed with, the call's deadline and cancel flag), and the
//!   rest, core's Extism bookkeeping (kernel blocks, vars, config, HTTP and WASI context),
//!   in one field whose type this layer does not name: `state` fills a crate-private type
//!   slot with it (see `plugin_state.rs`). The compiler resolves the slot to the concrete
//!   type, so the kernel imports reach their data with no dynamic dispatch or downcast, and
//!   nothing here looks inside.
//!
//! One idea per file: [`Engine`], [`Linked`] and [`Instance`] (`backend`); what an engine can do
//! and is asked to compile with (`capabilities`); the exports core calls, by signature, typed and
//! called as their shape says ([`ExportShape::typed`], [`call_typed_export!`], in `export_shape`);
//! Wasm values and signatures (`values`); a compiled module's imports and exports (`module`); where
//! an import comes from and the signatures of core's kernel imports ([`bind_host_import!`], in
//! `import_source`); user host functions as the engine sees them (`host_function`); an async host
//! function's call while it waits (`pending_call`) and how its future reaches the plug-in meanwhile
//! (`access_scope`); the link plan (`link_plan`); a store's resource limits in core's words
//! (`limiter`) and `memory.max_pages` as a budget of growth (`memory_budget`); the host's view of a
//! running plug-in (`host_access`); the store's data (`plugin_state`); stopping a call
//! (`interrupt`), a fuel budget handed out in slices (`fuel_slices`), the thread that ticks while
//! calls run (`ticker`) and the watchdog that stops calls of engines that must be told to stop
//! (`watchdog`); and traps as backends report them and core words them (`trap`); how an async call
//! yields to its executor (`yield_now`).

mod access_scope;
mod backend;
mod capabilities;
mod export_shape;
mod fuel_slices;
mod host_access;
mod host_function;
mod import_source;
mod interrupt;
mod limiter;
mod link_plan;
mod memory_budget;
mod module;
mod pending_call;
mod plugin_state;
mod ticker;
mod trap;
mod values;
mod watchdog;
mod yield_now;

#[doc(inline)]
pub use crate::__bind_host_import as bind_host_import;
#[doc(inline)]
pub use crate::__call_typed_export as call_typed_export;
pub use backend::{CallFuture, Engine, Instance, InstantiateError, Linked};
pub use capabilities::{Capabilities, CompileOptions, Profiling};
pub use export_shape::{ExportShape, TypedExport};
pub use fuel_slices::FuelSlices;
pub use host_access::{HostAccess, HostTrap};
pub use host_function::{DynamicInvoke, Function};
pub use import_source::{HostImport, ImportSource, WasiImport};
pub use interrupt::{CallLimits, CancelState};
pub use limiter::{PAGE_SIZE, StoreLimiter};
pub use link_plan::{
    KERNEL_MEMORY_EXPORT, KERNEL_MODULE_MEMORY, KERNEL_MODULE_NAME, KERNEL_WASM, KernelMemory,
    LinkPlan, MODULE_MEMORY_EXPORT, PlannedModule, ResourceLimits,
};
pub use memory_budget::MemoryBudget;
pub use module::{CompiledModule, Export, ExternKind, Import, Module};
pub use pending_call::PendingHostCall;
pub use plugin_state::PluginState;
pub use ticker::{TICK, Ticker, TickingCall};
pub use trap::{CORE_DUMP_NAME, Frame, TrapCode, format_backtrace};
pub use values::{FuncType, Val, ValType};
pub use watchdog::{Interrupt, WatchedCall, WatchedInstance};
pub use yield_now::yield_now;

pub(crate) use access_scope::{Token, with as with_lent};
pub(crate) use host_function::{Callback, HostFuture};
pub(crate) use memory_budget::pages;
pub(crate) use plugin_state::{Core, ExtismStateSlot};
