;; Table growth: `grow` grows the table by the input (a u64) and outputs table.grow's result
;; (the old size, or -1 when refused).
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (table $t 10 funcref)
  (func (export "grow") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h)
      (i64.extend_i32_s (table.grow $t (ref.null func) (i32.wrap_i64 (call $input_load_u64 (i64.const 0))))))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0)))
