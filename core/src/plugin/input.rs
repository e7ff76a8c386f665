//! What a plug-in is made from ([`WasmInput`]): Wasm bytes, WebAssembly text, or a manifest
//! as a value or as JSON or TOML bytes, and how each becomes a manifest.

use std::borrow::Cow;

use xtism_manifest::Manifest;

use super::MAIN_MODULE;
use crate::error::XtismError;

/// What a plug-in is made from: Wasm bytes, or a manifest (as a value or as JSON/TOML bytes).
#[derive(Debug, Clone)]
pub enum WasmInput<'a> {
    /// Wasm bytes, or the bytes of a JSON or TOML manifest.
    Data(Cow<'a, [u8]>),
    /// A manifest.
    Manifest(Cow<'a, Manifest>),
}

impl<'a> From<&'a [u8]> for WasmInput<'a> {
    fn from(data: &'a [u8]) -> Self {
        WasmInput::Data(Cow::Borrowed(data))
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for WasmInput<'a> {
    fn from(data: &'a [u8; N]) -> Self {
        WasmInput::Data(Cow::Borrowed(&data[..]))
    }
}

impl<'a> From<&'a Vec<u8>> for WasmInput<'a> {
    fn from(data: &'a Vec<u8>) -> Self {
        WasmInput::Data(Cow::Borrowed(data))
    }
}

impl From<Vec<u8>> for WasmInput<'_> {
    fn from(data: Vec<u8>) -> Self {
        WasmInput::Data(Cow::Owned(data))
    }
}

impl From<Manifest> for WasmInput<'_> {
    fn from(manifest: Manifest) -> Self {
        WasmInput::Manifest(Cow::Owned(manifest))
    }
}

impl<'a> From<&'a Manifest> for WasmInput<'a> {
    fn from(manifest: &'a Manifest) -> Self {
        WasmInput::Manifest(Cow::Borrowed(manifest))
    }
}

impl WasmInput<'_> {
    /// The manifest this input describes (a lone Wasm module becomes a one-module manifest).
    pub(super) fn into_manifest(self) -> Result<Manifest, XtismError> {
        match self {
            WasmInput::Manifest(m) => Ok(m.into_owned()),
            WasmInput::Data(data)
                if data.starts_with(b"\0asm") || crate::module_bytes::is_text(&data) =>
            {
                Ok(Manifest::new([xtism_manifest::Wasm::data(
                    data.into_owned(),
                )]))
            }
            WasmInput::Data(data) => {
                let neither = |detail: String| XtismError::Compile {
                    module: MAIN_MODULE.into(),
                    message: format!(
                        "the input is neither a Wasm module (binary modules start with \\0asm), \
                         WebAssembly text, nor a JSON or TOML manifest{detail}"
                    ),
                };
                if data.iter().all(u8::is_ascii_whitespace) {
                    return Err(neither(": it is empty".into()));
                }
                let text = std::str::from_utf8(&data)
                    .map_err(|e| neither(format!(": it is not UTF-8 text ({e})")))?;
                if text.trim_start().starts_with('{') {
                    Ok(Manifest::from_json(text)?)
                } else {
                    Manifest::from_toml(text).map_err(|e| neither(format!(" (read as TOML: {e})")))
                }
            }
        }
    }
}
