//! What the bytes of a module may be: a binary module, or WebAssembly text wherever Wasm
//! bytes are accepted, as the official runtime accepts it (wasmtime's `Module::new`
//! assembles text; here core does it once for every engine). Anything else is refused here,
//! with one clear line, before an engine sees it.
//!
//! Text needs the `wat` cargo feature (on by default); a build without it takes binary
//! modules only.

use std::borrow::Cow;

use crate::XtismError;

/// Whether `bytes` look like WebAssembly text rather than a binary module or a manifest: the
/// first thing after white space is `(` or a `;;` comment.
pub(crate) fn is_text(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| &bytes[i..]);
    start.starts_with(b"(") || start.starts_with(b";;")
}

/// The binary module of `bytes`: a binary module as it is, text assembled. `module` names the
/// module in errors.
///
/// # Errors
///
/// [`XtismError::Compile`] when the bytes are neither a binary module (which starts with `\0asm`)
/// nor WebAssembly text, when text does not assemble, or when this build leaves out the
/// `wat` feature.
pub fn module_bytes<'a>(module: &str, bytes: &'a [u8]) -> Result<Cow<'a, [u8]>, XtismError> {
    let compile_error = |message: String| XtismError::Compile {
        module: module.into(),
        message,
    };
    if bytes.starts_with(b"\0asm") {
        return Ok(Cow::Borrowed(bytes));
    }
    if !is_text(bytes) {
        return Err(compile_error(
            "it is neither a WebAssembly module (binary modules start with \\0asm) nor \
             WebAssembly text"
                .into(),
        ));
    }
    #[cfg(feature = "wat")]
    {
        wat::parse_bytes(bytes).map_err(|e| {
            let e = e.to_string();
            compile_error(format!("invalid WebAssembly text: {}", e.trim()))
        })
    }
    #[cfg(not(feature = "wat"))]
    Err(compile_error(
        "WebAssembly text needs the `wat` feature, which this build leaves out".into(),
    ))
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
        let wasm = module_bytes("main", b"(module (func (export \"f\")))").unwrap();
        assert!(wasm.starts_with(b"\0asm"));
        let err = module_bytes("lib", b"(module (func (export \"f\") (i32.bogus)))").unwrap_err();
        assert!(
            matches!(&err, XtismError::Compile { module, .. } if module == "lib"),
            "{err}"
        );
        assert!(
            err.to_string().contains("invalid WebAssembly text"),
            "{err}"
        );
    }

    #[test]
    fn anything_else_is_one_clear_line() {
        let err = module_bytes("main", b"# A README\n\nNot Wasm.").unwrap_err();
        assert!(
            matches!(&err, XtismError::Compile { module, .. } if module == "main"),
            "{err}"
        );
        assert!(
            err.to_string().contains("neither a WebAssembly module"),
            "{err}"
        );
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
        assert!(module_bytes("main", b"\0asm\x01\0\0\0").is_ok());
    }
}
