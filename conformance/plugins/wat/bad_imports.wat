;; Imports a kernel function with the wrong signature.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i32) (result i32)))
  (func (export "run") (result i32) (i32.const 0)))
