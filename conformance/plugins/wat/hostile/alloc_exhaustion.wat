;; Allocates 1000-byte blocks under `memory.max_pages` = 4 (`with_memory_max(4)`): a budget
;; of 4 pages of growth for every memory of the instance. `attack` allocates until refused:
;; the kernel memory grows from its first page by at most 4, and then the call fails with
;; a memory limit (never a 0 that the plug-in could ignore, never a crash of the host); it
;; fails the same way on every round, the memory staying grown and the budget spent.
;; `refill` allocates 250 blocks, fewer than 5 pages hold: `alloc` past 4 GiB (1 TiB,
;; u64::MAX) answers 0 and costs nothing, and freeing every block gives all the room back,
;; so 250 fit again. `too_big` asks for 2 GiB at once. `refill` outputs u64 facts; the
;; handles are kept in this module's memory.
(module
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

  ;; Allocates up to $max 1000-byte blocks (at most 8192, the handles that fit in this
  ;; module's page) until refused, and returns how many it got.
  (func $fill (param $max i32) (result i32)
    (local $n i32) (local $h i64)
    (block $full
      (loop $more
        (br_if $full (i32.ge_u (local.get $n) (local.get $max)))
        (local.set $h (call $alloc (i64.const 1000)))
        (br_if $full (i64.eqz (local.get $h)))
        (i64.store (i32.shl (local.get $n) (i32.const 3)) (local.get $h))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $more)))
    (local.get $n))

  (func (export "attack") (result i32)
    (call $begin (i64.const 1))
    (call $push (i64.extend_i32_u (call $fill (i32.const 8192))))
    (call $end))

  (func (export "refill") (result i32)
    (local $n i32) (local $i i32) (local $used i64)
    (call $begin (i64.const 5))
    (local.set $used (call $memory_bytes))
    (local.set $n (call $fill (i32.const 250)))
    (call $push (i64.extend_i32_u (i32.eq (local.get $n) (i32.const 250))))    ;; 1
    (call $push (call $alloc (i64.const 0x10000000000)))                       ;; 0
    (call $push (call $alloc (i64.const -1)))                                  ;; 0
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $free (i64.load (i32.shl (local.get $i) (i32.const 3))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (call $push (i64.extend_i32_u (i64.eq (call $memory_bytes) (local.get $used)))) ;; 1
    (call $push (i64.extend_i32_u (i32.eq (call $fill (i32.const 250)) (local.get $n)))) ;; 1
    (call $end))

  (func (export "too_big") (result i32)
    (call $begin (i64.const 1))
    (call $push (call $alloc (i64.const 0x80000000)))
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
