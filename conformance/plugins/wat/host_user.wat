;; Host functions written in Wasm: linked into a plug-in as the manifest module named
;; "extism:host/user", this module provides `hello_world` to plug-ins that import it from
;; that namespace (as/host_fn.wasm). It reads its argument block through the kernel and
;; returns a new block "Wasm says hi to <name>". It shares the plug-in's kernel memory.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))

  (memory 1)
  (data (i32.const 0) "Wasm says hi to ")

  (func (export "hello_world") (param $name i64) (result i64)
    (local $len i64) (local $out i64) (local $i i64)
    (local.set $len (call $length (local.get $name)))
    (local.set $out (call $alloc (i64.add (local.get $len) (i64.const 16))))
    ;; the prefix
    (block $done
      (loop $prefix
        (br_if $done (i64.eq (local.get $i) (i64.const 16)))
        (call $store_u8 (i64.add (local.get $out) (local.get $i))
          (i32.load8_u (i32.wrap_i64 (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $prefix)))
    ;; the name, copied from its block
    (local.set $i (i64.const 0))
    (block $copied
      (loop $name
        (br_if $copied (i64.ge_u (local.get $i) (local.get $len)))
        (call $store_u8 (i64.add (local.get $out) (i64.add (local.get $i) (i64.const 16)))
          (call $load_u8 (i64.add (local.get $name) (local.get $i))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $name)))
    (local.get $out))
)
