//! Logging through the C API: to a file or stream (`extism_log_file`), or into a buffer the
//! host drains (`extism_log_custom`, `extism_log_drain`), on core's log subscriber.

use std::collections::VecDeque;
use std::ffi::{CString, c_char};
use std::sync::{Mutex, PoisonError};

use crate::ffi::{c_string, guard, str_arg};

/// `ExtismLogDrainFunctionType`.
pub type ExtismLogDrainFunctionType = unsafe extern "C" fn(data: *const c_char, size: u64);

/// Lines logged since the last drain, each ending in a newline as libextism's do.
static BUFFER: Mutex<VecDeque<CString>> = Mutex::new(VecDeque::new());

/// The filter for `level`: NULL means `error`; a bare level applies to Extism's own logs
/// (plug-in logs included) only, as in libextism, which core's `set_log_file` and
/// `set_log_callback` see to; anything else is a full filter.
///
/// # Safety
///
/// `level` is NULL or a NUL-terminated string.
unsafe fn filter<'a>(level: *const c_char) -> Option<&'a str> {
    if level.is_null() {
        return Some("error");
    }
    // SAFETY: per the contract.
    unsafe { str_arg(level, "the log level") }.ok()
}

/// Sends logs to `filename` (`stdout`, `stderr`, or a file appended to; NULL: `stderr`).
/// Once per process.
///
/// # Safety
///
/// `filename` and `log_level` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_log_file(
    filename: *const c_char,
    log_level: *const c_char,
) -> bool {
    guard(false, || {
        // SAFETY: per the contract.
        let (file, filter) = unsafe {
            let file = if filename.is_null() {
                Ok("stderr")
            } else {
                str_arg(filename, "the log file")
            };
            (file, filter(log_level))
        };
        let (Ok(file), Some(filter)) = (file, filter) else {
            return false;
        };
        xtism::set_log_file(file, filter).is_ok()
    })
}

/// Buffers log lines until [`extism_log_drain`]. Once per process.
///
/// # Safety
///
/// `log_level` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_log_custom(log_level: *const c_char) -> bool {
    guard(false, || {
        // SAFETY: per the contract.
        let Some(filter) = (unsafe { filter(log_level) }) else {
            return false;
        };
        xtism::set_log_callback(
            |line| {
                let line = c_string(&format!("{line}\n"));
                BUFFER
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_back(line);
            },
            filter,
        )
        .is_ok()
    })
}

/// Hands each buffered line (NUL-terminated; `size` bytes without the NUL) to `handler`,
/// oldest first, and empties the buffer. A NULL handler leaves the buffer as it is.
///
/// # Safety
///
/// `handler` is NULL or callable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_log_drain(handler: Option<ExtismLogDrainFunctionType>) {
    guard((), || {
        let Some(handler) = handler else {
            return;
        };
        // Taken out first, so a handler that logs does not wait on the buffer.
        let lines = std::mem::take(&mut *BUFFER.lock().unwrap_or_else(PoisonError::into_inner));
        for line in lines {
            // SAFETY: the line lives through the call; the handler is the caller's.
            unsafe { handler(line.as_ptr(), line.as_bytes().len() as u64) };
        }
    })
}
