;; `output_set` of ranges past the end of a block and past the end of kernel memory.
;; `output_set` takes a range, not a handle: a range inside kernel memory is the output
;; whatever blocks it covers (`past_block`, `freed`, and an empty range at a bogus offset,
;; `bogus_empty`), and a range reaching past kernel memory (`past_memory`, a length that
;; overflows, `huge_length`, an offset that overflows, `wrapping`) is a Guest error.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  ;; Output = 300 bytes "x" from an 8-byte block: the range runs past the block.
  (func (export "past_block") (result i32)
    (local $h i64) (local $i i64)
    (local.set $h (call $alloc (i64.const 8)))
    (block $done
      (loop $fill
        (br_if $done (i64.ge_u (local.get $i) (i64.const 304)))
        (call $store_u64 (i64.add (local.get $h) (local.get $i)) (i64.const 0x7878787878787878))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $fill)))
    (call $output_set (local.get $h) (i64.const 300))
    (i32.const 0))

  ;; Output = "freed!!!", the bytes of a block freed before output_set.
  (func (export "freed") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (i64.const 0x2121216465657266))
    (call $free (local.get $h))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0))

  ;; Output = nothing: an empty range needs no block.
  (func (export "bogus_empty") (result i32)
    (call $output_set (i64.const 123456) (i64.const 0))
    (i32.const 0))

  ;; A whole page from a block: past the end of the one-page kernel memory.
  (func (export "past_memory") (result i32)
    (call $output_set (call $alloc (i64.const 8)) (i64.const 65536))
    (i32.const 0))

  (func (export "huge_length") (result i32)
    (call $output_set (call $alloc (i64.const 8)) (i64.const -1))
    (i32.const 0))

  (func (export "wrapping") (result i32)
    (call $output_set (i64.const -1) (i64.const 2))
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
