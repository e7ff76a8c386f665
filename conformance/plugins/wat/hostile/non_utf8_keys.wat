;; Keys that are not UTF-8: `var_get` with a lone 0xFF byte, `var_set` with an encoded
;; UTF-16 surrogate (ED A0 80), `config_get` with a truncated sequence (E2 82), and
;; `var_set_overlong` with an overlong NUL (C0 80). Each is a Guest error naming the import
;; and saying the block is not valid UTF-8; no var is set and no lookup is made.
(module
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
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
  (data (i32.const 0) "\ff")
  (data (i32.const 8) "k\ed\a0\80")
  (data (i32.const 16) "\e2\82")
  (data (i32.const 24) "a\c0\80")
  (data (i32.const 32) "value")

  (func (export "var_get") (result i32)
    (drop (call $var_get (call $block_from (i32.const 0) (i64.const 1))))
    (i32.const 0))

  (func (export "var_set") (result i32)
    (call $var_set
      (call $block_from (i32.const 8) (i64.const 4))
      (call $block_from (i32.const 32) (i64.const 5)))
    (i32.const 0))

  (func (export "config_get") (result i32)
    (drop (call $config_get (call $block_from (i32.const 16) (i64.const 2))))
    (i32.const 0))

  (func (export "var_set_overlong") (result i32)
    (call $var_set
      (call $block_from (i32.const 24) (i64.const 3))
      (call $block_from (i32.const 32) (i64.const 5)))
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
