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

/// The module without its start section and with the start function exported as
/// [`DEFERRED_START`]; `None` when it has no start section (or is not a well-formed module,
/// which the engine will then report).
pub(crate) fn defer_start(wasm: &[u8]) -> Option<Vec<u8>> {
    const HEADER: usize = 8;
    if wasm.len() < HEADER || &wasm[..4] != b"\0asm" {
        return None;
    }
    // (id, payload range) of every section.
    let mut sections = Vec::new();
    let mut pos = HEADER;
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let len = read_leb_u32(wasm, &mut pos)? as usize;
        let end = pos.checked_add(len).filter(|&e| e <= wasm.len())?;
        sections.push((id, pos..end));
        pos = end;
    }
    let (_, start_range) = sections.iter().find(|(id, _)| *id == START_SECTION)?;
    let mut p = start_range.start;
    let start_func = read_leb_u32(wasm, &mut p)?;

    let mut entry = Vec::new();
    write_leb_u32(&mut entry, DEFERRED_START.len() as u32);
    entry.extend_from_slice(DEFERRED_START.as_bytes());
    entry.push(FUNC_EXPORT);
    write_leb_u32(&mut entry, start_func);

    let has_exports = sections.iter().any(|(id, _)| *id == EXPORT_SECTION);
    let mut out = Vec::with_capacity(wasm.len() + entry.len() + 8);
    out.extend_from_slice(&wasm[..HEADER]);
    for (id, range) in &sections {
        match *id {
            EXPORT_SECTION => {
                let mut p = range.start;
                let count = read_leb_u32(wasm, &mut p)?;
                let mut payload = Vec::with_capacity(range.len() + entry.len() + 4);
                write_leb_u32(&mut payload, count.checked_add(1)?);
                payload.extend_from_slice(&wasm[p..range.end]);
                payload.extend_from_slice(&entry);
                write_section(&mut out, EXPORT_SECTION, &payload)?;
            }
            // The export section comes just before the start section in a module, so a
            // module without exports gets its new one where the start section was.
            START_SECTION if !has_exports => {
                let mut payload = vec![1];
                payload.extend_from_slice(&entry);
                write_section(&mut out, EXPORT_SECTION, &payload)?;
            }
            START_SECTION => {}
            _ => write_section(&mut out, *id, &wasm[range.clone()])?,
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
}
