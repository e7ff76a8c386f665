;; Main module importing `add` from the manifest module named "math".
(module
  (import "math" "add" (func $add (param i64 i64) (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  ;; Output = input_length + 1000 as a u64.
  (func (export "run") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (call $add (call $input_length) (i64.const 1000)))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0))
)
