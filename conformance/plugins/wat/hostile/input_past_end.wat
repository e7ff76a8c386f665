;; `input_load_u8`/`input_load_u64` at offsets at and past the end of the input, straddling
;; it, -1, and past 2^32; then again after the plug-in freed its input block (which empties
;; the input). Each out-of-range load gives 0 and never reads kernel memory beyond the
;; input. Run with input "0123456789"; `attack` outputs u64 facts.
(module
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  ;; Facts: a list of little-endian u64s in the output ($begin n, $push v.., $end).
  (global $out (mut i64) (i64.const 0))
  (global $count (mut i64) (i64.const 0))
  (func $begin (param $n i64)
    (global.set $out (call $alloc (i64.mul (local.get $n) (i64.const 8))))
    (global.set $count (i64.const 0)))
  (func $push (param $v i64)
    (call $store_u64
      (i64.add (global.get $out) (i64.mul (global.get $count) (i64.const 8)))
      (local.get $v))
    (global.set $count (i64.add (global.get $count) (i64.const 1))))
  (func $end (result i32)
    (call $output_set (global.get $out) (i64.mul (global.get $count) (i64.const 8)))
    (i32.const 0))

  (func (export "attack") (result i32)
    (call $begin (i64.const 16))
    (call $push (i64.extend_i32_u (call $input_load_u8 (i64.const 9))))         ;; '9'
    (call $push (i64.extend_i32_u (call $input_load_u8 (i64.const 10))))        ;; 0: the end
    (call $push (i64.extend_i32_u (call $input_load_u8 (i64.const 11))))        ;; 0
    (call $push (i64.extend_i32_u (call $input_load_u8 (i64.const -1))))        ;; 0
    (call $push (i64.extend_i32_u (call $input_load_u8 (i64.const 0x100000000)))) ;; 0
    (call $push (call $input_load_u64 (i64.const 2)))                           ;; "23456789"
    (call $push (call $input_load_u64 (i64.const 3)))                           ;; 0: straddles
    (call $push (call $input_load_u64 (i64.const 10)))                          ;; 0
    (call $push (call $input_load_u64 (i64.const -8)))                          ;; 0: would wrap
    (call $push (call $input_load_u64 (i64.const -1)))                          ;; 0
    (call $push (call $input_load_u64 (i64.const 0xFFFFFFFF)))                  ;; 0
    (call $push (call $input_load_u64 (i64.const 0x100000000)))                 ;; 0
    ;; Freeing the input block empties the input.
    (call $free (call $input_offset))
    (call $push (call $input_length))                                           ;; 0
    (call $push (i64.extend_i32_u (call $input_load_u8 (i64.const 0))))         ;; 0
    (call $push (call $input_load_u64 (i64.const 0)))                           ;; 0
    (call $end))

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
