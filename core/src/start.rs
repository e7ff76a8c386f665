//! Deferring a module's start function to the first call.
//!
//! A Wasm start function runs inside instantiation, where no engine lets the host bound it
//! by a deadline: a plug-in whose start function loops would hang `Plugin::new`, or a call
//! that re-instantiates after `_start`. So core rewrites the main module before compiling
//! it: the start section is dropped and the start function is exported as
//! [`DEFERRED_START`]; core then runs it at the first call, under that call's limits, before
//! the guest runtime's initializer. The guest sees the same order of events.
//!
//! The rewrite only moves sections and export entries (read with wasmparser, written with
//! wasm-encoder); it never decodes code. A module it cannot read is passed through unchanged
//! for the engine to judge.

use wasm_encoder::{ExportKind, ExportSection, RawSection};
use wasmparser::{ExternalKind, Parser, Payload};

/// The export name the start function is given.
pub(crate) const DEFERRED_START: &str = "__xtism_start";

/// `kind` in wasm-encoder's terms.
fn export_kind(kind: ExternalKind) -> ExportKind {
    match kind {
        ExternalKind::Func => ExportKind::Func,
        ExternalKind::Table => ExportKind::Table,
        ExternalKind::Memory => ExportKind::Memory,
        ExternalKind::Global => ExportKind::Global,
        ExternalKind::Tag => ExportKind::Tag,
    }
}

/// The module without its start section and with the start function exported as
/// [`DEFERRED_START`]; `None` when it has no start section (or is not a well-formed module,
/// which the engine will then report).
pub(crate) fn defer_start(wasm: &[u8]) -> Option<Vec<u8>> {
    if !wasm.starts_with(b"\0asm") {
        return None;
    }
    let payloads: Vec<Payload> = Parser::new(0)
        .parse_all(wasm)
        .collect::<Result<_, _>>()
        .ok()?;
    let start = payloads.iter().find_map(|p| match p {
        Payload::StartSection { func, .. } => Some(*func),
        _ => None,
    })?;
    let has_exports = payloads
        .iter()
        .any(|p| matches!(p, Payload::ExportSection(_)));

    let mut module = wasm_encoder::Module::new();
    for payload in &payloads {
        match payload {
            Payload::ExportSection(reader) => {
                let mut exports = ExportSection::new();
                for export in reader.clone() {
                    let export = export.ok()?;
                    exports.export(export.name, export_kind(export.kind), export.index);
                }
                exports.export(DEFERRED_START, ExportKind::Func, start);
                module.section(&exports);
            }
            // The export section comes just before the start section in a module, so a
            // module without exports gets its new one where the start section was.
            Payload::StartSection { .. } if !has_exports => {
                let mut exports = ExportSection::new();
                exports.export(DEFERRED_START, ExportKind::Func, start);
                module.section(&exports);
            }
            Payload::StartSection { .. } => {}
            other => {
                if let Some((id, range)) = other.as_section() {
                    module.section(&RawSection {
                        id,
                        data: wasm.get(range)?,
                    });
                }
            }
        }
    }
    Some(module.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (module (func $s) (func (export "f")) (start $s)) in binary.
    fn with_start_and_export() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type: () -> ()
        m.extend_from_slice(&[3, 3, 2, 0, 0]); // two functions of type 0
        m.extend_from_slice(&[7, 5, 1, 1, b'f', 0, 1]); // export "f" = func 1
        m.extend_from_slice(&[8, 1, 0]); // start = func 0
        m.extend_from_slice(&[10, 7, 2, 2, 0, 0x0b, 2, 0, 0x0b]); // two empty bodies
        m
    }

    #[test]
    fn moves_the_start_function_to_an_export() {
        let out = defer_start(&with_start_and_export()).unwrap();
        let mut expected = b"\0asm\x01\0\0\0".to_vec();
        expected.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        expected.extend_from_slice(&[3, 3, 2, 0, 0]);
        let mut exports = vec![2, 1, b'f', 0, 1, DEFERRED_START.len() as u8];
        exports.extend_from_slice(DEFERRED_START.as_bytes());
        exports.extend_from_slice(&[0, 0]);
        expected.push(7);
        expected.push(exports.len() as u8);
        expected.extend_from_slice(&exports);
        expected.extend_from_slice(&[10, 7, 2, 2, 0, 0x0b, 2, 0, 0x0b]);
        assert_eq!(out, expected);
    }

    #[test]
    fn adds_an_export_section_when_there_is_none() {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[
            1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 8, 1, 0, 10, 4, 1, 2, 0, 0x0b,
        ]);
        let out = defer_start(&m).unwrap();
        assert!(
            !out.windows(3).any(|w| w == [8, 1, 0]),
            "start section gone"
        );
        assert!(
            out.windows(DEFERRED_START.len())
                .any(|w| w == DEFERRED_START.as_bytes())
        );
    }

    #[test]
    fn leaves_other_input_alone() {
        assert_eq!(defer_start(b"\0asm\x01\0\0\0"), None, "no start section");
        assert_eq!(defer_start(b"(module)"), None, "not binary");
        let mut truncated = with_start_and_export();
        truncated.truncate(20);
        assert_eq!(defer_start(&truncated), None);
        let mut bad_len = b"\0asm\x01\0\0\0".to_vec();
        bad_len.extend_from_slice(&[8, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(defer_start(&bad_len), None);
    }

    /// An empty export section before a start section: the count is read from the section,
    /// not from the bytes after it (this module used to panic the host).
    #[test]
    fn an_empty_export_section_is_not_read_past() {
        // 0061736d010000000104016000000302010007000801000a040102000b
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend_from_slice(&[1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 7, 0, 8, 1, 0]);
        module.extend_from_slice(&[10, 4, 1, 2, 0, 0x0b]);
        assert_eq!(defer_start(&module), None);
        let mut empty_start = b"\0asm\x01\0\0\0".to_vec();
        empty_start.extend_from_slice(&[8, 0, 10, 4, 1, 2, 0, 0x0b]);
        assert_eq!(defer_start(&empty_start), None);
    }
}
