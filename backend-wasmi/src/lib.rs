//! xtism-wasmi: xtism's engine traits on the wasmi interpreter.
//!
//! For hosts that may not JIT (iOS, consoles, embedded) and for small binaries. This crate
//! only adapts wasmi to [`xtism_core::engine`]: it compiles modules, materializes core's
//! [`LinkPlan`] as wasmi externs, binds core's kernel imports with `Func::wrap` (typed, one
//! closure per signature), user host functions and core's WASI functions with `Func::new`
//! (an async host function suspends the resumable call it runs in), and exposes the kernel
//! memory and each module's memory. Extism's meaning stays in core.
//! It rewrites one pattern wasmi 2.0.0 miscompiles before compiling (see `select_fix`).
//!
//! The modules follow a plug-in's life: `engine` (the engine and compiling), `link` (a link
//! plan as modules and import sources, and instantiating), `host` (the host functions a store
//! holds), `store` (what a store holds, and its resource limiter), `instance` (a running
//! plug-in and its calls); `convert` (types and values) and `select_fix` serve them.
//!
//! [`LinkPlan`]: xtism_core::engine::LinkPlan

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod convert;
mod engine;
mod host;
mod instance;
mod link;
mod select_fix;
mod store;

pub use crate::engine::WasmiEngine;

/// The engine name.
const NAME: &str = "wasmi";

/// Fuel per slice of an interruptible call: about a millisecond of interpretation, so a
/// call stops within a few milliseconds of its deadline or of being cancelled.
pub const SLICE: u64 = 1 << 20;
