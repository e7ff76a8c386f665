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
(module
  (memory (export "memory") 1)

  ;; Size of the memory in bytes, as i64.
  (func $size (result i64)
    (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))

  ;; Is [p, p + n) inside the memory? (n is 1 or 8; p may be any u64.)
  (func $fits (param $p i64) (param $n i64) (result i32)
    (i32.and
      (i64.le_u (local.get $p) (i64.const 0xFFFFFFFF))
      (i64.le_u (i64.add (local.get $p) (local.get $n)) (call $size))))

  ;; Is [p, p + n) inside the memory and above the header?
  (func $writable (param $p i64) (param $n i64) (result i32)
    (i32.and
      (i64.ge_u (local.get $p) (i64.const 64))
      (call $fits (local.get $p) (local.get $n))))

  (func (export "load_u8") (param $p i64) (result i32)
    (if (result i32) (call $fits (local.get $p) (i64.const 1))
      (then (i32.load8_u (i32.wrap_i64 (local.get $p))))
      (else (i32.const 0))))

  (func (export "load_u64") (param $p i64) (result i64)
    (if (result i64) (call $fits (local.get $p) (i64.const 8))
      (then (i64.load (i32.wrap_i64 (local.get $p))))
      (else (i64.const 0))))

  (func (export "store_u8") (param $p i64) (param $v i32)
    (if (call $writable (local.get $p) (i64.const 1))
      (then (i32.store8 (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "store_u64") (param $p i64) (param $v i64)
    (if (call $writable (local.get $p) (i64.const 8))
      (then (i64.store (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "input_offset") (result i64) (i64.load (i32.const 0)))
  (func (export "input_length") (result i64) (i64.load (i32.const 8)))
  (func (export "output_offset") (result i64) (i64.load (i32.const 16)))
  (func (export "output_length") (result i64) (i64.load (i32.const 24)))

  ;; Input byte at `off`, 0 past the end. The header is host-written and the host keeps
  ;; offset + length inside memory, but the checks below hold even if it did not.
  (func (export "input_load_u8") (param $off i64) (result i32)
    (local $p i64)
    (if (result i32) (i64.lt_u (local.get $off) (i64.load (i32.const 8)))
      (then
        (local.set $p (i64.add (i64.load (i32.const 0)) (local.get $off)))
        (if (result i32) (call $fits (local.get $p) (i64.const 1))
          (then (i32.load8_u (i32.wrap_i64 (local.get $p))))
          (else (i32.const 0))))
      (else (i32.const 0))))

  ;; Input u64 at `off` when all 8 bytes lie inside the input, else 0.
  (func (export "input_load_u64") (param $off i64) (result i64)
    (local $p i64)
    (if (result i64)
      (i32.and
        (i64.le_u (local.get $off) (i64.const 0xFFFFFFFF))
        (i64.le_u (i64.add (local.get $off) (i64.const 8)) (i64.load (i32.const 8))))
      (then
        (local.set $p (i64.add (i64.load (i32.const 0)) (local.get $off)))
        (if (result i64) (call $fits (local.get $p) (i64.const 8))
          (then (i64.load (i32.wrap_i64 (local.get $p))))
          (else (i64.const 0))))
      (else (i64.const 0))))
)
