;; Kernel loads and stores at offsets past any block and past kernel memory. Kernel memory
;; is one page (core/src/kernel.wat) until a block needs more, and nothing here needs more.
;; In bounds, `load_*`/`store_*` are plain memory access whether or not a block (or a freed
;; block) lies there; a load out of bounds (straddling the end, past it, -1, or an offset
;; that would wrap to a live byte as a 32-bit address) gives 0 and a store there is
;; ignored; a store into the 80-byte header is ignored. Nothing traps. Run with input
;; "hostile"; `attack` outputs u64 facts.
(module
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
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
    (local $h i64) (local $f i64) (local $in i64) (local $word76 i64)
    (call $begin (i64.const 20))
    (local.set $h (call $alloc (i64.const 8)))
    (local.set $f (call $alloc (i64.const 8)))
    (call $free (local.get $f))
    (local.set $in (call $input_offset))
    ;; The last byte and the last word of memory are in bounds.
    (call $store_u64 (i64.const 65528) (i64.const 0x0102030405060708))
    (call $store_u8 (i64.const 65535) (i32.const 0xAB))
    (call $push (call $load_u64 (i64.const 65528)))                             ;; 0xAB020304..
    (call $push (i64.extend_i32_u (call $load_u8 (i64.const 65535))))           ;; 0xAB
    ;; Straddling the end or past it: loads give 0, stores are ignored.
    (call $store_u64 (i64.const 65529) (i64.const -1))
    (call $push (i64.extend_i32_u (call $load_u8 (i64.const 65535))))           ;; 0xAB
    (call $push (call $load_u64 (i64.const 65529)))                             ;; 0
    (call $push (i64.extend_i32_u (call $load_u8 (i64.const 65536))))           ;; 0
    (call $push (call $load_u64 (i64.const 0xFFFFFFF8)))                        ;; 0
    (call $push (call $load_u64 (i64.const -8)))                                ;; 0
    (call $push (i64.extend_i32_u (call $load_u8 (i64.const -1))))              ;; 0
    (call $push (i64.extend_i32_u (call $load_u8 (i64.const 0x7FFFFFFFFFFFFFFF)))) ;; 0
    ;; 2^32 + p would be p as a 32-bit address: the input's first byte, the header.
    (call $push (i64.extend_i32_u
      (call $load_u8 (i64.add (i64.const 0x100000000) (local.get $in)))))      ;; 0
    (call $push (call $load_u64 (i64.const 0x100000008)))                       ;; 0
    (call $store_u64 (local.get $h) (i64.const 5))
    (call $store_u64 (i64.add (i64.const 0x100000000) (local.get $h)) (i64.const 77))
    (call $store_u8 (i64.add (i64.const 0x100000000) (local.get $h)) (i32.const 77))
    (call $push (call $load_u64 (local.get $h)))                                ;; 5
    ;; The header: stores are ignored, even one that straddles into the blocks.
    (local.set $word76 (call $load_u64 (i64.const 76)))
    (call $store_u64 (i64.const 0) (i64.const 999))
    (call $store_u64 (i64.const 8) (i64.const 999))
    (call $store_u8 (i64.const 79) (i32.const 1))
    (call $store_u64 (i64.const 76) (i64.const -1))
    (call $push (call $input_length))                                           ;; 7
    (call $push (i64.extend_i32_u (i64.eq (call $input_offset) (local.get $in)))) ;; 1
    (call $push
      (i64.extend_i32_u (i64.eq (call $load_u64 (i64.const 76)) (local.get $word76)))) ;; 1
    (call $push (call $load_u64 (i64.const 8)))                                 ;; 7: readable
    ;; Past any block, and in a freed block: plain memory.
    (call $store_u64 (i64.add (local.get $h) (i64.const 4096)) (i64.const 7))
    (call $push (call $load_u64 (i64.add (local.get $h) (i64.const 4096))))     ;; 7
    (call $store_u64 (local.get $f) (i64.const 42))
    (call $push (call $load_u64 (local.get $f)))                                ;; 42
    (call $store_u8 (local.get $f) (i32.const 43))
    (call $push (i64.extend_i32_u (call $load_u8 (local.get $f))))              ;; 43
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
