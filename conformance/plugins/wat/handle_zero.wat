;; Handle 0 is the empty block: the Rust PDK passes it when it logs an empty string or looks
;; up an empty key (alloc(0) returns 0). `run` logs handle 0, looks up config and var 0,
;; then outputs "ok <config result> <var result>", each result as the length of the block
;; it names: "ok 0 0" when there is no config or var of empty name (handle 0).
;; `set_empty_var` sets the var of empty name to the input with var_set(0, value).
(module
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))

  (memory 1)
  (data (i32.const 0) "ok ")
  (global $len (mut i32) (i32.const 3))

  ;; Appends the decimal form of $v to the text at offset 0.
  (func $append_dec (param $v i64)
    (local $i i32) (local $start i32)
    ;; digits right to left into [32, 64), then copied after the text
    (local.set $i (i32.const 64))
    (loop $digits
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (local.get $i)
        (i32.wrap_i64 (i64.add (i64.const 48) (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $v) (i64.const 0))))
    (memory.copy (global.get $len) (local.get $i) (i32.sub (i32.const 64) (local.get $i)))
    (global.set $len (i32.add (global.get $len) (i32.sub (i32.const 64) (local.get $i)))))

  (func (export "run") (result i32)
    (local $config i64) (local $var i64) (local $h i64) (local $k i32)
    (call $log_info (i64.const 0))
    (local.set $config (call $config_get (i64.const 0)))
    (local.set $var (call $var_get (i64.const 0)))
    (global.set $len (i32.const 3))
    ;; the length of the block a lookup returned (0 for none)
    (call $append_dec (call $length (local.get $config)))
    (i32.store8 (global.get $len) (i32.const 32))
    (global.set $len (i32.add (global.get $len) (i32.const 1)))
    (call $append_dec (call $length (local.get $var)))
    (local.set $h (call $alloc (i64.extend_i32_u (global.get $len))))
    (loop $copy
      (call $store_u8 (i64.add (local.get $h) (i64.extend_i32_u (local.get $k)))
        (i32.load8_u (local.get $k)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $copy (i32.lt_u (local.get $k) (global.get $len))))
    (call $output_set (local.get $h) (i64.extend_i32_u (global.get $len)))
    (i32.const 0))

  (func (export "set_empty_var") (result i32)
    (call $var_set (i64.const 0) (call $input_offset))
    (i32.const 0))
)
