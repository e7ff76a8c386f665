;; Fills the var store: `flood` sets vars of distinct 8-byte keys to 8-byte values until
;; `var_set` fails, which must happen at `max_var_bytes` (each var counts its key, its value
;; and 48 bytes) with a MemoryLimit error; `too_big` sets one var to a value larger than
;; the whole limit. The plug-in runs with `with_var_max(16384)`: `flood` fits 256 vars and
;; fails on the next; it gives up (returning 0) after a million.
(module
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)

  ;; A new block holding $len bytes of this module's memory at $ptr.
  (func $block_from (param $ptr i32) (param $len i64) (result i64)
    (local $h i64) (local $i i64)
    (local.set $h (call $alloc (local.get $len)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $len)))
        (call $store_u8
          (i64.add (local.get $h) (local.get $i))
          (i32.load8_u (i32.add (local.get $ptr) (i32.wrap_i64 (local.get $i)))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (local.get $h))
  (data (i32.const 0) "big")

  ;; A new block holding the u64 $v.
  (func $word (param $v i64) (result i64)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (local.get $v))
    (local.get $h))

  ;; A new 8-byte key: $i in four 7-bit groups, then "kkkk"; every byte is ASCII.
  (func $key (param $i i64) (result i64)
    (local $h i64) (local $b i64)
    (local.set $h (call $word (i64.const 0x6b6b6b6b00000000)))
    (loop $group
      (call $store_u8 (i64.add (local.get $h) (local.get $b))
        (i32.and (i32.wrap_i64 (local.get $i)) (i32.const 0x7f)))
      (local.set $i (i64.shr_u (local.get $i) (i64.const 7)))
      (local.set $b (i64.add (local.get $b) (i64.const 1)))
      (br_if $group (i64.lt_u (local.get $b) (i64.const 4))))
    (local.get $h))

  (func (export "flood") (result i32)
    (local $i i64)
    (block $gave_up
      (loop $more
        (br_if $gave_up (i64.ge_u (local.get $i) (i64.const 1000000)))
        (call $var_set
          (call $key (local.get $i))
          (call $word (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $more)))
    (i32.const 0))

  ;; Var "big" = 16385 bytes.
  (func (export "too_big") (result i32)
    (call $var_set (call $block_from (i32.const 0) (i64.const 3)) (call $alloc (i64.const 16385)))
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
