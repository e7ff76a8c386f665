;; Attempts on the WASI sandbox found by adversarial testing. The host maps a writable
;; directory at fd 3 and a read-only one (`ro:`) at fd 4 (preopens are numbered in the order
;; of their host paths, and the writable one's sorts first). Each export outputs the errno
;; of the attempt as a little-endian u64 (0: the attempt went through).
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size"
    (func $set_size (param i32 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_times"
    (func $set_times (param i32 i64 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link"
    (func $link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get"
    (func $random (param i32 i32) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))

  ;; 5 MiB: room for the 4 MiB random_get buffer at offset 65536.
  (memory (export "memory") 80)
  (data (i32.const 16) "hello.txt")
  (data (i32.const 32) "linked.txt")
  (data (i32.const 48) "fifo")

  (func $out (param $errno i32) (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (i64.extend_i32_u (local.get $errno)))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0))

  ;; Opens hello.txt of the read-only mapping with read rights only and `fdflags`; the new fd
  ;; is at offset 0.
  (func $open_ro (param $fdflags i32) (result i32)
    (call $open (i32.const 4) (i32.const 1) (i32.const 16) (i32.const 9) (i32.const 0)
      (i64.const 2) (i64.const 0) (local.get $fdflags) (i32.const 0)))

  ;; APPEND makes wasi-common open the file for writing: then truncate it.
  (func (export "append_then_truncate") (result i32)
    (local $e i32)
    (local.set $e (call $open_ro (i32.const 1)))
    (if (i32.eqz (local.get $e))
      (then (local.set $e (call $set_size (i32.load (i32.const 0)) (i64.const 0)))))
    (call $out (local.get $e)))

  ;; A read-only descriptor, then its times set to the epoch (ATIM | MTIM = 5).
  (func (export "read_then_set_times") (result i32)
    (local $e i32)
    (local.set $e (call $open_ro (i32.const 0)))
    (if (i32.eqz (local.get $e))
      (then (local.set $e (call $set_times (i32.load (i32.const 0))
        (i64.const 0) (i64.const 0) (i32.const 5)))))
    (call $out (local.get $e)))

  ;; A hard link from the read-only mapping into the writable one.
  (func (export "link_out_of_read_only") (result i32)
    (call $out (call $link (i32.const 4) (i32.const 0) (i32.const 16) (i32.const 9)
      (i32.const 3) (i32.const 32) (i32.const 10))))

  ;; A FIFO the host left in the writable mapping, opened for reading (which blocks in
  ;; open(2) until a writer comes).
  (func (export "open_fifo") (result i32)
    (call $out (call $open (i32.const 3) (i32.const 1) (i32.const 48) (i32.const 4)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 0))))

  ;; 4 MiB of random bytes, forever: each WASI call is long, the loop between them short.
  (func (export "random_forever") (result i32)
    (loop $again
      (drop (call $random (i32.const 65536) (i32.const 4194304)))
      (br $again))
    (i32.const 0))
)
