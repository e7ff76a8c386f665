;; `alloc` of sizes no kernel memory can hold: u64::MAX, i64::MAX, sizes whose rounding up
;; to the block alignment overflows or only just does not, 2^40, and 2^32 (kernel memory is
;; a 32-bit memory). Each must return 0 without growing anything or trapping; the bytes in
;; use stay the same and an ordinary alloc still works. `attack` outputs u64 facts.
(module
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "memory_bytes" (func $memory_bytes (result i64)))
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
    (local $used i64)
    (call $begin (i64.const 10))
    (local.set $used (call $memory_bytes))
    (call $push (call $alloc (i64.const -1)))                                   ;; 0: u64::MAX
    (call $push (call $alloc (i64.const 0x7FFFFFFFFFFFFFFF)))                   ;; 0
    (call $push (call $alloc (i64.const -6))) ;; 0: rounding up overflows
    (call $push (call $alloc (i64.const -8))) ;; 0: a multiple of 8
    (call $push (call $alloc (i64.const -64)))                                  ;; 0
    (call $push (call $alloc (i64.const 0x10000000000)))                        ;; 0: 1 TiB
    (call $push (call $alloc (i64.const 0x100000000)))                          ;; 0: 4 GiB
    (call $push (i64.extend_i32_u (i64.eq (call $memory_bytes) (local.get $used)))) ;; 1
    (call $push (call $length (call $alloc (i64.const 8))))                     ;; 8
    (call $push (call $alloc (i64.const 0)))                                    ;; 0
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
