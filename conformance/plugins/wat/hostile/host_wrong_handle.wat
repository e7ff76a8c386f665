;; User host functions handed the wrong handle. `describe` (Rust, decodes its argument
;; with `CurrentPlugin::memory_get_val::<String>` and returns it upper-cased) gets a bogus
;; offset, a freed block, an offset inside a block, and a block that is not UTF-8;
;; `measure` (`memory_length`, then `memory_str`) gets a freed block and a block that is
;; not UTF-8; `shout` (a `host_fn!` taking a `String`, which prefixes ">> " to its
;; argument upper-cased) gets a bogus offset and a block that is not UTF-8. Each is a clear
;; Guest error, and the next call works. `valid` shows `describe` working on a real block
;; (output = the input upper-cased); `describe_zero` and `shout_empty` show both on handle 0,
;; the empty block (as the official runtime's `memory_get_val` reads it).
(module
  (import "extism:host/user" "describe" (func $describe (param i64) (result i64)))
  (import "extism:host/user" "measure" (func $measure (param i64) (result i64)))
  (import "extism:host/user" "shout" (func $shout (param i64) (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
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
  (data (i32.const 0) "text")
  (data (i32.const 8) "\ff\fe")

  (func $freed (result i64)
    (local $h i64)
    (local.set $h (call $block_from (i32.const 0) (i64.const 4)))
    (call $free (local.get $h))
    (local.get $h))

  (func $not_utf8 (result i64) (call $block_from (i32.const 8) (i64.const 2)))

  (func (export "valid") (result i32)
    (local $h i64)
    (local.set $h (call $describe (call $input_offset)))
    (call $output_set (local.get $h) (call $length (local.get $h)))
    (i32.const 0))

  (func (export "describe_zero") (result i32)
    (local $h i64)
    (local.set $h (call $describe (i64.const 0)))
    (call $output_set (local.get $h) (call $length (local.get $h)))
    (i32.const 0))

  (func (export "bogus") (result i32)
    (drop (call $describe (i64.const 123456)))
    (i32.const 0))

  (func (export "freed") (result i32)
    (drop (call $describe (call $freed)))
    (i32.const 0))

  (func (export "inside") (result i32)
    (drop (call $describe (i64.add (call $block_from (i32.const 0) (i64.const 4)) (i64.const 1))))
    (i32.const 0))

  (func (export "not_utf8") (result i32)
    (drop (call $describe (call $not_utf8)))
    (i32.const 0))

  (func (export "measure_freed") (result i32)
    (drop (call $measure (call $freed)))
    (i32.const 0))

  (func (export "measure_not_utf8") (result i32)
    (drop (call $measure (call $not_utf8)))
    (i32.const 0))

  (func (export "shout_empty") (result i32)
    (local $h i64)
    (local.set $h (call $shout (i64.const 0)))
    (call $output_set (local.get $h) (call $length (local.get $h)))
    (i32.const 0))

  (func (export "shout_bogus") (result i32)
    (drop (call $shout (i64.const 123456)))
    (i32.const 0))

  (func (export "shout_not_utf8") (result i32)
    (drop (call $shout (call $not_utf8)))
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
