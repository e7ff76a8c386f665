;; An invalid plug-in: it has one memory, but its code stores to memory 1, the index the
;; kernel memory takes once core merges the data path into a plug-in (core/src/merge.rs).
;; Merged without a check, the store would become valid and write the kernel header's input
;; length. Core merges only modules that validate, so this one is refused as the module it
;; is ("unknown memory 1"), on every engine.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (memory (export "memory") 1)
  (func (export "attack") (result i32)
    (i64.store 1 (i32.const 8) (i64.const 1000000))
    (i32.wrap_i64 (call $input_length)))
  (func (export "echo") (result i32) (i32.const 0)))
