;; A command (it exports `_start`) with an initializer. `_start` leaves a large free block in
;; the middle of kernel memory and returns; the call after it gets a fresh instance, whose
;; initializer allocates a block, writes its last byte and reads it back, trapping when the
;; byte did not stick. (Once, the bookkeeping of the old kernel memory survived the
;; re-instantiation: the initializer was handed a block beyond the new, smaller memory, the
;; store was dropped and the load read 0.)
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))

  (func (export "_initialize")
    (local $last i64)
    (local.set $last (i64.add (call $alloc (i64.const 100000)) (i64.const 99999)))
    (call $store_u8 (local.get $last) (i32.const 7))
    (if (i32.ne (call $load_u8 (local.get $last)) (i32.const 7))
      (then unreachable)))

  (func (export "_start")
    (local $big i64)
    (local.set $big (call $alloc (i64.const 300000)))
    (drop (call $alloc (i64.const 8)))
    (call $free (local.get $big)))

  (func (export "ok") (result i32) (i32.const 0))
)
