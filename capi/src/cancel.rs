//! Cancelling a running call from another thread.

use xtism::CancelHandle;

use crate::ffi::guard;

/// `ExtismCancelHandle`: lives inside its plug-in, so the pointer is valid as long as the
/// plug-in.
pub struct ExtismCancelHandle(pub(crate) CancelHandle);

/// Stops the plug-in's running call, which then fails (return code 134); a cancel while no
/// call runs does nothing. False for NULL or on an engine that cannot cancel.
///
/// # Safety
///
/// `handle` is NULL or came from `extism_plugin_cancel_handle` of a plug-in not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_cancel(handle: *const ExtismCancelHandle) -> bool {
    guard(false, || {
        // SAFETY: per the contract.
        match unsafe { handle.as_ref() } {
            Some(ExtismCancelHandle(handle)) => handle.cancel().is_ok(),
            None => false,
        }
    })
}
