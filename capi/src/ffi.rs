//! What every entry point shares: catching unwinds at the boundary, reading C arguments
//! without trusting them, and handing error messages to C.

use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, returning `fallback` if it panics: no unwind crosses into C.
pub(crate) fn guard<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// The UTF-8 string at `ptr`; `what` names the argument in the error.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, String> {
    if ptr.is_null() {
        return Err(format!("{what} is NULL"));
    }
    // SAFETY: not NULL, and NUL-terminated by the caller's contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|_| format!("{what} is not UTF-8"))
}

/// The `len` bytes at `ptr`; NULL is accepted for an empty buffer.
///
/// # Safety
///
/// When `len` is not 0, `ptr` is NULL or points to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn bytes_arg<'a>(
    ptr: *const u8,
    len: u64,
    what: &str,
) -> Result<&'a [u8], String> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(format!("{what} is NULL but its length is {len}"));
    }
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(|| format!("{what} is {len} bytes long, more than memory can hold"))?;
    // SAFETY: not NULL, `len` fits in an isize, and readable by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `message` as a C string; a NUL inside it ends the string there, as C would read it.
pub(crate) fn c_string(message: &str) -> CString {
    let end = message.find('\0').unwrap_or(message.len());
    CString::new(&message[..end]).unwrap_or_default()
}

/// Stores `message` in `*errmsg` (when `errmsg` is not NULL) for the caller to free with
/// `extism_plugin_new_error_free`.
///
/// # Safety
///
/// `errmsg` is NULL or points to a writable `char *`.
unsafe fn set_errmsg(errmsg: *mut *mut c_char, message: &str) {
    if !errmsg.is_null() {
        // SAFETY: writable by the caller's contract.
        unsafe { *errmsg = c_string(message).into_raw() };
    }
}

/// What a constructor returns to C: the object `make` builds, or NULL with the reason in
/// `*errmsg` (a panic included, reported as `panicked`).
///
/// # Safety
///
/// `errmsg` is NULL or points to a writable `char *`.
pub(crate) unsafe fn constructed<T>(
    errmsg: *mut *mut c_char,
    panicked: &str,
    make: impl FnOnce() -> Result<T, String>,
) -> *mut T {
    match guard(Err(panicked.to_owned()), make) {
        Ok(object) => Box::into_raw(Box::new(object)),
        Err(message) => {
            // SAFETY: per the contract.
            unsafe { set_errmsg(errmsg, &message) };
            std::ptr::null_mut()
        }
    }
}

/// Frees a message stored by [`set_errmsg`].
///
/// # Safety
///
/// `err` is NULL or came from [`set_errmsg`] and was not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn extism_plugin_new_error_free(err: *mut c_char) {
    guard((), || {
        if !err.is_null() {
            // SAFETY: made by `CString::into_raw` in `set_errmsg`, per the contract.
            drop(unsafe { CString::from_raw(err) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked() {
        assert_eq!(
            unsafe { str_arg(std::ptr::null(), "name") },
            Err("name is NULL".into())
        );
        let bad = c"\xff";
        assert_eq!(
            unsafe { str_arg(bad.as_ptr(), "name") },
            Err("name is not UTF-8".into())
        );
        assert_eq!(
            unsafe { bytes_arg(std::ptr::null(), 0, "input") },
            Ok(&[][..])
        );
        assert!(unsafe { bytes_arg(std::ptr::null(), 3, "input") }.is_err());
        assert_eq!(c_string("a\0b").as_bytes(), b"a");
    }
}
