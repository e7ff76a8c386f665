//! xtism-core: everything Extism means, independent of any WebAssembly engine.
//!
//! Extism plug-ins talk to their host through a small ABI (`extism:host/env`): a kernel
//! allocator over a memory of its own, input and output, vars, config, HTTP and logging.
//! This crate implements that ABI once: the kernel module and its block bookkeeping, the
//! host-side imports, host functions, the call protocol and the errors. Engines plug in
//! underneath through the small object-safe traits of [`engine`]; the backend crates
//! (`xtism-wasmi`, ...) implement them and contain no Extism meaning, so a plug-in behaves
//! the same on every engine.
//!
//! Most users want the `xtism` crate, which re-exports this one and picks an engine.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod abi;
mod alloc;
mod async_function;
mod cache;
pub mod convert;
pub mod engine;
mod error;
mod function;
mod http;
mod log;
mod macros;
mod merge;
mod module_bytes;
mod name_section;
mod plugin;
mod pool;
mod start;
mod state;
#[cfg(feature = "wasi")]
mod wasi;

pub use abi::{
    EXTISM_ENV_MODULE, EXTISM_USER_MODULE, HOST_IMPORTS, KERNEL_EXPORTS, PAGE_SIZE, WASI_MODULE,
};
pub use async_function::AsyncCurrentPlugin;
pub use cache::{CACHE_DIR_ENV, CacheSetting};
pub use convert::{FromBytes, FromBytesOwned, ToBytes};
pub use engine::{Capabilities, Engine, FuncType, Function, Profiling, Val, ValType};
pub use error::{BoxError, Error, ErrorExt, ErrorKind, XtismError};
pub use function::{CurrentPlugin, MemoryHandle, PTR, UserData, VarsMut};
pub use log::{set_log_callback, set_log_file};
#[doc(hidden)]
pub use macros::{__host_fn_arg, __host_fn_kernel};
pub use module_bytes::module_bytes;
pub use plugin::{
    CancelHandle, CompiledPlugin, DEFAULT_YIELD_EVERY, DebugOptions, EngineProvider, MAIN_MODULE,
    NoDefaultEngine, Plugin, PluginBuilder, WasmInput, guest_initializers,
};
pub use pool::{Pool, PoolBuilder, PoolPlugin};
pub use state::{DEFAULT_MAX_HTTP_RESPONSE_BYTES, DEFAULT_MAX_VAR_BYTES, VAR_ENTRY_OVERHEAD};
#[cfg(feature = "wasi")]
pub use wasi::{OutputCapture, WASI_OUTPUT_ENV, WasiOutput};
pub use xtism_manifest as manifest;
pub use xtism_manifest::{Manifest, Wasm, WasmMetadata};
