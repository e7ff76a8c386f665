;; `config_get` handed keys that name no block: a bogus offset, a freed block (it held the
;; name of a config key that is set), an offset inside a block, -1. Each is a Guest error
;; naming `config_get` and the offset, never a lookup of whatever bytes lie there.
(module
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
  (data (i32.const 0) "greeting")

  (func (export "bogus") (result i32)
    (drop (call $config_get (i64.const 123456)))
    (i32.const 0))

  (func (export "freed") (result i32)
    (local $key i64)
    (local.set $key (call $block_from (i32.const 0) (i64.const 8)))
    (call $free (local.get $key))
    (drop (call $config_get (local.get $key)))
    (i32.const 0))

  (func (export "inside") (result i32)
    (drop (call $config_get (i64.add (call $block_from (i32.const 0) (i64.const 8)) (i64.const 1))))
    (i32.const 0))

  (func (export "max") (result i32)
    (drop (call $config_get (i64.const -1)))
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
