//! `ExtismPlugin`: making plug-ins (from bytes, a manifest or a compiled plug-in, on the
//! engine `XTISM_ENGINE` or the caller names), and what can be done to one between calls.
//!
//! A plug-in is locked for the length of each entry point, so calls from several threads
//! wait for each other, as in libextism. An entry point that a host function calls on the
//! plug-in running it (which would deadlock) is refused, and the host function's call fails
//! saying so.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::sync::{Mutex, MutexGuard, PoisonError};

use xtism::{CompiledPlugin, Plugin, PluginBuilder};

use crate::cancel::ExtismCancelHandle;
use crate::compiled::ExtismCompiledPlugin;
use crate::ffi::{bytes_arg, constructed, guard, str_arg};
use crate::function::{ExtismFunction, functions_arg, refuse_reentry};

/// `ExtismPlugin`.
pub struct ExtismPlugin {
    slot: Mutex<Slot>,
    cancel: ExtismCancelHandle,
    id: [u8; 16],
}

/// A plug-in and what its last call left for C to read.
pub(crate) struct Slot {
    pub(crate) plugin: Plugin,
    /// Address and length of the last call's output, in the plug-in's kernel memory.
    pub(crate) output: (usize, usize),
    /// The last call's error message.
    pub(crate) error: Option<CString>,
}

thread_local! {
    /// The plug-ins whose calls are running on this thread, innermost last.
    static RUNNING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Marks a plug-in as running on this thread while it lives.
pub(crate) struct Running(usize);

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|r| {
            let mut running = r.borrow_mut();
            if let Some(i) = running.iter().rposition(|&p| p == self.0) {
                running.remove(i);
            }
        });
    }
}

impl ExtismPlugin {
    fn address(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The plug-in, locked for `entry`; `None` (and the refusal noted for the host
    /// function) when a call of this plug-in is running on this thread.
    pub(crate) fn enter(&self, entry: &'static str) -> Option<MutexGuard<'_, Slot>> {
        let me = self.address();
        if RUNNING.with(|r| r.borrow().contains(&me)) {
            refuse_reentry(entry);
            return None;
        }
        Some(self.slot.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Marks the plug-in as running on this thread until the mark is dropped.
    pub(crate) fn running(&self) -> Running {
        let me = self.address();
        RUNNING.with(|r| r.borrow_mut().push(me));
        Running(me)
    }

    /// The plug-in behind a pointer, or `None` for NULL.
    ///
    /// # Safety
    ///
    /// `ptr` is NULL or came from `extism_plugin_new*` and was not freed.
    pub(crate) unsafe fn get<'a>(ptr: *const ExtismPlugin) -> Option<&'a ExtismPlugin> {
        // SAFETY: per the contract.
        unsafe { ptr.as_ref() }
    }
}

/// What a plug-in is made from, as the C caller passed it.
pub(crate) struct Source {
    wasm: *const u8,
    wasm_size: u64,
    functions: *const *const ExtismFunction,
    n_functions: u64,
    with_wasi: bool,
    /// A fuel budget for each call, in the engine's units.
    pub(crate) fuel: Option<u64>,
    /// The engine by name (a C string); else `XTISM_ENGINE`'s, else the default.
    pub(crate) engine: Option<*const c_char>,
}

impl Source {
    pub(crate) fn new(
        wasm: *const u8,
        wasm_size: u64,
        functions: *const *const ExtismFunction,
        n_functions: u64,
        with_wasi: bool,
    ) -> Source {
        Source {
            wasm,
            wasm_size,
            functions,
            n_functions,
            with_wasi,
            fuel: None,
            engine: None,
        }
    }
}

/// Compiles what `source` describes, or says why not (`Unable to compile Extism plugin: ...`).
///
/// # Safety
///
/// `source.wasm` holds `wasm_size` bytes (or is NULL for 0); `source.functions` holds
/// `n_functions` live functions (or is NULL); `source.engine` is NULL or a NUL-terminated
/// string.
pub(crate) unsafe fn compile(source: &Source) -> Result<CompiledPlugin, String> {
    // SAFETY: per the contract.
    unsafe { build(source) }.map_err(|e| format!("Unable to compile Extism plugin: {e}"))
}

/// [`compile`] without the message's prefix.
///
/// # Safety
///
/// As [`compile`].
unsafe fn build(source: &Source) -> Result<CompiledPlugin, String> {
    // SAFETY: per the contract.
    let (wasm, functions) = unsafe {
        (
            bytes_arg(source.wasm, source.wasm_size, "the plug-in")?,
            functions_arg(source.functions, source.n_functions)?,
        )
    };
    let mut builder = PluginBuilder::new(wasm)
        .with_functions(functions)
        .with_wasi(source.with_wasi);
    if let Some(fuel) = source.fuel {
        builder = builder.with_fuel_limit(fuel);
    }
    if let Some(name) = source.engine {
        // SAFETY: per the contract.
        let name = unsafe { str_arg(name, "the engine name") }?;
        builder = builder.with_engine(xtism::engine_named(name).map_err(|e| e.to_string())?);
    }
    builder.compile().map_err(|e| e.to_string())
}

/// A plug-in instance of `compiled`, or why not (`Unable to create Extism plugin: ...`).
fn instantiate(compiled: &CompiledPlugin) -> Result<ExtismPlugin, String> {
    let plugin = Plugin::new_from_compiled(compiled)
        .map_err(|e| format!("Unable to create Extism plugin: {e}"))?;
    let cancel = ExtismCancelHandle(plugin.cancel_handle());
    let id = *plugin.id.as_bytes();
    let slot = Slot {
        plugin,
        output: (0, 0),
        error: None,
    };
    Ok(ExtismPlugin {
        slot: Mutex::new(slot),
        cancel,
        id,
    })
}

/// Compiles and instantiates `source`, or reports why not through `errmsg`.
///
/// # Safety
///
/// As [`compile`]; `errmsg` is NULL or writable.
unsafe fn plugin_new(source: Source, errmsg: *mut *mut c_char) -> *mut ExtismPlugin {
    // SAFETY: per the contract.
    unsafe {
        constructed(errmsg, "xtism panicked while making the plug-in", || {
            instantiate(&compile(&source)?)
        })
    }
}

/// A plug-in from Wasm, WebAssembly text or a JSON manifest, on the engine `XTISM_ENGINE`
/// names (else the default); NULL on failure with `*errmsg` set.
///
/// # Safety
///
/// `wasm` holds `wasm_size` bytes (or is NULL for 0); `functions` holds `n_functions` live
/// functions (or is NULL); `errmsg` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_new(
    wasm: *const u8,
    wasm_size: u64,
    functions: *const *const ExtismFunction,
    n_functions: u64,
    with_wasi: bool,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    let source = Source::new(wasm, wasm_size, functions, n_functions, with_wasi);
    // SAFETY: per the contract.
    unsafe { plugin_new(source, errmsg) }
}

/// [`extism_plugin_new`] with a budget of `fuel_limit` fuel units (the engine's) per call.
///
/// # Safety
///
/// As [`extism_plugin_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_new_with_fuel_limit(
    wasm: *const u8,
    wasm_size: u64,
    functions: *const *const ExtismFunction,
    n_functions: u64,
    with_wasi: bool,
    fuel_limit: u64,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    let mut source = Source::new(wasm, wasm_size, functions, n_functions, with_wasi);
    source.fuel = Some(fuel_limit);
    // SAFETY: per the contract.
    unsafe { plugin_new(source, errmsg) }
}

/// [`extism_plugin_new`] on the engine called `engine` (see `xtism_engines`).
///
/// # Safety
///
/// As [`extism_plugin_new`]; `engine` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn xtism_plugin_new_with_engine(
    engine: *const c_char,
    wasm: *const u8,
    wasm_size: u64,
    functions: *const *const ExtismFunction,
    n_functions: u64,
    with_wasi: bool,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    let mut source = Source::new(wasm, wasm_size, functions, n_functions, with_wasi);
    source.engine = Some(engine);
    // SAFETY: per the contract.
    unsafe { plugin_new(source, errmsg) }
}

/// A new plug-in instance of a compiled plug-in; NULL on failure with `*errmsg` set.
///
/// # Safety
///
/// `compiled` is NULL or a live compiled plug-in; `errmsg` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_new_from_compiled(
    compiled: *const ExtismCompiledPlugin,
    errmsg: *mut *mut c_char,
) -> *mut ExtismPlugin {
    // SAFETY: per the contract.
    unsafe {
        constructed(
            errmsg,
            "xtism panicked while making the plug-in",
            || match compiled.as_ref() {
                Some(compiled) => instantiate(&compiled.0),
                None => Err("Unable to create Extism plugin: the compiled plug-in is NULL".into()),
            },
        )
    }
}

/// Frees a plug-in, waiting for a call running on another thread. Refused (the plug-in is
/// kept) when a host function of the plug-in's own running call asks.
///
/// # Safety
///
/// `plugin` is NULL or came from `extism_plugin_new*` and was not freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_free(plugin: *mut ExtismPlugin) {
    guard((), || {
        // SAFETY: per the contract.
        let Some(p) = (unsafe { ExtismPlugin::get(plugin) }) else {
            return;
        };
        let Some(slot) = p.enter("extism_plugin_free") else {
            return;
        };
        drop(slot);
        // SAFETY: made by `Box::into_raw` in `instantiate`, per the contract.
        drop(unsafe { Box::from_raw(plugin) });
    })
}

/// The plug-in's 16-byte id (a UUIDv4); NULL for a NULL plug-in.
///
/// # Safety
///
/// `plugin` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_id(plugin: *mut ExtismPlugin) -> *const u8 {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract.
        unsafe { ExtismPlugin::get(plugin) }.map_or(std::ptr::null(), |p| p.id.as_ptr())
    })
}

/// The plug-in's cancel handle; NULL for a NULL plug-in.
///
/// # Safety
///
/// `plugin` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_cancel_handle(
    plugin: *const ExtismPlugin,
) -> *const ExtismCancelHandle {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract.
        unsafe { ExtismPlugin::get(plugin) }.map_or(std::ptr::null(), |p| &raw const p.cancel)
    })
}

/// Merges a JSON object of strings (a `null` value removes its key) into the config; false
/// when the JSON is not such an object or the plug-in has no instance, with the reason in
/// `extism_plugin_error` (as the official libextism).
///
/// # Safety
///
/// `plugin` is NULL or live; `json` holds `json_size` bytes (or is NULL for 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_config(
    plugin: *mut ExtismPlugin,
    json: *const u8,
    json_size: u64,
) -> bool {
    guard(false, || {
        // SAFETY: per the contract.
        let (Some(p), Ok(json)) = (unsafe { ExtismPlugin::get(plugin) }, unsafe {
            bytes_arg(json, json_size, "the config")
        }) else {
            return false;
        };
        let Some(mut slot) = p.enter("extism_plugin_config") else {
            return false;
        };
        slot.error = None;
        let updated =
            serde_json::from_slice::<std::collections::BTreeMap<String, Option<String>>>(json)
                .map_err(|e| e.to_string())
                .and_then(|entries| {
                    slot.plugin
                        .update_config(entries)
                        .map_err(|e| e.to_string())
                });
        match updated {
            Ok(()) => true,
            Err(message) => {
                slot.error = Some(crate::ffi::c_string(&message));
                false
            }
        }
    })
}

/// Whether the plug-in exports a callable function `func_name`.
///
/// # Safety
///
/// `plugin` is NULL or live; `func_name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_function_exists(
    plugin: *mut ExtismPlugin,
    func_name: *const c_char,
) -> bool {
    guard(false, || {
        // SAFETY: per the contract.
        let (Some(p), Ok(name)) = (unsafe { ExtismPlugin::get(plugin) }, unsafe {
            str_arg(func_name, "the function name")
        }) else {
            return false;
        };
        p.enter("extism_plugin_function_exists")
            .is_some_and(|slot| slot.plugin.function_exists(name))
    })
}

/// Lets the plug-in's `http_request` calls see response headers.
///
/// # Safety
///
/// `plugin` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_allow_http_response_headers(plugin: *mut ExtismPlugin) {
    guard((), || {
        // SAFETY: per the contract.
        if let Some(p) = unsafe { ExtismPlugin::get(plugin) }
            && let Some(mut slot) = p.enter("extism_plugin_allow_http_response_headers")
        {
            let _ = slot.plugin.allow_http_response_headers();
        }
    })
}

/// Frees every block of the plug-in's kernel memory.
///
/// # Safety
///
/// `plugin` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_reset(plugin: *mut ExtismPlugin) -> bool {
    guard(false, || {
        // SAFETY: per the contract.
        let Some(p) = (unsafe { ExtismPlugin::get(plugin) }) else {
            return false;
        };
        let Some(mut slot) = p.enter("extism_plugin_reset") else {
            return false;
        };
        let slot = &mut *slot;
        slot.output = (0, 0);
        match slot.plugin.reset() {
            Ok(()) => true,
            Err(e) => {
                slot.error = Some(crate::ffi::c_string(&e.to_string()));
                false
            }
        }
    })
}
