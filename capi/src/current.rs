//! What a C host function can do with the plug-in that called it: reach its kernel memory,
//! allocate and free blocks there, and read the call's host context.

use std::ffi::c_void;

use crate::ffi::guard;
use crate::function::ExtismCurrentPlugin;

/// The host context a call was given, as C passed it.
pub(crate) struct HostContext(pub(crate) *mut c_void);

// SAFETY: the pointer is the C caller's; as with libextism, the caller vouches for its use
// from the thread the call runs on.
unsafe impl Send for HostContext {}

/// The start of the running plug-in's kernel memory; NULL for a NULL plug-in.
///
/// # Safety
///
/// `plugin` is NULL or the pointer a running host function received.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_current_plugin_memory(plugin: *mut ExtismCurrentPlugin) -> *mut u8 {
    guard(std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        match unsafe { ExtismCurrentPlugin::get(plugin) } {
            Some(plugin) => plugin.kernel_memory().as_mut_ptr(),
            None => std::ptr::null_mut(),
        }
    })
}

/// Allocates an `n`-byte block; 0 when kernel memory has no room (or for `n` 0).
///
/// # Safety
///
/// As [`extism_current_plugin_memory`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_current_plugin_memory_alloc(
    plugin: *mut ExtismCurrentPlugin,
    n: u64,
) -> u64 {
    guard(0, || {
        // SAFETY: per the contract.
        let Some(plugin) = (unsafe { ExtismCurrentPlugin::get(plugin) }) else {
            return 0;
        };
        plugin.memory_alloc(n).map_or(0, |h| h.offset())
    })
}

/// The length of the block at `n`; 0 when none starts there.
///
/// # Safety
///
/// As [`extism_current_plugin_memory`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_current_plugin_memory_length(
    plugin: *mut ExtismCurrentPlugin,
    n: u64,
) -> u64 {
    guard(0, || {
        // SAFETY: per the contract.
        let Some(plugin) = (unsafe { ExtismCurrentPlugin::get(plugin) }) else {
            return 0;
        };
        plugin.memory_length(n).unwrap_or(0)
    })
}

/// Frees the block at `ptr`; anything else is ignored.
///
/// # Safety
///
/// As [`extism_current_plugin_memory`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_current_plugin_memory_free(
    plugin: *mut ExtismCurrentPlugin,
    ptr: u64,
) {
    guard((), || {
        // SAFETY: per the contract.
        if let Some(plugin) = unsafe { ExtismCurrentPlugin::get(plugin) }
            && let Some(handle) = plugin.memory_handle(ptr)
        {
            let _ = plugin.memory_free(handle);
        }
    })
}

/// The host context given to `extism_plugin_call_with_host_context`, or NULL.
///
/// # Safety
///
/// As [`extism_current_plugin_memory`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_current_plugin_host_context(
    plugin: *mut ExtismCurrentPlugin,
) -> *mut c_void {
    guard(std::ptr::null_mut(), || {
        // SAFETY: per the contract.
        unsafe { ExtismCurrentPlugin::get(plugin) }
            .and_then(|plugin| plugin.host_context::<HostContext>().ok().map(|c| c.0))
            .unwrap_or(std::ptr::null_mut())
    })
}
