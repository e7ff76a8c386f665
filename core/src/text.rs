//! WebAssembly text wherever Wasm bytes are accepted, as the official runtime accepts it
//! (wasmtime's `Module::new` assembles text; here core does it once for every engine).
//!
//! Behind the `wat` cargo feature (on by default); a build without it takes binary modules
//! only.

use std::borrow::Cow;

use crate::Error;

/// Whether `bytes` look like WebAssembly text rather than a binary module or a manifest: the
/// first thing after white space is `(` or a `;;` comment.
pub(crate) fn is_text(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| &bytes[i..]);
    start.starts_with(b"(") || start.starts_with(b";;")
}

/// The binary module of `bytes`: binary modules as they are, text assembled. Anything else is
/// left for the engine to reject. `module` names the module in errors.
///
/// # Errors
///
/// [`Error::Compile`] when text does not assemble, or when this build leaves out the `wat`
/// feature.
pub(crate) fn assemble<'a>(module: &str, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, Error> {
    if bytes.starts_with(b"\0asm") || !is_text(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    #[cfg(feature = "wat")]
    {
        wat::parse_bytes(bytes).map_err(|e| Error::Compile {
            module: module.into(),
            message: format!("invalid WebAssembly text: {e}"),
        })
    }
    #[cfg(not(feature = "wat"))]
    Err(Error::Compile {
        module: module.into(),
        message: "WebAssembly text needs the `wat` feature, which this build leaves out".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_told_from_binaries_and_manifests() {
        assert!(is_text(b"  (module)"));
        assert!(is_text(b";; a comment\n(module)"));
        assert!(!is_text(b"\0asm\x01\0\0\0"));
        assert!(!is_text(b"{\"wasm\": []}"));
        assert!(!is_text(b"[[wasm]]\npath = \"a.wasm\""));
        assert!(!is_text(b""));
    }

    #[cfg(feature = "wat")]
    #[test]
    fn text_assembles_and_bad_text_names_the_module() {
        let wasm = assemble("main", b"(module (func (export \"f\")))").unwrap();
        assert!(wasm.starts_with(b"\0asm"));
        let err = assemble("lib", b"(module (func (export \"f\") (i32.bogus)))").unwrap_err();
        assert!(
            matches!(&err, Error::Compile { module, .. } if module == "lib"),
            "{err}"
        );
        assert!(
            err.to_string().contains("invalid WebAssembly text"),
            "{err}"
        );
    }
}
