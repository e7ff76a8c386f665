;; Host functions that fail in the middle of a call, three guest frames deep, after the
;; guest set its output and an error message: `half_done` allocates a block, then asks
;; for one that cannot exist (`memory_alloc(u64::MAX)`, a MemoryLimit error);
;; `wrong_type` returns an i32 where its signature declares i64 (a Host error). The host
;; function's error is the call's (not the guest's message, not a bare trap), and the
;; next call works.
(module
  (import "extism:host/user" "half_done" (func $half_done (param i64) (result i64)))
  (import "extism:host/user" "wrong_type" (func $wrong_type (result i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  ;; A new block holding $len bytes of this module's memory at $ptr.
  (func $block_from (param $ptr i32) (param $len i64) (result i64)
    (local $h i64) (local $i i64)
    (local.set $h (call $alloc (local.get $len)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $len)))
        (call $store_u8
          (i64.add (local.get $h) (local.get $i))
          (i32.load8_u (i32.add (local.get $ptr) (i32.wrap_i64 (local.get $i)))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (local.get $h))
  (data (i32.const 0) "guest message")

  (func $setup
    (call $output_set (call $block_from (i32.const 0) (i64.const 13)) (i64.const 13))
    (call $error_set (call $block_from (i32.const 0) (i64.const 13))))

  (func $three (param $which i32) (result i64)
    (if (result i64) (local.get $which)
      (then (call $wrong_type))
      (else (call $half_done (call $block_from (i32.const 0) (i64.const 5))))))
  (func $two (param $which i32) (result i64) (call $three (local.get $which)))
  (func $one (param $which i32) (result i64) (call $two (local.get $which)))

  (func (export "attack") (result i32)
    (call $setup)
    (drop (call $one (i32.const 0)))
    (i32.const 0))

  (func (export "wrong_type") (result i32)
    (call $setup)
    (drop (call $one (i32.const 1)))
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
