;; Grows this module's memory under `memory.max_pages` = 16 (`with_memory_max(16)`): a
;; budget of 16 pages of growth. Every growth the budget cannot pay for fails the call with
;; a memory limit, whatever the plug-in does next: `attack` grows a page at a time until
;; refused and then returns normally (an engine whose `memory.grow` answers -1 lets it),
;; `all_at_once` asks for 4 GiB in one growth, `ignore_refusal` keeps growing forever,
;; `then_trap` traps after the refusal. A growth past the memory's own maximum (65536
;; pages) is -1 and costs nothing, as Wasm says: `past_the_maximum` outputs u64 facts.
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

  (func $bomb
    (block $refused
      (loop $grow
        (br_if $refused (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $grow))))

  (func (export "attack") (result i32)
    (call $begin (i64.const 1))
    (call $bomb)
    (call $push (i64.extend_i32_u (memory.size)))
    (call $end))

  (func (export "all_at_once") (result i32)
    (call $begin (i64.const 1))
    (call $push (i64.extend_i32_s (memory.grow (i32.const 0xFFFF))))
    (call $end))

  (func (export "ignore_refusal") (result i32)
    (loop $forever
      (drop (memory.grow (i32.const 1)))
      (br $forever))
    (i32.const 0))

  (func (export "past_the_maximum") (result i32)
    (call $begin (i64.const 3))
    (call $push (i64.extend_i32_s (memory.grow (i32.const 0x10000))))            ;; -1
    (call $push (i64.extend_i32_s (memory.grow (i32.const -1))))                 ;; -1
    (call $push (i64.extend_i32_s (memory.grow (i32.const 0))))                  ;; 1
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
