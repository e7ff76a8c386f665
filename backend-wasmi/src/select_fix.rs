//! A workaround for a miscompilation in wasmi 2.0.0 (the newest release): `select` whose
//! condition is an `i32.eqz` (or `i32.eq`/`i32.ne` with 0) of a value in a slot, such as a
//! local, reads its condition from the wrong place.
//!
//! wasmi's translator fuses the comparison into the `select` (dropping the comparison and
//! swapping the operands for `eqz`), and then reads the condition from its accumulator
//! register, where only the register form of the comparison had left it; the slot form
//! (`I32Eq_Rsi`) had not. The `select` then decides on whatever the accumulator holds (an
//! earlier result), so `100 + (local == 0 ? 1 : local)` with a zero local gives 100, not 101,
//! and a division guarded this way can divide by zero. wasmtime and wasmer give the right
//! answer; the differential fuzzer found it (`fuzz/regressions/differential-wasmi-select`).
//!
//! The rewrite puts an `i32.popcnt` between such a comparison and its `select`: the value
//! is 0 exactly when the comparison's is, so the `select` means the same, and the
//! comparison is no longer the instruction before the `select`, so wasmi does not fuse
//! them. Only function bodies change, by one byte per such `select`; a module that does not
//! parse is left for wasmi to report.

use wasmparser::{BinaryReader, CodeSectionReader, Operator};

const HEADER: usize = 8;
const CODE_SECTION: u8 = 10;
const I32_POPCNT: u8 = 0x69;

fn read_leb(bytes: &[u8], pos: &mut usize) -> Option<usize> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return usize::try_from(value).ok();
        }
    }
    None
}

fn write_leb(out: &mut Vec<u8>, value: usize) {
    let mut value = value as u64;
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

/// The byte range of the code section (its id byte to its end) and of its payload.
fn code_section(wasm: &[u8]) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let mut pos = HEADER;
    while pos < wasm.len() {
        let start = pos;
        let id = wasm[pos];
        pos += 1;
        let len = read_leb(wasm, &mut pos)?;
        let end = pos.checked_add(len).filter(|&end| end <= wasm.len())?;
        if id == CODE_SECTION {
            return Some((start..end, pos..end));
        }
        pos = end;
    }
    None
}

/// The offsets (in the module) where an `i32.popcnt` goes: each `select` that directly
/// follows a comparison wasmi would fuse into it.
fn insertions(body: &wasmparser::FunctionBody) -> wasmparser::Result<Vec<usize>> {
    let mut at = Vec::new();
    let mut fusable = false;
    for op in body.get_operators_reader()?.into_iter_with_offsets() {
        let (op, offset) = op?;
        if fusable && matches!(op, Operator::Select | Operator::TypedSelect { .. }) {
            at.push(offset);
        }
        fusable = matches!(op, Operator::I32Eqz | Operator::I32Eq | Operator::I32Ne);
    }
    Ok(at)
}

/// The module with every fusable `select` unfused; `None` when there is none (or the module
/// does not parse, for wasmi to report).
pub(crate) fn unfuse_selects(wasm: &[u8]) -> Option<Vec<u8>> {
    if !wasm.starts_with(b"\0asm") {
        return None;
    }
    let (section, payload) = code_section(wasm)?;
    let reader =
        CodeSectionReader::new(BinaryReader::new(&wasm[payload.clone()], payload.start)).ok()?;
    let mut bodies = Vec::new();
    let mut changed = false;
    for body in reader {
        let body = body.ok()?;
        let range = body.range();
        let at = insertions(&body).ok()?;
        changed |= !at.is_empty();
        let mut bytes = Vec::with_capacity(range.len() + at.len());
        let mut from = range.start;
        for offset in at {
            bytes.extend_from_slice(wasm.get(from..offset)?);
            bytes.push(I32_POPCNT);
            from = offset;
        }
        bytes.extend_from_slice(wasm.get(from..range.end)?);
        bodies.push(bytes);
    }
    if !changed {
        return None;
    }
    let mut code = Vec::new();
    write_leb(&mut code, bodies.len());
    for body in &bodies {
        write_leb(&mut code, body.len());
        code.extend_from_slice(body);
    }
    let mut out = Vec::with_capacity(wasm.len() + code.len() - payload.len() + 8);
    out.extend_from_slice(&wasm[..section.start]);
    out.push(CODE_SECTION);
    write_leb(&mut out, code.len());
    out.extend_from_slice(&code);
    out.extend_from_slice(&wasm[section.end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(wasm: &[u8]) -> i32 {
        let engine = wasmi::Engine::default();
        let module = wasmi::Module::new(&engine, wasm).unwrap();
        let mut store = wasmi::Store::new(&engine, ());
        let instance = wasmi::Instance::new(&mut store, &module, &[]).unwrap();
        let f = instance.get_typed_func::<(), i32>(&store, "f").unwrap();
        f.call(&mut store, ()).unwrap()
    }

    /// `100 + (l1 == 0 ? 1 : l1)` with l1 = 0 is 101; wasmi 2.0.0 alone says 100.
    const FUSED: &str = r#"(module
      (func (export "f") (result i32) (local i32 i32)
        (i32.add (i32.popcnt (local.get 0)) (i32.const 100))
        (select (i32.const 1) (local.get 1) (i32.eqz (local.get 1)))
        i32.add))"#;

    #[test]
    fn the_rewrite_gives_the_right_answer() {
        let wasm = wat::parse_str(FUSED).unwrap();
        assert_eq!(
            run(&wasm),
            100,
            "wasmi no longer miscompiles this: the workaround can go when the pin moves"
        );
        let fixed = unfuse_selects(&wasm).expect("a select to unfuse");
        assert_eq!(fixed.len(), wasm.len() + 1);
        assert_eq!(run(&fixed), 101);
    }

    #[test]
    fn other_modules_are_left_alone() {
        let plain = wat::parse_str(
            r#"(module (func (export "f") (result i32)
                 (select (i32.const 1) (i32.const 2) (i32.const 0))))"#,
        )
        .unwrap();
        assert_eq!(unfuse_selects(&plain), None);
        assert_eq!(
            unfuse_selects(b"\0asm\x01\0\0\0\x0a\x05"),
            None,
            "truncated"
        );
        assert_eq!(unfuse_selects(b"(module)"), None, "text");
    }
}
