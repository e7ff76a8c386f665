;; Main module importing from the manifest module named "wasi_lib" (built from
;; c/wasi_lib.c, a WASI reactor that writes to stdout). The main module itself
;; uses no WASI.
;;
;; Export `run`: calls lib_write (prints "lib says hi\n" to stdout, returns
;; the byte count, 12) and then lib_ctors (the library's constructor runs,
;; 1 when its _initialize ran once), and outputs the two results as text:
;; "wrote=<lib_write> ctors=<lib_ctors>", e.g. "wrote=12 ctors=1".
(module
  (import "wasi_lib" "lib_write" (func $lib_write (result i32)))
  (import "wasi_lib" "lib_ctors" (func $lib_ctors (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))

  (memory (export "memory") 1)
  ;; The text is built at offset 64 of this module's memory, then copied
  ;; into a kernel block.
  (data (i32.const 0) "wrote=")
  (data (i32.const 8) " ctors=")
  (global $len (mut i32) (i32.const 0))

  ;; Appends $n bytes from offset $src to the text.
  (func $append (param $src i32) (param $n i32)
    (memory.copy
      (i32.add (i32.const 64) (global.get $len)) (local.get $src) (local.get $n))
    (global.set $len (i32.add (global.get $len) (local.get $n))))

  ;; Appends the decimal form of $v (as signed: "-1" for -1).
  (func $append_dec (param $v i32)
    (local $u i32) (local $i i32)
    (if (i32.lt_s (local.get $v) (i32.const 0))
      (then
        (i32.store8 (i32.const 32) (i32.const 45)) ;; '-'
        (call $append (i32.const 32) (i32.const 1))
        (local.set $v (i32.sub (i32.const 0) (local.get $v)))))
    (local.set $u (local.get $v))
    ;; digits right to left into [32, 48)
    (local.set $i (i32.const 48))
    (loop $digits
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (local.get $i)
        (i32.add (i32.const 48) (i32.rem_u (local.get $u) (i32.const 10))))
      (local.set $u (i32.div_u (local.get $u) (i32.const 10)))
      (br_if $digits (local.get $u)))
    (call $append (local.get $i) (i32.sub (i32.const 48) (local.get $i))))

  (func (export "run") (result i32)
    (local $wrote i32) (local $ctors i32) (local $h i64) (local $k i32)
    (local.set $wrote (call $lib_write))
    (local.set $ctors (call $lib_ctors))
    (global.set $len (i32.const 0))
    (call $append (i32.const 0) (i32.const 6))
    (call $append_dec (local.get $wrote))
    (call $append (i32.const 8) (i32.const 7))
    (call $append_dec (local.get $ctors))
    (local.set $h (call $alloc (i64.extend_i32_u (global.get $len))))
    (block $done
      (loop $copy
        (br_if $done (i32.ge_u (local.get $k) (global.get $len)))
        (call $store_u8
          (i64.add (local.get $h) (i64.extend_i32_u (local.get $k)))
          (i32.load8_u (i32.add (i32.const 64) (local.get $k))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $copy)))
    (call $output_set (local.get $h) (i64.extend_i32_u (global.get $len)))
    (i32.const 0))
)
