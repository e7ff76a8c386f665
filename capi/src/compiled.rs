//! Compiled plug-ins: compile once, make plug-ins from it cheaply.

use std::ffi::c_char;

use xtism::CompiledPlugin;

use crate::ffi::{constructed, guard};
use crate::function::ExtismFunction;
use crate::plugin::{Source, compile};

/// `ExtismCompiledPlugin`.
pub struct ExtismCompiledPlugin(pub(crate) CompiledPlugin);

/// Compiles a plug-in (Wasm, WebAssembly text or a JSON manifest) on the engine
/// `XTISM_ENGINE` names; NULL on failure with `*errmsg` set.
///
/// # Safety
///
/// `wasm` holds `wasm_size` bytes (or is NULL for 0); `functions` holds `n_functions` live
/// functions (or is NULL); `errmsg` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_compiled_plugin_new(
    wasm: *const u8,
    wasm_size: u64,
    functions: *const *const ExtismFunction,
    n_functions: u64,
    with_wasi: bool,
    errmsg: *mut *mut c_char,
) -> *mut ExtismCompiledPlugin {
    // SAFETY: per the contract.
    unsafe {
        compiled_plugin_new(
            Source::new(wasm, wasm_size, functions, n_functions, with_wasi),
            errmsg,
        )
    }
}

/// [`extism_compiled_plugin_new`] with a budget of `fuel_limit` fuel units (the engine's) for
/// each call.
///
/// # Safety
///
/// As [`extism_compiled_plugin_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_compiled_plugin_new_with_fuel_limit(
    wasm: *const u8,
    wasm_size: u64,
    functions: *const *const ExtismFunction,
    n_functions: u64,
    with_wasi: bool,
    fuel_limit: u64,
    errmsg: *mut *mut c_char,
) -> *mut ExtismCompiledPlugin {
    let mut source = Source::new(wasm, wasm_size, functions, n_functions, with_wasi);
    source.fuel = Some(fuel_limit);
    // SAFETY: per the contract.
    unsafe { compiled_plugin_new(source, errmsg) }
}

/// Compiles `source`, or reports why not through `errmsg`.
///
/// # Safety
///
/// `source`'s pointers and `errmsg` follow [`extism_compiled_plugin_new`]'s contract.
unsafe fn compiled_plugin_new(
    source: Source,
    errmsg: *mut *mut c_char,
) -> *mut ExtismCompiledPlugin {
    // SAFETY: per the contract.
    unsafe {
        constructed(errmsg, "xtism panicked while compiling the plug-in", || {
            compile(&source).map(ExtismCompiledPlugin)
        })
    }
}

/// Frees a compiled plug-in; plug-ins made from it keep working.
///
/// # Safety
///
/// `plugin` is NULL or came from `extism_compiled_plugin_new*` and was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_compiled_plugin_free(plugin: *mut ExtismCompiledPlugin) {
    guard((), || {
        if !plugin.is_null() {
            // SAFETY: made by `Box::into_raw`, per the contract.
            drop(unsafe { Box::from_raw(plugin) });
        }
    })
}
