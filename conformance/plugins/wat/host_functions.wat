;; User host functions of several signatures and namespaces.
(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/user" "transform" (func $transform (param i64) (result i64)))
  (import "extism:host/user" "mix" (func $mix (param i32 i64 f32 f64) (result f64)))
  (import "custom" "twice" (func $twice (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "plug-in memory says hi")

  ;; Output = transform(input).
  (func (export "transform") (result i32)
    (local $h i64)
    (local.set $h (call $transform (call $input_offset)))
    (call $output_set (local.get $h) (call $length (local.get $h)))
    (i32.const 0))

  ;; Output = [mix(2, 3, 1.5, 0.25) as f64 bits, twice(21)].
  (func (export "numbers") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 16)))
    (call $store_u64 (local.get $h)
      (i64.reinterpret_f64 (call $mix (i32.const 2) (i64.const 3) (f32.const 1.5) (f64.const 0.25))))
    (call $store_u64 (i64.add (local.get $h) (i64.const 8))
      (i64.extend_i32_s (call $twice (i32.const 21))))
    (call $output_set (local.get $h) (i64.const 16))
    (i32.const 0))
)
