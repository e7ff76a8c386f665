//! Faults the fuzzers found (`fuzz/`), each kept as the smallest plug-in that showed it; the
//! reproducers themselves are in `fuzz/regressions/`.

use xtism::{ErrorExt, Manifest, Plugin, PluginBuilder, Wasm, XtismError};

/// The plug-in `wat` on the engine `name`, with the fuzzers' memory cap.
fn plugin(name: &str, wat: &str) -> Result<Plugin, xtism::Error> {
    PluginBuilder::new(Manifest::new([Wasm::data(wat.as_bytes().to_vec())]))
        .with_engine(xtism::engine_named(name).unwrap())
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

/// differential-wasmi-select: wasmi 2.0.0 fuses `i32.eqz` of a local into the `select` it
/// feeds and then reads the condition from the wrong register, so this gave 100 on wasmi
/// and 101 elsewhere (and a division guarded this way divided by zero). xtism-wasmi now
/// rewrites the pattern before wasmi compiles it.
#[test]
fn select_on_a_compared_local_agrees_on_every_engine() {
    let wat = r#"(module
      (func (export "run") (result i32) (local i32 i32)
        i32.const 100
        local.get 0
        i32.popcnt
        i32.add
        ;; 1, as local 1 is 0
        (select (i32.const 1) (local.get 1) (i32.eqz (local.get 1)))
        i32.add
        ;; 0 when the sum is 101
        i32.const 101
        i32.ne))"#;
    for name in xtism::ENGINES {
        let mut plugin = plugin(name, wat).unwrap_or_else(|e| panic!("{name}: {e}"));
        let out: Result<Vec<u8>, _> = plugin.call("run", "");
        assert!(out.is_ok(), "{name}: {out:?}");
    }
}

/// differential-wasmi-trap-message: a trap reads the same on every engine, in the spec's
/// words; wasmi 2.0.0 said "uninitialized element 2" for a `call_indirect` to a null entry.
#[test]
fn a_null_call_indirect_traps_in_the_same_words_on_every_engine() {
    let wat = r#"(module
      (type $unit (func))
      (table 1 funcref)
      (func (export "run") (result i32)
        (call_indirect (type $unit) (i32.const 0))
        (i32.const 0)))"#;
    for name in xtism::ENGINES {
        let mut plugin = plugin(name, wat).unwrap_or_else(|e| panic!("{name}: {e}"));
        match plugin
            .call::<&str, Vec<u8>>("run", "")
            .map_err(XtismError::from)
        {
            Err(XtismError::Trap { message, .. }) => {
                assert_eq!(message, "uninitialized element", "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// differential-wasmi-segment-trap: an active data segment past the end of its memory traps
/// the instantiation on every engine; wasmi's backend reported it as a memory limit. The
/// same for an element segment past the end of its table.
#[test]
fn a_segment_out_of_bounds_is_a_trap_on_every_engine() {
    let cases = [
        (
            r#"(module (memory 1) (data (i32.const 65535) "ab")
                 (func (export "run") (result i32) (i32.const 0)))"#,
            "out of bounds memory access",
        ),
        (
            r#"(module (table 1 funcref) (elem (i32.const 1) func $f)
                 (func $f (export "run") (result i32) (i32.const 0)))"#,
            "out of bounds table access",
        ),
    ];
    for (wat, words) in cases {
        for name in xtism::ENGINES {
            let error = match plugin(name, wat) {
                Err(e) => e,
                Ok(mut plugin) => match plugin.call::<&str, Vec<u8>>("run", "") {
                    Err(e) => e,
                    Ok(_) => panic!("{name}: {wat} instantiates"),
                },
            };
            assert_eq!(error.kind(), xtism::ErrorKind::Trap, "{name}: {error}");
            assert!(error.to_string().contains(words), "{name}: {error}");
        }
    }
}
