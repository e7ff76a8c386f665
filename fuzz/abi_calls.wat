;; The guest of the `abi_calls` fuzz target: a plug-in whose export `run` reads its input as
;; a program of kernel calls and makes them, one by one, with the arguments the program
;; gives, exactly as a plug-in does (the values travel from Wasm to the imports).
;;
;; The program (decoded the same way by the harness, fuzz_targets/abi_calls.rs):
;;   op    one byte; the call is op % 28 (see the `$op_*` comments below)
;;   arg   one byte t, then: t < 0x40: the value t; t < 0x80: a u64 from the next 8 bytes
;;         (little-endian); otherwise the result of the (t & 0x7f)-th call before this one
;;         (0 = the one just before), 0 when there is none
;; Bytes past the end of the program read as 0; the program stops at its end or after
;; 4096 calls. Each call's result (0 for imports that return nothing; i32 results
;; zero-extended) goes to the host function `extism:host/user::record` as the call returns,
;; and is kept for later arguments. `run` returns the code set by op 26 (0 by default).
;;
;; `echo` is an ordinary plug-in function (output = input) for the call after a failure.
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "length_unsafe" (func $length_unsafe (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func $load_u8 (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func $load_u64 (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "output_length" (func $output_length (result i64)))
  (import "extism:host/env" "output_offset" (func $output_offset (result i64)))
  (import "extism:host/env" "error_set" (func $error_set (param i64)))
  (import "extism:host/env" "error_get" (func $error_get (result i64)))
  (import "extism:host/env" "reset" (func $reset))
  (import "extism:host/env" "memory_bytes" (func $memory_bytes (result i64)))
  (import "extism:host/env" "config_get" (func $config_get (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func $var_get (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (import "extism:host/env" "log_warn" (func $log_warn (param i64)))
  (import "extism:host/env" "get_log_level" (func $get_log_level (result i32)))
  (import "extism:host/env" "http_status_code" (func $http_status_code (result i32)))
  (import "extism:host/env" "http_headers" (func $http_headers (result i64)))
  (import "extism:host/user" "record" (func $record (param i64)))

  ;; 1024..31744: the program; 32768..65536: the results (4096 u64s).
  (memory (export "memory") 1)
  (global $pc (mut i32) (i32.const 0))
  (global $end (mut i32) (i32.const 0))
  (global $count (mut i32) (i32.const 0))
  (global $code (mut i32) (i32.const 0))

  ;; The next program byte, 0 past the end.
  (func $byte (result i32)
    (if (result i32) (i32.lt_u (global.get $pc) (global.get $end))
      (then
        (i32.load8_u offset=1024 (global.get $pc))
        (global.set $pc (i32.add (global.get $pc) (i32.const 1))))
      (else (i32.const 0))))

  ;; The next argument (see the encoding above).
  (func $arg (result i64)
    (local $t i32) (local $i i32) (local $v i64)
    (local.set $t (call $byte))
    (if (i32.lt_u (local.get $t) (i32.const 0x40))
      (then (return (i64.extend_i32_u (local.get $t)))))
    (if (i32.lt_u (local.get $t) (i32.const 0x80))
      (then
        (loop $bytes
          (local.set $v
            (i64.or (local.get $v)
              (i64.shl (i64.extend_i32_u (call $byte))
                (i64.extend_i32_u (i32.mul (local.get $i) (i32.const 8))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $bytes (i32.lt_u (local.get $i) (i32.const 8))))
        (return (local.get $v))))
    (local.set $t (i32.and (local.get $t) (i32.const 0x7f)))
    (if (result i64) (i32.lt_u (local.get $t) (global.get $count))
      (then
        (i64.load offset=32768
          (i32.shl (i32.sub (i32.sub (global.get $count) (local.get $t)) (i32.const 1))
            (i32.const 3))))
      (else (i64.const 0))))

  ;; Op 27: a block of n bytes (n = the next program byte) holding the next n program
  ;; bytes: alloc(n), then store_u8 at each of its offsets.
  (func $new_block (result i64)
    (local $n i32) (local $h i64) (local $i i32)
    (local.set $n (call $byte))
    (local.set $h (call $alloc (i64.extend_i32_u (local.get $n))))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $h) (i64.extend_i32_u (local.get $i))) (call $byte))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (local.get $h))

  ;; One call of the program; its result.
  (func $step (param $op i32) (result i64)
    (local $a i64)
    ;; 0 alloc(n) -> h
    (if (i32.eq (local.get $op) (i32.const 0)) (then (return (call $alloc (call $arg)))))
    ;; 1 free(h)
    (if (i32.eq (local.get $op) (i32.const 1))
      (then (call $free (call $arg)) (return (i64.const 0))))
    ;; 2 length(h), 3 length_unsafe(h)
    (if (i32.eq (local.get $op) (i32.const 2)) (then (return (call $length (call $arg)))))
    (if (i32.eq (local.get $op) (i32.const 3))
      (then (return (call $length_unsafe (call $arg)))))
    ;; 4 load_u8(p), 5 load_u64(p)
    (if (i32.eq (local.get $op) (i32.const 4))
      (then (return (i64.extend_i32_u (call $load_u8 (call $arg))))))
    (if (i32.eq (local.get $op) (i32.const 5)) (then (return (call $load_u64 (call $arg)))))
    ;; 6 store_u8(p, v as i32), 7 store_u64(p, v)
    (if (i32.eq (local.get $op) (i32.const 6))
      (then
        (local.set $a (call $arg))
        (call $store_u8 (local.get $a) (i32.wrap_i64 (call $arg)))
        (return (i64.const 0))))
    (if (i32.eq (local.get $op) (i32.const 7))
      (then
        (local.set $a (call $arg))
        (call $store_u64 (local.get $a) (call $arg))
        (return (i64.const 0))))
    ;; 8 input_length, 9 input_offset, 10 input_load_u8(off), 11 input_load_u64(off)
    (if (i32.eq (local.get $op) (i32.const 8)) (then (return (call $input_length))))
    (if (i32.eq (local.get $op) (i32.const 9)) (then (return (call $input_offset))))
    (if (i32.eq (local.get $op) (i32.const 10))
      (then (return (i64.extend_i32_u (call $input_load_u8 (call $arg))))))
    (if (i32.eq (local.get $op) (i32.const 11))
      (then (return (call $input_load_u64 (call $arg)))))
    ;; 12 output_set(h, n), 13 output_length, 14 output_offset
    (if (i32.eq (local.get $op) (i32.const 12))
      (then
        (local.set $a (call $arg))
        (call $output_set (local.get $a) (call $arg))
        (return (i64.const 0))))
    (if (i32.eq (local.get $op) (i32.const 13)) (then (return (call $output_length))))
    (if (i32.eq (local.get $op) (i32.const 14)) (then (return (call $output_offset))))
    ;; 15 error_set(h), 16 error_get
    (if (i32.eq (local.get $op) (i32.const 15))
      (then (call $error_set (call $arg)) (return (i64.const 0))))
    (if (i32.eq (local.get $op) (i32.const 16)) (then (return (call $error_get))))
    ;; 17 reset, 18 memory_bytes
    (if (i32.eq (local.get $op) (i32.const 17)) (then (call $reset) (return (i64.const 0))))
    (if (i32.eq (local.get $op) (i32.const 18)) (then (return (call $memory_bytes))))
    ;; 19 config_get(key) -> h, 20 var_get(key) -> h, 21 var_set(key, value)
    (if (i32.eq (local.get $op) (i32.const 19)) (then (return (call $config_get (call $arg)))))
    (if (i32.eq (local.get $op) (i32.const 20)) (then (return (call $var_get (call $arg)))))
    (if (i32.eq (local.get $op) (i32.const 21))
      (then
        (local.set $a (call $arg))
        (call $var_set (local.get $a) (call $arg))
        (return (i64.const 0))))
    ;; 22 log_info(h), 23 log_warn(h), 24 get_log_level
    (if (i32.eq (local.get $op) (i32.const 22))
      (then (call $log_info (call $arg)) (return (i64.const 0))))
    (if (i32.eq (local.get $op) (i32.const 23))
      (then (call $log_warn (call $arg)) (return (i64.const 0))))
    (if (i32.eq (local.get $op) (i32.const 24))
      (then (return (i64.extend_i32_u (call $get_log_level)))))
    ;; 25 http_status_code, http_headers (its sum: both are 0 here)
    (if (i32.eq (local.get $op) (i32.const 25))
      (then
        (return (i64.add (i64.extend_i32_u (call $http_status_code)) (call $http_headers)))))
    ;; 26 the code `run` returns (the argument as i32)
    (if (i32.eq (local.get $op) (i32.const 26))
      (then (global.set $code (i32.wrap_i64 (call $arg))) (return (i64.const 0))))
    ;; 27 a block holding the next bytes
    (call $new_block))

  (func (export "run") (result i32)
    (local $i i32) (local $r i64)
    ;; The program, copied out of the input block (which the program may free or reset).
    (global.set $end (i32.wrap_i64 (call $input_length)))
    (if (i32.gt_u (global.get $end) (i32.const 30720))
      (then (global.set $end (i32.const 30720))))
    (block $copied
      (loop $copy
        (br_if $copied (i32.ge_u (local.get $i) (global.get $end)))
        (i32.store8 offset=1024 (local.get $i)
          (call $input_load_u8 (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $copy)))
    (global.set $pc (i32.const 0))
    (global.set $count (i32.const 0))
    (global.set $code (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (global.get $pc) (global.get $end)))
        (br_if $done (i32.ge_u (global.get $count) (i32.const 4096)))
        (local.set $r (call $step (i32.rem_u (call $byte) (i32.const 28))))
        (i64.store offset=32768 (i32.shl (global.get $count) (i32.const 3)) (local.get $r))
        (global.set $count (i32.add (global.get $count) (i32.const 1)))
        (call $record (local.get $r))
        (br $next)))
    (global.get $code))

  (func (export "echo") (result i32)
    (local $n i64) (local $h i64) (local $i i64)
    (local.set $n (call $input_length))
    (local.set $h (call $alloc (local.get $n)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $h) (local.get $i))
          (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (call $output_set (local.get $h) (local.get $n))
    (i32.const 0))
)
