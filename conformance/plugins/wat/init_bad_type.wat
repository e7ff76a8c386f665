;; An `_initialize` of the wrong type is not an initializer: it is never called.
(module
  (func (export "_initialize") (param i32) unreachable)
  (func (export "run") (result i32) (i32.const 0)))
