//! xtism-wasmtime: xtism's engine traits on wasmtime (Cranelift JIT).
//!
//! For servers that want a JIT and every capability. This crate only adapts wasmtime to
//! [`xtism_core::engine`]: it compiles modules, materializes core's [`LinkPlan`] as wasmtime
//! externs, binds core's kernel imports with typed host functions (one binding per
//! [`HostImport`] signature), user host functions and core's WASI functions (one set per
//! importing module) with dynamically typed ones, and exposes the kernel memory and each
//! module's memory. Extism's meaning stays in core.
//!
//! The modules follow a plug-in's life: `engine` (the engine, its configured engines,
//! compiling), `module` (a compiled module in core's terms), `link` and `host` (a link plan
//! as a linker and per-module import plans; the host functions defined in that linker),
//! `instantiate` (a store and its instances), `store` (what a store holds, its resource
//! limiter, and core's `HostAccess` over the store or a caller), `instance` (a running
//! plug-in and its calls) and `error` (wasmtime's errors and traps in core's terms).
//! `convert` (types and values), `pool` and `raw` serve them.
//!
//! Choices, and why:
//!
//! - **Configured engines.** Fuel metering, epoch interruption, debug info and the profiler
//!   are fixed per wasmtime engine, so each combination of those [`CompileOptions`] gets its
//!   own engine, made on first use and kept, with core's kernel module compiled for it once
//!   (see `engine`).
//! - **Instantiation.** The kernel module is a separate instance per store whose exports
//!   feed the plug-in's imports, so a whole-plug-in `InstancePre` cannot exist (its imports
//!   would belong to one store). Instead [`Linked`] holds everything that does not depend on
//!   the store: an `InstancePre` of the kernel (no imports, nothing to check), a `Linker`
//!   in which core's host imports and the user's functions are defined once (their wasmtime
//!   host functions and types are made at link time; a store only roots them), and per
//!   module an import plan naming each import's source by index (kernel and module exports
//!   are found by precomputed `ModuleExport` handles, not by name). Instantiating is then a
//!   store, the kernel instance, and one `Instance::new` per module (see `link` and
//!   `instantiate`).
//! - **Allocation.** By default, the on-demand instance allocator, with copy-on-write memory
//!   images. Most of an instantiation is the operating system's work on two fresh linear
//!   memories (reserve, protect, map the image; unmap on drop). wasmtime's pooling
//!   allocator reuses memory slots instead and instantiates about 2.5x faster (the
//!   `instantiate` benchmark row: about 7 µs pooled, 18 µs on demand), but it fixes up front,
//!   for the whole engine, how many instances, memories and tables may exist at once and
//!   the most any one module may use; past those, instantiation fails. The official
//!   runtime has no such cap, so the pool is opt-in:
//!   [`WasmtimeEngine::with_instance_pool`] (see `pool`).
//! - **Interruption.** With `interruptible`, code is compiled with epoch checks. One thread
//!   per [`WasmtimeEngine`], core's [`Ticker`], advances the epoch every millisecond while
//!   calls run and parks when none has run for a while. At each tick a running store's deadline
//!   callback (`on_epoch`, in `instance`) asks [`CallLimits::interruption`] whether to stop
//!   (deadline or cancel); a call stops within a tick or two of either. Fuel, when compiled
//!   in, is set per call from [`CallLimits::fuel`].
//! - **Limits.** A [`wasmtime::ResourceLimiter`] applies [`ResourceLimits`] to every memory
//!   and table of the store, the kernel's included; `memory.grow` and `table.grow` beyond a
//!   cap return -1 in the guest, and an instantiation refused by a cap is
//!   [`XtismError::MemoryLimit`] (see `store`).
//! - **Compile cache.** Core's (see [`Engine::code_identity`]), over `Module::serialize` and
//!   `Module::deserialize`; the identity is wasmtime's `precompile_compatibility_hash` of the
//!   configured engine (version, target, flags, tunables, features).
//! - **Backtraces.** A trap's message is the trap alone, in the spec's words (as on other
//!   engines); its backtrace holds what only wasmtime knows: the faulting address, if any,
//!   and the Wasm frames, one per line, named by the modules' names, which core sets to
//!   their manifest names (see `error`).
//! - **wasmtime features.** `cranelift`, `runtime`, `std`; `parallel-compilation` (large
//!   plug-ins compile on every core); `debug-builtins` (debug info reaches native debuggers
//!   through the GDB JIT interface); `profiling` (jitdump and VTune beside perf maps, about
//!   six seconds of build); `pooling-allocator` (the opt-in instance pool); `gc` with the
//!   `gc-drc` collector, which `externref` needs (the reference types of Wasm 2.0, accepted
//!   by every engine), with the GC and exceptions proposals turned off as the other engines
//!   have neither; `async` (async calls on a fiber, async host functions). Not `cache`
//!   (core keeps one), not the component model or WASI: core does not use them.
//! - **Unsafe code** is all in one module, `raw` (loading a cached artifact), with its SAFETY
//!   argument; the crate denies `unsafe_code` and allows it there only, so the compiler proves
//!   that no other module has any.
//!
//! [`Ticker`]: xtism_core::engine::Ticker
//! [`CallLimits::fuel`]: xtism_core::engine::CallLimits::fuel
//! [`CallLimits::interruption`]: xtism_core::engine::CallLimits::interruption
//! [`CompileOptions`]: xtism_core::engine::CompileOptions
//! [`Engine::code_identity`]: xtism_core::engine::Engine::code_identity
//! [`XtismError::MemoryLimit`]: xtism_core::XtismError::MemoryLimit
//! [`HostImport`]: xtism_core::engine::HostImport
//! [`LinkPlan`]: xtism_core::engine::LinkPlan
//! [`Linked`]: xtism_core::engine::Linked
//! [`ResourceLimits`]: xtism_core::engine::ResourceLimits

#![deny(missing_docs)]
#![deny(unsafe_code)]

mod convert;
mod engine;
mod error;
mod host;
mod instance;
mod instantiate;
mod link;
mod module;
mod pool;
#[allow(unsafe_code)]
mod raw;
mod store;

#[cfg(test)]
mod tests;

pub use crate::engine::WasmtimeEngine;

/// The engine name.
const NAME: &str = "wasmtime";
