;; A start function that never returns: the plug-in must still load, and its first call
;; must stop at its timeout or fuel budget.
(module
  (func $start (loop $forever (br $forever)))
  (start $start)
  (func (export "run") (result i32) (i32.const 0)))
