;; A WASI-style module with both initializers: `__wasm_call_ctors` (adds 100) is preferred
;; to `_initialize` (adds 1), and runs exactly once, before the first call.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (global $inits (mut i64) (i64.const 0))
  (global $calls (mut i64) (i64.const 0))
  (func (export "_initialize")
    (global.set $inits (i64.add (global.get $inits) (i64.const 1))))
  (func (export "__wasm_call_ctors")
    (global.set $inits (i64.add (global.get $inits) (i64.const 100))))
  ;; Output = [initializer runs, calls so far].
  (func (export "status") (result i32)
    (local $h i64)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (local.set $h (call $alloc (i64.const 16)))
    (call $store_u64 (local.get $h) (global.get $inits))
    (call $store_u64 (i64.add (local.get $h) (i64.const 8)) (global.get $calls))
    (call $output_set (local.get $h) (i64.const 16))
    (i32.const 0))
)
