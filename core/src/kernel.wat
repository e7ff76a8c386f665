;; The xtism kernel module: the kernel memory and the data path of `extism:host/env`.
;;
;; Every backend instantiates this module beside the plug-in. Its exported memory is the
;; kernel memory where Extism blocks live; the allocator's bookkeeping is Rust in
;; xtism-core (src/alloc.rs), which also keeps the header below up to date. Byte and word
;; access is plain Wasm here so that a plug-in's copy loop never leaves Wasm.
;;
;; Header (little-endian u64 each), written only by the host (core's `write_header`):
;;   0 input offset, 8 input length, 16 output offset, 24 output length,
;;   32 size (the memory's byte length), 40 size - 7, 48 size - 80, 56 size - 87,
;;   64 input length and 72 input length - 7 (0 below 8 bytes), both 0 unless the input
;;   starts at 80.
;; Bytes below 80 are the header; guest stores there are ignored, so a plug-in can never
;; disturb it. Every access is bounds-checked: loads out of bounds give 0 and stores are
;; ignored, never a trap.
;;
;; Each export is one function with no calls inside, and core inlines it into a plug-in's
;; code (core/src/merge.rs): the plug-in makes one of these accesses per 8 bytes it moves.
;; So a bounds check is one load of a limit from the header and one unsigned comparison:
;; `p + 8 <= size` is `p < size - 7` for every u64 `p`, and `80 <= p && p + 8 <= size` is
;; `p - 80 < size - 87` (a `p` below 80 wraps to a huge value). The call's input is the first
;; block after a reset, so it starts right after the header, at 80: an input load needs no
;; base from the header, only its limit. The limits are in the header
;; because asking the memory its size is a call into the runtime on some engines (wasmer).
;; A header of zeros (before the host first writes it) makes every limit 0, so every access
;; is refused. Inlined, a function's declared locals are not zeroed: each is written before
;; it is read.
(module $xtism-kernel
  (memory (export "memory") 1)

  (func (export "load_u8") (param $p i64) (result i32)
    (if (result i32)
      (i64.lt_u (local.get $p) (i64.load (i32.const 32)))
      (then (i32.load8_u (i32.wrap_i64 (local.get $p))))
      (else (i32.const 0))))

  (func (export "load_u64") (param $p i64) (result i64)
    (if (result i64)
      (i64.lt_u (local.get $p) (i64.load (i32.const 40)))
      (then (i64.load (i32.wrap_i64 (local.get $p))))
      (else (i64.const 0))))

  (func (export "store_u8") (param $p i64) (param $v i32)
    (if (i64.lt_u (i64.sub (local.get $p) (i64.const 80)) (i64.load (i32.const 48)))
      (then (i32.store8 (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "store_u64") (param $p i64) (param $v i64)
    (if (i64.lt_u (i64.sub (local.get $p) (i64.const 80)) (i64.load (i32.const 56)))
      (then (i64.store (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "input_offset") (result i64) (i64.load (i32.const 0)))
  (func (export "input_length") (result i64) (i64.load (i32.const 8)))
  (func (export "output_offset") (result i64) (i64.load (i32.const 16)))
  (func (export "output_length") (result i64) (i64.load (i32.const 24)))

  ;; Input byte at `off`, 0 past the end. The host keeps the input inside the memory (it is
  ;; a block, and freeing it empties the input), so a byte of the input needs no other
  ;; check; were that ever broken, the engine's own bounds check would trap, never more.
  ;; The limit is below 2^32, so `off` wraps to itself.
  (func (export "input_load_u8") (param $off i64) (result i32)
    (if (result i32) (i64.lt_u (local.get $off) (i64.load (i32.const 64)))
      (then (i32.load8_u offset=80 (i32.wrap_i64 (local.get $off))))
      (else (i32.const 0))))

  ;; Input u64 at `off` when all 8 bytes lie inside the input, else 0: `off + 8 <= length`
  ;; is `off < length - 7` once `length >= 8`, and the host writes 0 for a shorter input.
  (func (export "input_load_u64") (param $off i64) (result i64)
    (if (result i64)
      (i64.lt_u (local.get $off) (i64.load (i32.const 72)))
      (then (i64.load offset=80 (i32.wrap_i64 (local.get $off))))
      (else (i64.const 0))))
)
