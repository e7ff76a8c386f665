;; Makes the host copy as much as it can while costing little fuel: `attack` sets a var of
;; 4 MiB (`with_var_max(8 MiB)`), then reads it back forever, each `var_get` copying 4 MiB
;; into a new block that is freed again. It runs under the hostile timeout of 250 ms and
;; must stop at it (wasmi counts fuel, not bytes copied by the host, between its checks).
(module
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  ;; A new block holding the key "k".
  (func $key (result i64)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (i32.const 107))
    (local.get $h))

  (func (export "attack") (result i32)
    ;; The value's bytes are whatever the new block holds: the host copies them all.
    (call $var_set (call $key) (call $alloc (i64.const 0x400000)))
    (loop $forever
      (call $free (call $var_get (call $key)))
      (br $forever))
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
