;; `error_set` with handles that name no block, then a non-zero return: a bogus offset
;; (`bogus`), a block freed before the call returns (`freed`), an offset inside a block
;; (`inside`), -1 (`max`). There is no message to read: the call fails with a Plugin error
;; carrying the code and saying the error handle is not an allocated block. `bogus_trap`
;; sets a bogus handle and traps: a Trap without a guest message.
(module
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  (func (export "bogus") (result i32)
    (call $error_set (i64.const 999999))
    (i32.const 1))

  (func (export "freed") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 4)))
    (call $store_u64 (local.get $h) (i64.const 0x73706f6f))
    (call $error_set (local.get $h))
    (call $free (local.get $h))
    (i32.const 2))

  (func (export "inside") (result i32)
    (call $error_set (i64.add (call $alloc (i64.const 16)) (i64.const 8)))
    (i32.const 3))

  (func (export "max") (result i32)
    (call $error_set (i64.const -1))
    (i32.const 4))

  (func (export "bogus_trap") (result i32)
    (call $error_set (i64.const 999999))
    unreachable)

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
