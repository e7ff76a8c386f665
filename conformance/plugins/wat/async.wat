;; For async calls: the async host function `fetch` (a block in, a block out) and the sync
;; host function `shout` (the same shape), called from exports that use them, loop, trap or
;; use neither.
(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/user" "fetch" (func $fetch (param i64) (result i64)))
  (import "extism:host/user" "shout" (func $shout (param i64) (result i64)))
  (memory (export "memory") 1)

  ;; The block `h` is the output.
  (func $output (param $h i64)
    (call $output_set (local.get $h) (call $length (local.get $h))))

  ;; Outputs what `fetch` gives for the input.
  (func (export "fetch") (result i32)
    (call $output (call $fetch (call $input_offset)))
    (i32.const 0))

  ;; Outputs what `shout` gives for what `fetch` gives for the input: a sync host function
  ;; after an async one, in one call.
  (func (export "fetch_shout") (result i32)
    (call $output (call $shout (call $fetch (call $input_offset))))
    (i32.const 0))

  ;; Traps once `fetch` has returned.
  (func (export "fetch_then_trap") (result i32)
    (drop (call $fetch (call $input_offset)))
    (unreachable))

  ;; Loops forever without calling the host.
  (func (export "spin") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))

  ;; Outputs the input, calling no host function.
  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0)))
