//! Deferring a module's start function to the first call.
//!
//! A Wasm start function runs inside instantiation, where no engine lets the host bound it
//! by a deadline: a plug-in whose start function loops would hang `Plugin::new`, or a call
//! that re-instantiates after `_start`. So core rewrites the main module before compiling
//! it: the start section is dropped and the start function is exported as
//! [`DEFERRED_START`]; core then runs it at the first call, under that call's limits, before
//! the guest runtime's initializer. The guest sees the same order of events.
//!
//! The rewrite only moves bytes between sections; it never decodes code. Anything it does
//! not understand is passed through unchanged for the engine to judge.

/// The export name the start function is given.
pub(crate) const DEFERRED_START: &str = "__xtism_start";

/// The magic number and version in front of every binary module.
const HEADER: usize = 8;
const START_SECTION: u8 = 8;
const EXPORT_SECTION: u8 = 7;
const FUNC_EXPORT: u8 = 0;

fn read_leb_u32(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut result: u32 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        result |= u32::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(result);
        }
    }
    None
}

fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn write_section(out: &mut Vec<u8>, id: u8, payload: &[u8]) -> Option<()> {
    out.push(id);
    write_leb_u32(out, u32::try_from(payload.len()).ok()?);
    out.extend_from_slice(payload);
    Some(())
}

/// The sections of a binary module after its 8-byte header, as (id, payload), in order;
/// `None` when the framing is broken. Every read is bounded by the slice it reads from.
fn sections(wasm: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut rest = wasm.get(HEADER..)?;
    let mut sections = Vec::new();
    while let Some((&id, tail)) = rest.split_first() {
        let mut pos = 0;
        let len = usize::try_from(read_leb_u32(tail, &mut pos)?).ok()?;
        let end = pos.checked_add(len)?;
        sections.push((id, tail.get(pos..end)?));
        rest = tail.get(end..)?;
    }
    Some(sections)
}

/// The module without its start section and with the start function exported as
/// [`DEFERRED_START`]; `None` when it has no start section (or is not a well-formed module,
/// which the engine will then report).
pub(crate) fn defer_start(wasm: &[u8]) -> Option<Vec<u8>> {
    if !wasm.starts_with(b"\0asm") {
        return None;
    }
    let sections = sections(wasm)?;
    let (_, start) = sections.iter().find(|(id, _)| *id == START_SECTION)?;
    let start_func = read_leb_u32(start, &mut 0)?;

    let mut entry = Vec::new();
    write_leb_u32(&mut entry, DEFERRED_START.len() as u32);
    entry.extend_from_slice(DEFERRED_START.as_bytes());
    entry.push(FUNC_EXPORT);
    write_leb_u32(&mut entry, start_func);

    let has_exports = sections.iter().any(|(id, _)| *id == EXPORT_SECTION);
    let mut out = Vec::with_capacity(wasm.len() + entry.len() + 8);
    out.extend_from_slice(wasm.get(..HEADER)?);
    for (id, payload) in &sections {
        match *id {
            EXPORT_SECTION => {
                let mut p = 0;
                let count = read_leb_u32(payload, &mut p)?;
                let mut exports = Vec::with_capacity(payload.len() + entry.len() + 4);
                write_leb_u32(&mut exports, count.checked_add(1)?);
                exports.extend_from_slice(payload.get(p..)?);
                exports.extend_from_slice(&entry);
                write_section(&mut out, EXPORT_SECTION, &exports)?;
            }
            // The export section comes just before the start section in a module, so a
            // module without exports gets its new one where the start section was.
            START_SECTION if !has_exports => {
                let mut exports = vec![1];
                exports.extend_from_slice(&entry);
                write_section(&mut out, EXPORT_SECTION, &exports)?;
            }
            START_SECTION => {}
            _ => write_section(&mut out, *id, payload)?,
        }
    }
    Some(out)
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
