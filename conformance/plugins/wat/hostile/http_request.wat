;; `http_request` handed a request or a body handle that names no block (a bogus offset, a
;; freed block), or a request that is not JSON. Each is a Guest error naming the import,
;; raised before any request is made (the plug-in may reach no host anyway).
(module
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
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
  (data (i32.const 0) "{\"url\":\"http://127.0.0.1:1/\"}")
  (data (i32.const 64) "a body")

  (func $request (result i64) (call $block_from (i32.const 0) (i64.const 29)))
  (func $body (result i64) (call $block_from (i32.const 64) (i64.const 6)))

  (func (export "bogus_request") (result i32)
    (drop (call $http_request (i64.const 123456) (i64.const 0)))
    (i32.const 0))

  (func (export "freed_request") (result i32)
    (local $r i64) (local $b i64)
    (local.set $r (call $request))
    (local.set $b (call $body))
    (call $free (local.get $r))
    (drop (call $http_request (local.get $r) (local.get $b)))
    (i32.const 0))

  (func (export "bogus_body") (result i32)
    (drop (call $http_request (call $request) (i64.const 123456)))
    (i32.const 0))

  (func (export "freed_body") (result i32)
    (local $r i64) (local $b i64)
    (local.set $b (call $body))
    (local.set $r (call $request))
    (call $free (local.get $b))
    (drop (call $http_request (local.get $r) (local.get $b)))
    (i32.const 0))

  (func (export "not_json") (result i32)
    (drop (call $http_request (call $body) (i64.const 0)))
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
