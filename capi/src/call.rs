//! Calling a plug-in and reading what the call left: its output, its error and its return
//! code.

use std::ffi::c_char;

use xtism::{Error, XtismError};

use crate::current::HostContext;
use crate::ffi::{bytes_arg, c_string, guard, str_arg};
use crate::plugin::ExtismPlugin;

/// The return code a failed call reports, as libextism's: the plug-in's own code (or WASI
/// exit code), 134 (`EXIT_SIGNALED_SIGABRT`) when the guest was stopped by a trap, a
/// timeout or a cancel, and -1 for anything else. A plug-in error with code 0 (an
/// `error_set` message on a zero return) reports -1, so that 0 always means success.
fn return_code(error: &Error) -> i32 {
    match error.downcast_ref::<XtismError>() {
        Some(XtismError::Plugin { code, .. }) if *code != 0 => *code,
        Some(XtismError::Trap { .. } | XtismError::Timeout(_) | XtismError::Cancelled) => 134,
        _ => -1,
    }
}

/// Calls `func_name`; see [`extism_plugin_call_with_host_context`].
///
/// # Safety
///
/// As [`extism_plugin_call_with_host_context`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_call(
    plugin: *mut ExtismPlugin,
    func_name: *const c_char,
    data: *const u8,
    data_len: u64,
) -> i32 {
    // SAFETY: per the contract.
    unsafe {
        extism_plugin_call_with_host_context(
            plugin,
            func_name,
            data,
            data_len,
            std::ptr::null_mut(),
        )
    }
}

/// Calls `func_name` with `data_len` bytes of input; host functions can read `host_context`
/// during the call. 0 on success, else a return code (see [`return_code`]) and a message for
/// `extism_plugin_error`.
///
/// # Safety
///
/// `plugin` is NULL or live; `func_name` is NULL or a NUL-terminated string; `data` holds
/// `data_len` bytes (or is NULL for 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_call_with_host_context(
    plugin: *mut ExtismPlugin,
    func_name: *const c_char,
    data: *const u8,
    data_len: u64,
    host_context: *mut std::ffi::c_void,
) -> i32 {
    guard(-1, || {
        // SAFETY: per the contract.
        let Some(p) = (unsafe { ExtismPlugin::get(plugin) }) else {
            return -1;
        };
        let Some(mut slot) = p.enter("extism_plugin_call") else {
            return -1;
        };
        let slot = &mut *slot;
        slot.output = (0, 0);
        slot.error = None;
        // SAFETY: per the contract.
        let args = unsafe {
            str_arg(func_name, "the function name")
                .and_then(|name| Ok((name, bytes_arg(data, data_len, "the input")?)))
        };
        let (name, input) = match args {
            Ok(args) => args,
            Err(message) => {
                slot.error = Some(c_string(&message));
                return -1;
            }
        };
        let running = p.running();
        let plugin = &mut slot.plugin;
        let result = guard(
            Err((-1, "xtism panicked during the call".to_owned())),
            || {
                let output: Result<&[u8], Error> = if host_context.is_null() {
                    plugin.call(name, input)
                } else {
                    plugin.call_with_host_context(name, input, HostContext(host_context))
                };
                output
                    .map(|out| (out.as_ptr() as usize, out.len()))
                    .map_err(|e| (return_code(&e), e.to_string()))
            },
        );
        drop(running);
        match result {
            Ok(output) => {
                slot.output = output;
                0
            }
            Err((code, message)) => {
                slot.error = Some(c_string(&message));
                code
            }
        }
    })
}

/// Deprecated name of [`extism_plugin_error`].
///
/// # Safety
///
/// As [`extism_plugin_error`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_error(plugin: *mut ExtismPlugin) -> *const c_char {
    // SAFETY: per the contract.
    unsafe { extism_plugin_error(plugin) }
}

/// The last call's error message, or NULL after a success; valid until the next call.
///
/// # Safety
///
/// `plugin` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_error(plugin: *mut ExtismPlugin) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: per the contract.
        unsafe { ExtismPlugin::get(plugin) }
            .and_then(|p| p.enter("extism_plugin_error"))
            .and_then(|slot| slot.error.as_ref().map(|e| e.as_ptr()))
            .unwrap_or(std::ptr::null())
    })
}

/// The length in bytes of the last call's output.
///
/// # Safety
///
/// `plugin` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_output_length(plugin: *mut ExtismPlugin) -> u64 {
    guard(0, || {
        // SAFETY: per the contract.
        unsafe { ExtismPlugin::get(plugin) }
            .and_then(|p| p.enter("extism_plugin_output_length"))
            .map_or(0, |slot| slot.output.1 as u64)
    })
}

/// The last call's output, valid until the next call; never NULL for a live plug-in (an
/// empty output points to no bytes).
///
/// # Safety
///
/// `plugin` is NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_output_data(plugin: *mut ExtismPlugin) -> *const u8 {
    static EMPTY: [u8; 0] = [];
    guard(std::ptr::null(), || {
        // SAFETY: per the contract.
        let Some(slot) =
            unsafe { ExtismPlugin::get(plugin) }.and_then(|p| p.enter("extism_plugin_output_data"))
        else {
            return std::ptr::null();
        };
        match slot.output {
            (_, 0) => EMPTY.as_ptr(),
            (address, _) => address as *const u8,
        }
    })
}
