;; Double free, and `free` of handles that name no block (an offset inside a block, a bogus
;; offset, -1, 0): each must do nothing. In particular a block freed twice must not be
;; handed out twice: the two blocks allocated afterwards are distinct and do not overlap,
;; and the bytes in use do not change on the redundant frees. `attack` outputs u64 facts.
(module
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
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
    (local $a i64) (local $b i64) (local $x i64) (local $y i64) (local $used i64)
    (call $begin (i64.const 8))
    (local.set $a (call $alloc (i64.const 16)))
    (local.set $b (call $alloc (i64.const 16)))
    (call $free (local.get $a))
    (local.set $used (call $memory_bytes))
    (call $free (local.get $a))
    (call $free (local.get $a))
    (call $free (i64.add (local.get $b) (i64.const 8)))
    (call $free (i64.const 123456))
    (call $free (i64.const -1))
    (call $free (i64.const 0))
    (call $push (i64.extend_i32_u (i64.eq (call $memory_bytes) (local.get $used)))) ;; 1
    (local.set $x (call $alloc (i64.const 16)))
    (local.set $y (call $alloc (i64.const 16)))
    (call $store_u64 (local.get $x) (i64.const 111))
    (call $store_u64 (local.get $y) (i64.const 222))
    (call $push (i64.extend_i32_u (i64.ne (local.get $x) (local.get $y))))       ;; 1
    (call $push (call $load_u64 (local.get $x)))                                ;; 111
    (call $push (call $load_u64 (local.get $y)))                                ;; 222
    (call $push (call $length (local.get $b)))                                  ;; 16
    ;; The last block freed twice: the second free must not lower anything twice.
    (call $free (local.get $y))
    (call $free (local.get $y))
    (call $push (call $length (local.get $x)))                                  ;; 16
    (call $push (i64.extend_i32_u (i64.ne (call $alloc (i64.const 16)) (local.get $x)))) ;; 1
    (call $push (call $length (local.get $b)))                                  ;; 16
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
