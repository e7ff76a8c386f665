;; An `_initialize` that never returns: the first call must stop at its timeout or fuel.
(module
  (func (export "_initialize") (loop $forever (br $forever)))
  (func (export "run") (result i32) (i32.const 0)))
