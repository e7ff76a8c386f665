;; Calls a slow host function, then loops forever: the host function must run to its end,
;; and the call must stop at its deadline once it has returned.
(module
  (import "extism:host/user" "wait" (func $wait))
  (func (export "run") (result i32)
    (call $wait)
    (loop $forever (br $forever))
    (i32.const 0)))
