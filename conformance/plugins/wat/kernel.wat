;; ABI-level plug-in exercising every `extism:host/env` import, including hostile arguments.
;;
;; Most exports report what they observed as a list of little-endian u64 "facts" in their
;; output (see $begin/$push/$end), so the suite can compare each observation.
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
  (import "extism:host/env" "http_request" (func $http_request (param i64 i64) (result i64)))
  (import "extism:host/env" "http_status_code" (func $http_status_code (result i32)))
  (import "extism:host/env" "http_headers" (func $http_headers (result i64)))
  (import "extism:host/env" "log_trace" (func $log_trace (param i64)))
  (import "extism:host/env" "log_debug" (func $log_debug (param i64)))
  (import "extism:host/env" "log_info" (func $log_info (param i64)))
  (import "extism:host/env" "log_warn" (func $log_warn (param i64)))
  (import "extism:host/env" "log_error" (func $log_error (param i64)))
  (import "extism:host/env" "get_log_level" (func $get_log_level (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 0) "count")
  (data (i32.const 16) "no value")

  (global $out (mut i64) (i64.const 0))
  (global $count (mut i64) (i64.const 0))

  ;; Starts a list of at most $n facts.
  (func $begin (param $n i64)
    (global.set $out (call $alloc (i64.mul (local.get $n) (i64.const 8))))
    (global.set $count (i64.const 0)))
  (func $push (param $v i64)
    (call $store_u64
      (i64.add (global.get $out) (i64.mul (global.get $count) (i64.const 8)))
      (local.get $v))
    (global.set $count (i64.add (global.get $count) (i64.const 1))))
  (func $end (result i32)
    (call $output_set (global.get $out) (i64.mul (global.get $count) (i64.const 8)))
    (i32.const 0))

  ;; Copies $len bytes of this module's memory at $ptr into a new kernel block.
  (func $block_from (param $ptr i32) (param $len i64) (result i64)
    (local $h i64) (local $i i64)
    (local.set $h (call $alloc (local.get $len)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $len)))
        (call $store_u8
          (i64.add (local.get $h) (local.get $i))
          (i32.load8_u (i32.add (local.get $ptr) (i32.wrap_i64 (local.get $i)))))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (local.get $h))

  ;; A block holding a copy of the input.
  (func $input_block (result i64)
    (local $h i64) (local $i i64) (local $n i64)
    (local.set $n (call $input_length))
    (local.set $h (call $alloc (local.get $n)))
    (block $done
      (loop $copy
        (br_if $done (i64.gt_u (i64.add (local.get $i) (i64.const 8)) (local.get $n)))
        (call $store_u64 (i64.add (local.get $h) (local.get $i)) (call $input_load_u64 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 8)))
        (br $copy)))
    (block $done
      (loop $copy
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (call $store_u8 (i64.add (local.get $h) (local.get $i)) (call $input_load_u8 (local.get $i)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $copy)))
    (local.get $h))

  ;; Output = input, copied through a block with input_load_u64/u8 and store_u64/u8.
  (func (export "echo") (result i32)
    (call $output_set (call $input_block) (call $input_length))
    (i32.const 0))

  ;; Output = the input block itself (no copy).
  (func (export "echo_in_place") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0))

  ;; Blocks, lengths, loads and stores, including out-of-bounds and bogus handles.
  (func (export "blocks") (result i32)
    (local $h i64) (local $h2 i64) (local $before i64)
    (local.set $h (call $alloc (i64.const 10)))
    (call $begin (i64.const 24))
    (call $push (call $length (local.get $h)))                          ;; 0: 10
    (call $push (call $length_unsafe (local.get $h)))                   ;; 1: 10
    (call $push (call $length (i64.add (local.get $h) (i64.const 1))))  ;; 2: 0 (not a block start)
    (call $push (call $length (i64.const 0)))                           ;; 3: 0
    (call $push (call $length (i64.const -1)))                          ;; 4: 0
    (call $store_u64 (local.get $h) (i64.const 0x0807060504030201))
    (call $push (call $load_u64 (local.get $h)))                        ;; 5: 0x0807060504030201
    (call $store_u8 (local.get $h) (i32.const 0xAB))
    (call $push (i64.extend_i32_u (call $load_u8 (local.get $h))))      ;; 6: 0xAB
    (call $push (i64.extend_i32_u (call $load_u8 (i64.const 0x7FFFFFFFFFFF)))) ;; 7: 0 (out of bounds)
    (call $push (call $load_u64 (i64.const -8)))                        ;; 8: 0 (out of bounds)
    (call $store_u8 (i64.const 0x7FFFFFFFFFFF) (i32.const 1))           ;; ignored
    (call $store_u64 (i64.const -1) (i64.const 1))                      ;; ignored
    (local.set $before (call $input_length))
    (call $store_u64 (i64.const 8) (i64.const 999))                     ;; header: ignored
    (call $push (i64.extend_i32_u (i64.eq (local.get $before) (call $input_length))))      ;; 9: 1 (header intact)
    (call $push (i64.extend_i32_u (i64.ne (call $memory_bytes) (i64.const 0))))            ;; 10: 1
    (call $free (local.get $h))
    (call $push (call $length (local.get $h)))                          ;; 11: 0 after free
    (call $free (local.get $h))                                         ;; double free: no-op
    (call $free (i64.const 12345))                                      ;; bogus: no-op
    (call $free (i64.const 0))                                          ;; null: no-op
    (call $free (i64.const -1))                                         ;; bogus: no-op
    (call $push (call $alloc (i64.const 0)))                            ;; 12: 0
    (local.set $h2 (call $alloc (i64.const 10)))
    (call $push (i64.extend_i32_u (i64.eq (local.get $h2) (local.get $h))))                ;; 13: 1 (freed block reused)
    (call $push (call $alloc (i64.const 0x10000000000)))                ;; 14: 0 (1 TiB)
    (call $push (call $alloc (i64.const -1)))                           ;; 15: 0
    (call $push (call $length (local.get $h2)))                         ;; 16: 10
    (call $end))

  ;; Input access: lengths and loads at and past the end.
  (func (export "input") (result i32)
    (call $begin (i64.const 8))
    (call $push (call $input_length))                                   ;; 0: n
    (call $push (i64.extend_i32_u (call $input_load_u8 (i64.const 0)))) ;; 1: first byte
    (call $push (i64.extend_i32_u (call $input_load_u8 (call $input_length)))) ;; 2: 0 past end
    (call $push (call $input_load_u64 (i64.const 0)))                   ;; 3: first 8 bytes (n >= 8)
    (call $push (call $input_load_u64 (i64.sub (call $input_length) (i64.const 4)))) ;; 4: 0 (partial)
    (call $push (i64.extend_i32_u (call $input_load_u8 (i64.const -1)))) ;; 5: 0
    (call $push (call $input_load_u64 (i64.const -1)))                  ;; 6: 0
    (call $push (call $length (call $input_offset)))                    ;; 7: n (input is a block)
    (call $end))

  ;; Arguments left by `local.tee` (core's merge reads inlined arguments from locals), and a
  ;; tee that overwrites a local whose old value is an earlier argument of the same call.
  (func (export "tee_arguments") (result i32)
    (local $h i64) (local $x i64) (local $y i64)
    (local.set $h (call $alloc (i64.const 16)))
    (call $begin (i64.const 3))
    (local.set $x (local.get $h))
    (local.set $y (i64.const 7))
    ;; store_u64(old $x, $y), with $x := $y in between.
    (call $store_u64 (local.get $x) (local.tee $x (local.get $y)))
    (call $push (call $load_u64 (local.get $h)))                        ;; 0: 7
    (call $push (local.get $x))                                         ;; 1: 7
    (call $push (call $input_load_u64 (local.tee $y (i64.const 0))))    ;; 2: first 8 bytes
    (call $end))

  ;; Freeing the input block empties the input; reset frees everything.
  (func (export "free_input_and_reset") (result i32)
    (local $h i64)
    (call $free (call $input_offset))
    (local.set $h (call $input_length))
    (drop (call $alloc (i64.const 100)))
    (call $reset)
    (call $begin (i64.const 4))
    (call $push (local.get $h))                                         ;; 0: 0 after free
    (call $push (i64.const 1))                                          ;; 1: marker
    (call $end))

  ;; memory_bytes after reset, and output getters.
  (func (export "reset_and_getters") (result i32)
    (local $h i64) (local $used i64)
    (drop (call $alloc (i64.const 1000)))
    (call $reset)
    (local.set $used (call $memory_bytes))
    (local.set $h (call $alloc (i64.const 16)))
    (call $store_u64 (local.get $h) (local.get $used))
    (call $store_u64 (i64.add (local.get $h) (i64.const 8)) (call $input_length))
    (call $output_set (local.get $h) (i64.const 16))
    (if (i64.ne (call $output_offset) (local.get $h)) (then unreachable))
    (if (i64.ne (call $output_length) (i64.const 16)) (then unreachable))
    (i32.const 0))

  ;; Output = config value for the key given as input, or "no value".
  (func (export "config") (result i32)
    (local $v i64)
    (local.set $v (call $config_get (call $input_block)))
    (if (i64.eqz (local.get $v))
      (then (local.set $v (call $block_from (i32.const 16) (i64.const 8)))))
    (call $output_set (local.get $v) (call $length (local.get $v)))
    (i32.const 0))

  ;; Increments the u64 var "count" and outputs it. var_set takes its blocks.
  (func (export "count") (result i32)
    (local $v i64) (local $n i64) (local $h i64) (local $out i64)
    (local.set $v (call $var_get (call $block_from (i32.const 0) (i64.const 5))))
    (if (i64.ne (local.get $v) (i64.const 0))
      (then (local.set $n (call $load_u64 (local.get $v)))))
    (local.set $n (i64.add (local.get $n) (i64.const 1)))
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (local.get $n))
    (call $var_set (call $block_from (i32.const 0) (i64.const 5)) (local.get $h))
    (if (i64.ne (call $length (local.get $h)) (i64.const 0)) (then unreachable))
    (local.set $out (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $out) (local.get $n))
    (call $output_set (local.get $out) (i64.const 8))
    (i32.const 0))

  ;; Sets var "count" to the input bytes (used to test max_var_bytes).
  (func (export "set_count_to_input") (result i32)
    (call $var_set (call $block_from (i32.const 0) (i64.const 5)) (call $input_block))
    (i32.const 0))

  ;; Removes var "count".
  (func (export "clear_count") (result i32)
    (call $var_set (call $block_from (i32.const 0) (i64.const 5)) (i64.const 0))
    (i32.const 0))

  ;; Sets the input as error message and returns 7; error_get reports the handle.
  (func (export "fail_with_input") (result i32)
    (local $h i64)
    (local.set $h (call $input_block))
    (call $error_set (local.get $h))
    (if (i64.ne (call $error_get) (local.get $h)) (then unreachable))
    (i32.const 7))

  ;; Sets an error, clears it again, returns 0: the call succeeds.
  (func (export "error_cleared") (result i32)
    (call $error_set (call $input_block))
    (call $error_set (i64.const 0))
    (if (i64.ne (call $error_get) (i64.const 0)) (then unreachable))
    (i32.const 0))

  ;; Returns 3 with an error handle that is not a block.
  (func (export "fail_with_bogus_error") (result i32)
    (call $error_set (i64.const 999999))
    (i32.const 3))

  ;; Sets an error message, then traps.
  (func (export "fail_then_trap") (result i32)
    (call $error_set (call $input_block))
    unreachable)

  (func (export "trap") (result i32) unreachable)

  ;; A `() -> ()` export: output = input.
  (func (export "void_echo")
    (call $output_set (call $input_offset) (call $input_length)))

  ;; Logs the input at every level; outputs get_log_level.
  (func (export "log") (result i32)
    (call $log_trace (call $input_block))
    (call $log_debug (call $input_block))
    (call $log_info (call $input_block))
    (call $log_warn (call $input_block))
    (call $log_error (call $input_block))
    (call $begin (i64.const 1))
    (call $push (i64.extend_i32_s (call $get_log_level)))
    (call $end))

  ;; HTTP: the status and the headers handle of the last response.
  (func (export "http_getters") (result i32)
    (call $begin (i64.const 2))
    (call $push (i64.extend_i32_s (call $http_status_code)))
    (call $push (call $http_headers))
    (call $end))
  ;; The input is the request JSON; no body. Outputs the response body.
  (func (export "http") (result i32)
    (local $h i64)
    (local.set $h (call $http_request (call $input_block) (i64.const 0)))
    (call $output_set (local.get $h) (call $length (local.get $h)))
    (i32.const 0))
  ;; The input is the request JSON; the body handle is bogus.
  (func (export "http_bad_body") (result i32)
    (drop (call $http_request (call $input_block) (i64.const 12345)))
    (i32.const 0))

  ;; Bogus handles and ranges handed to host imports: each must fail cleanly.
  (func (export "bad_config_key") (result i32)
    (drop (call $config_get (i64.const 123456))) (i32.const 0))
  (func (export "bad_var_key") (result i32)
    (drop (call $var_get (i64.const -5))) (i32.const 0))
  (func (export "bad_var_value") (result i32)
    (call $var_set (call $block_from (i32.const 0) (i64.const 5)) (i64.const 7)) (i32.const 0))
  (func (export "bad_log") (result i32)
    (call $log_info (i64.const 0x7FFFFFFFFFFFFFFF)) (i32.const 0))
  (func (export "bad_output") (result i32)
    (call $output_set (i64.const 0xFFFFFF00) (i64.const 0x1000)) (i32.const 0))
  (func (export "non_utf8_key") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (i32.const 0xFF))
    (drop (call $var_get (local.get $h))) (i32.const 0))

  ;; Allocates blocks of the input's size (as u64) until alloc returns 0 (or, under
  ;; `memory.max_pages`, the call fails); outputs the count.
  (func (export "alloc_until_full") (result i32)
    (local $size i64) (local $n i64)
    (local.set $size (call $input_load_u64 (i64.const 0)))
    (block $done
      (loop $more
        (br_if $done (i64.eqz (call $alloc (local.get $size))))
        (local.set $n (i64.add (local.get $n) (i64.const 1)))
        (br_if $done (i64.ge_u (local.get $n) (i64.const 1000000)))
        (br $more)))
    (call $begin (i64.const 1))
    (call $push (local.get $n))
    (call $end))

  ;; Grows this module's memory by the input (u64) pages; outputs memory.grow's result.
  (func (export "grow") (result i32)
    (call $begin (i64.const 1))
    (call $push (i64.extend_i32_s (memory.grow (i32.wrap_i64 (call $input_load_u64 (i64.const 0))))))
    (call $end))

  (func (export "spin") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))

  ;; Not Extism exports: wrong signatures.
  (func (export "takes_params") (param i32) (result i32) (i32.const 0))
  (func (export "returns_i64") (result i64) (i64.const 0))
)
