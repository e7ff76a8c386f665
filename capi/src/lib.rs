//! libxtism: the C API of the official libextism (`extism.h`, Extism 1.x), so programs and
//! official SDKs built on libextism run on wasmtime, wasmi or wasmer.
//!
//! The header is `include/extism.h`; it documents every function. The engine of each new
//! plug-in is the one the `XTISM_ENGINE` environment variable names, else the default
//! (wasmtime when compiled in), or the one `xtism_plugin_new_with_engine` names.
//!
//! Every entry point catches unwinds, accepts NULL for every pointer (returning the documented
//! default), and reports failures through `errmsg` or `extism_plugin_error`.

mod call;
mod cancel;
mod compiled;
mod current;
mod ffi;
mod function;
mod log;
mod plugin;

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

/// The Extism API version this library implements, with xtism's own as build metadata.
static VERSION: &str = concat!("1.41.0+xtism.", env!("CARGO_PKG_VERSION"), "\0");

/// The version string, e.g. `1.41.0+xtism.0.1.0`: the Extism API version implemented, then
/// xtism's.
#[unsafe(no_mangle)]
pub extern "C" fn extism_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// The engines compiled in, comma-separated, the default first.
#[unsafe(no_mangle)]
pub extern "C" fn xtism_engines() -> *const c_char {
    static ENGINES: OnceLock<CString> = OnceLock::new();
    ENGINES
        .get_or_init(|| ffi::c_string(&xtism::ENGINES.join(",")))
        .as_ptr()
}
