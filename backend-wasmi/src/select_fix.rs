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
//! them. Only function bodies change, by one byte per such `select` (read with wasmparser,
//! written with wasm-encoder); a module that does not parse is left for wasmi to report.

use wasm_encoder::{CodeSection, RawSection};
use wasmparser::{FunctionBody, Operator, Parser, Payload};

const I32_POPCNT: u8 = 0x69;

/// The offsets (in the module) where an `i32.popcnt` goes: each `select` that directly
/// follows a comparison wasmi would fuse into it.
fn insertions(body: &FunctionBody) -> wasmparser::Result<Vec<usize>> {
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

/// The body of `body` (its locals and code, without the size in front) with an
/// `i32.popcnt` at each offset of `at`.
fn patched(wasm: &[u8], body: &FunctionBody, at: &[usize]) -> Option<Vec<u8>> {
    let range = body.range();
    let mut bytes = Vec::with_capacity(range.len() + at.len());
    let mut from = range.start;
    for &offset in at {
        bytes.extend_from_slice(wasm.get(from..offset)?);
        bytes.push(I32_POPCNT);
        from = offset;
    }
    bytes.extend_from_slice(wasm.get(from..range.end)?);
    Some(bytes)
}

/// The module with every fusable `select` unfused; `None` when there is none (or the module
/// does not parse, for wasmi to report).
pub(crate) fn unfuse_selects(wasm: &[u8]) -> Option<Vec<u8>> {
    if !wasm.starts_with(b"\0asm") {
        return None;
    }
    let mut module = wasm_encoder::Module::new();
    let mut code = CodeSection::new();
    let mut remaining = 0;
    let mut changed = false;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.ok()? {
            Payload::CodeSectionStart { count, .. } => remaining = count,
            Payload::CodeSectionEntry(body) => {
                let at = insertions(&body).ok()?;
                changed |= !at.is_empty();
                code.raw(&patched(wasm, &body, &at)?);
                remaining = remaining.saturating_sub(1);
                if remaining == 0 {
                    module.section(&code);
                }
            }
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
    changed.then(|| module.finish())
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
