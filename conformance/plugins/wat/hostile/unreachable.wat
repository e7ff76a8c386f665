;; `unreachable`: at once (`attack`), and 64 frames deep after the call has allocated
;; blocks and set its output (`deep`). Each must end in a Trap whose message says
;; `unreachable`, with no output; the next call works.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  (func $dive (param $depth i32)
    (if (i32.eqz (local.get $depth)) (then unreachable))
    (drop (call $alloc (i64.const 100)))
    (call $dive (i32.sub (local.get $depth) (i32.const 1))))

  (func (export "attack") (result i32)
    unreachable)

  (func (export "deep") (result i32)
    (call $output_set (call $alloc (i64.const 8)) (i64.const 8))
    (call $dive (i32.const 64))
    (i32.const 0))

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
