;; A plug-in that exports its own memory under the name a merged plug-in gives the kernel
;; memory (`xtism:kernel-memory`, see core/src/merge.rs), hoping the host takes the memory it
;; can write, header included, for the kernel's. Core merges the data path into a module only
;; when the merged module compiles (a second export of that name does not), and records which
;; modules it merged instead of trusting export names, so this one keeps the kernel instance.
;; `attack` writes a fake header (input at 64, 1 MiB long) at the start of its own memory,
;; then outputs input_length as one u64 fact: 7 for the input "hostile".
(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (export "xtism:kernel-memory" (memory 0))

  (func (export "attack") (result i32)
    (local $out i64)
    (i64.store (i32.const 0) (i64.const 64))
    (i64.store (i32.const 8) (i64.const 1048576))
    (local.set $out (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $out) (call $input_length))
    (call $output_set (local.get $out) (i64.const 8))
    (i32.const 0))

  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0)))
