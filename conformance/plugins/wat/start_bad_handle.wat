;; A start function that hands the host a bogus handle: the first call reports the host's
;; own error, not a bare trap.
(module
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (func $start (drop (call $config_get (i64.const 12345))))
  (start $start)
  (func (export "run") (result i32) (i32.const 0)))
