;; `length` and `length_unsafe` handed handles that name no block: a bogus offset, a freed
;; block, an offset inside a live block, -1, and offsets past kernel memory (one that would
;; wrap to a live block as a 32-bit address). Each must answer 0 without trapping, and the
;; live block keeps its length. `attack` outputs the answers as u64 facts.
(module
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "length_unsafe" (func $length_unsafe (param i64) (result i64)))
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
    (local $live i64) (local $freed i64)
    ;; The facts block first, so that no later alloc reuses the freed block.
    (call $begin (i64.const 12))
    (local.set $live (call $alloc (i64.const 10)))
    (local.set $freed (call $alloc (i64.const 20)))
    (call $free (local.get $freed))
    (call $push (call $length (i64.const 123456)))                              ;; 0: bogus
    (call $push (call $length_unsafe (i64.const 123456)))                       ;; 0
    (call $push (call $length (local.get $freed)))                              ;; 0: freed
    (call $push (call $length_unsafe (local.get $freed)))                       ;; 0
    (call $push (call $length (i64.add (local.get $live) (i64.const 1))))       ;; 0: inside
    (call $push (call $length_unsafe (i64.add (local.get $live) (i64.const 8)))) ;; 0
    (call $push (call $length (i64.const -1)))                                  ;; 0
    (call $push (call $length_unsafe (i64.const -1)))                           ;; 0
    (call $push (call $length (i64.const 0x100000000)))                         ;; 0: past memory
    (call $push (call $length_unsafe (i64.add (i64.const 0x100000000) (global.get $out)))) ;; 0
    (call $push (call $length (local.get $live)))                               ;; 10
    (call $push (call $length_unsafe (local.get $live)))                        ;; 10
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
