;; A start function, which xtism defers to the first call: it must run exactly once, before
;; the export. Output of `status` = [start runs].
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (global $runs (mut i64) (i64.const 0))
  (func $start (global.set $runs (i64.add (global.get $runs) (i64.const 1))))
  (start $start)
  (func (export "status") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (global.get $runs))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0)))
