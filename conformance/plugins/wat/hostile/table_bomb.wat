;; Grows tables at run time until `table.grow` refuses: `$t` (declared without a maximum)
;; 65536 elements at a time, `$u` (declared with maximum 2^32 - 1) in one step past the cap.
;; Tables are capped at 2^20 elements: `$t` stops at exactly 2^20, every growth past the cap
;; returns -1 rather than trapping or allocating, and a growth to exactly the cap works.
;; `attack` outputs u64 facts (the same on every round); `then_trap` bombs, then traps: a
;; Trap, not a MemoryLimit error.
(module
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
  (table $t 0 funcref)
  (table $u 0 0xFFFFFFFF funcref)

  (func $bomb
    (block $refused
      (loop $grow
        (br_if $refused
          (i32.eq (table.grow $t (ref.null func) (i32.const 0x10000)) (i32.const -1)))
        (br $grow))))

  (func (export "attack") (result i32)
    (call $begin (i64.const 7))
    (call $bomb)
    (call $push (i64.extend_i32_u (table.size $t)))                                      ;; 2^20
    (call $push (i64.extend_i32_s (table.grow $t (ref.null func) (i32.const 1))))        ;; -1
    (call $push (i64.extend_i32_s (table.grow $t (ref.null func) (i32.const 0x7FFFFFFF)))) ;; -1
    (call $push (i64.extend_i32_s (table.grow $t (ref.null func) (i32.const -1))))       ;; -1
    (call $push (i64.extend_i32_s
      (table.grow $u (ref.null func) (i32.sub (i32.const 0x100001) (table.size $u)))))   ;; -1
    (call $push (i64.extend_i32_u (i32.ne (i32.const -1)
      (table.grow $u (ref.null func) (i32.sub (i32.const 0x100000) (table.size $u)))))) ;; 1
    (call $push (i64.extend_i32_u (table.size $u)))                                      ;; 2^20
    (call $end))

  (func (export "then_trap") (result i32)
    (call $bomb)
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
