;; Allocates 1000-byte blocks until `alloc` returns 0, under a cap of 4 pages per memory
;; (`with_memory_max(4)`): kernel memory must grow up to the cap and no further, then
;; `alloc` answers 0 (never a trap), also for 2 GiB and for a full page. Freeing every
;; block gives all the room back: as many blocks fit again. The next call starts from an
;; empty kernel memory. `attack` outputs u64 facts; the handles are kept in this module's
;; memory.
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

  ;; Allocates 1000-byte blocks until refused (at most 8192, the handles that fit in
  ;; this module's page) and returns how many it got.
  (func $fill (result i32)
    (local $n i32) (local $h i64)
    (block $full
      (loop $more
        (br_if $full (i32.ge_u (local.get $n) (i32.const 8192)))
        (local.set $h (call $alloc (i64.const 1000)))
        (br_if $full (i64.eqz (local.get $h)))
        (i64.store (i32.shl (local.get $n) (i32.const 3)) (local.get $h))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $more)))
    (local.get $n))

  (func (export "attack") (result i32)
    (local $n i32) (local $i i32) (local $used i64)
    (call $begin (i64.const 6))
    (local.set $used (call $memory_bytes))
    (local.set $n (call $fill))
    ;; 4 pages hold at most 262 such blocks; kernel memory grew well past its first page.
    (call $push (i64.extend_i32_u
      (i32.and (i32.ge_u (local.get $n) (i32.const 250))
               (i32.le_u (local.get $n) (i32.const 262)))))                     ;; 1
    (call $push (call $alloc (i64.const 0x80000000)))                           ;; 0
    (call $push (call $alloc (i64.const 65536)))                                ;; 0
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $free (i64.load (i32.shl (local.get $i) (i32.const 3))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (call $push (i64.extend_i32_u (i64.eq (call $memory_bytes) (local.get $used)))) ;; 1
    (call $push (i64.extend_i32_u (i32.eq (call $fill) (local.get $n))))        ;; 1
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
