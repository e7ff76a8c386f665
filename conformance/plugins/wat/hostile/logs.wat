;; Every `log_*` import handed a message handle that names no block: `<level>_bogus`
;; passes a bogus offset, `<level>_freed` a block freed before the call (it held a
;; message). Each is a Guest error naming the import and the offset; nothing is logged.
(module
  (import "extism:host/env" "log_trace" (func $log_trace (param i64)))
  (import "extism:host/env" "log_debug" (func $log_debug (param i64)))
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (import "extism:host/env" "log_warn" (func $log_warn (param i64)))
  (import "extism:host/env" "log_error" (func $log_error (param i64)))
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
  (data (i32.const 0) "a message")

  ;; A freed block that held a message.
  (func $freed (result i64)
    (local $h i64)
    (local.set $h (call $block_from (i32.const 0) (i64.const 9)))
    (call $free (local.get $h))
    (local.get $h))

  (func (export "trace_bogus") (result i32)
    (call $log_trace (i64.const 123456))
    (i32.const 0))
  (func (export "trace_freed") (result i32)
    (call $log_trace (call $freed))
    (i32.const 0))

  (func (export "debug_bogus") (result i32)
    (call $log_debug (i64.const 123456))
    (i32.const 0))
  (func (export "debug_freed") (result i32)
    (call $log_debug (call $freed))
    (i32.const 0))

  (func (export "info_bogus") (result i32)
    (call $log_info (i64.const 123456))
    (i32.const 0))
  (func (export "info_freed") (result i32)
    (call $log_info (call $freed))
    (i32.const 0))

  (func (export "warn_bogus") (result i32)
    (call $log_warn (i64.const 123456))
    (i32.const 0))
  (func (export "warn_freed") (result i32)
    (call $log_warn (call $freed))
    (i32.const 0))

  (func (export "error_bogus") (result i32)
    (call $log_error (i64.const 123456))
    (i32.const 0))
  (func (export "error_freed") (result i32)
    (call $log_error (call $freed))
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
