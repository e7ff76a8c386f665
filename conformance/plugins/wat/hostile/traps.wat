;; The other Wasm traps, one export each: a load past this module's own memory, an
;; integer division by zero, a signed division that overflows, a float-to-int conversion
;; of NaN, a `call_indirect` of a null entry and one of the wrong type. Each must end in a
;; Trap worded as in the spec tests, the same on every engine; the next call works.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (type $void (func))
  (table 2 funcref)
  (elem (i32.const 1) $takes_i32)
  (func $takes_i32 (param i32))

  (func (export "out_of_bounds") (result i32)
    (drop (i64.load (i32.const 65530)))
    (i32.const 0))

  (func (export "divide_by_zero") (result i32)
    (drop (i32.div_u (i32.const 1) (call $zero)))
    (i32.const 0))

  (func (export "overflow") (result i32)
    (drop (i32.div_s (i32.const 0x80000000) (i32.sub (call $zero) (i32.const 1))))
    (i32.const 0))

  (func (export "bad_conversion") (result i32)
    (drop (i32.trunc_f32_s (f32.div (f32.const 0) (f32.convert_i32_s (call $zero)))))
    (i32.const 0))

  (func (export "null_entry") (result i32)
    (call_indirect (type $void) (call $zero))
    (i32.const 0))

  (func (export "wrong_type") (result i32)
    (call_indirect (type $void) (i32.const 1))
    (i32.const 0))

  ;; 0, opaque to constant folding: the input length of an empty input.
  (func $zero (result i32) (i32.wrap_i64 (call $input_length)))

  ;; The ordinary call: outputs its input.
  (func (export "echo") (result i32)
    (local $len i64) (local $block i64) (local $i i64)
    (local.set $len (call $input_length))
    (local.set $block (call $alloc (local.get $len)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $len)))
        (call $store_u8
          (i64.add (local.get $block) (local.get $i))
          (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (call $output_set (local.get $block) (local.get $len))
    (i32.const 0)))
