;; The xtism kernel module: the kernel memory and the data path of `extism:host/env`.
;;
;; Every backend instantiates this module beside the plug-in. Its exported memory is the
;; kernel memory where Extism blocks live; the allocator's bookkeeping is Rust in
;; xtism-core (src/alloc.rs), which also keeps the header below up to date. Byte and word
;; access is plain Wasm here so that a plug-in's copy loop never leaves Wasm.
;;
;; Header (little-endian u64 each), written only by the host:
;;   0 input offset, 8 input length, 16 output offset, 24 output length.
;; Bytes below 64 are the header; guest stores there are ignored, so a plug-in can never
;; disturb it. Every access is bounds-checked: loads out of bounds give 0 and stores are
;; ignored, never a trap.
;;
;; Each export is one function with no calls inside: a call costs more than the checks on an
;; interpreter (wasmi), and the plug-in makes one of these calls per 8 bytes it moves. A
;; bounds check is one unsigned comparison where it can be: with `size` the memory's byte
;; length (at least 64 KiB, so `size - 7` cannot wrap), `p + 8 <= size` is `p < size - 7`
;; for every u64 `p`, and `64 <= p && p + 8 <= size` is `p - 64 < size - 71` (a `p` below
;; 64 wraps to a huge value).
(module
  (memory (export "memory") 1)

  (func (export "load_u8") (param $p i64) (result i32)
    (if (result i32)
      (i64.lt_u (local.get $p) (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))
      (then (i32.load8_u (i32.wrap_i64 (local.get $p))))
      (else (i32.const 0))))

  (func (export "load_u64") (param $p i64) (result i64)
    (if (result i64)
      (i64.lt_u (local.get $p)
        (i64.sub (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)) (i64.const 7)))
      (then (i64.load (i32.wrap_i64 (local.get $p))))
      (else (i64.const 0))))

  (func (export "store_u8") (param $p i64) (param $v i32)
    (if (i64.lt_u (i64.sub (local.get $p) (i64.const 64))
          (i64.sub (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)) (i64.const 64)))
      (then (i32.store8 (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "store_u64") (param $p i64) (param $v i64)
    (if (i64.lt_u (i64.sub (local.get $p) (i64.const 64))
          (i64.sub (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)) (i64.const 71)))
      (then (i64.store (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "input_offset") (result i64) (i64.load (i32.const 0)))
  (func (export "input_length") (result i64) (i64.load (i32.const 8)))
  (func (export "output_offset") (result i64) (i64.load (i32.const 16)))
  (func (export "output_length") (result i64) (i64.load (i32.const 24)))

  ;; Input byte at `off`, 0 past the end. The header is host-written and the host keeps
  ;; offset + length inside memory, but the check on `p` holds even if it did not.
  (func (export "input_load_u8") (param $off i64) (result i32)
    (local $p i64)
    (if (result i32) (i64.lt_u (local.get $off) (i64.load (i32.const 8)))
      (then
        (local.set $p (i64.add (i64.load (i32.const 0)) (local.get $off)))
        (if (result i32)
          (i64.lt_u (local.get $p)
            (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))
          (then (i32.load8_u (i32.wrap_i64 (local.get $p))))
          (else (i32.const 0))))
      (else (i32.const 0))))

  ;; Input u64 at `off` when all 8 bytes lie inside the input, else 0: `off + 8 <= length`
  ;; is `off < length - 7` once `length >= 8`.
  (func (export "input_load_u64") (param $off i64) (result i64)
    (local $len i64)
    (local $p i64)
    (local.set $len (i64.load (i32.const 8)))
    (if (result i64)
      (i32.and
        (i64.gt_u (local.get $len) (i64.const 7))
        (i64.lt_u (local.get $off) (i64.sub (local.get $len) (i64.const 7))))
      (then
        (local.set $p (i64.add (i64.load (i32.const 0)) (local.get $off)))
        (if (result i64)
          (i64.lt_u (local.get $p)
            (i64.sub (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)) (i64.const 7)))
          (then (i64.load (i32.wrap_i64 (local.get $p))))
          (else (i64.const 0))))
      (else (i64.const 0))))
)
