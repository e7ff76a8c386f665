//! Faults the fuzzers found (`fuzz/`), each kept as the smallest plug-in that showed it; the
//! reproducers themselves are in `fuzz/regressions/`.

use xtism::{Manifest, Plugin, PluginBuilder, Wasm};

/// The plug-in `wat` on the engine `name`, with the fuzzers' memory cap.
fn plugin(name: &str, wat: &str) -> Result<Plugin, xtism::Error> {
    PluginBuilder::new(Manifest::new([Wasm::data(wat.as_bytes().to_vec())]))
        .with_engine(xtism::engine(name).unwrap())
        .with_memory_max(16)
        .build()
}

/// differential-externref: `externref` (Wasm 2.0's reference types) compiled on wasmi and
/// wasmer but not on wasmtime, built without its `gc` feature ("gc types are disallowed").
/// An `externref` table, global, parameter and result now work on every engine.
#[test]
fn externref_runs_on_every_engine() {
    let wat = r#"(module
      (table $t 2 externref)
      (global $g (mut externref) (ref.null extern))
      (func $id (param externref) (result externref) (local.get 0))
      (func (export "run") (result i32)
        (table.set $t (i32.const 1) (call $id (global.get $g)))
        (global.set $g (table.get $t (i32.const 0)))
        ;; 0 when both are null, as they are.
        (i32.sub (i32.const 2)
          (i32.add (ref.is_null (global.get $g)) (ref.is_null (table.get $t (i32.const 1)))))))"#;
    for name in xtism::ENGINES {
        let mut plugin = plugin(name, wat).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out: Vec<u8> = plugin
            .call("run", "")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(out.is_empty(), "{name}");
    }
}
