;; WASI preview-1 calls with hostile arguments. Each export makes one call and outputs the
;; errno it returned as a little-endian u64: the host must answer with an errno, never
;; trap, panic or touch memory outside the plug-in's.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get"
    (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir"
    (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))

  (memory (export "memory") 1)

  ;; Outputs an errno as a u64 and succeeds.
  (func $out (param $errno i32) (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (i64.extend_i32_u (local.get $errno)))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0))

  ;; An iovec whose buffer lies past the end of memory.
  (func (export "iovec_outside") (result i32)
    (i32.store (i32.const 0) (i32.const 0xfffffff0))
    (i32.store (i32.const 4) (i32.const 100))
    (call $out (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16))))

  ;; The iovec array itself past the end of memory, with a huge count.
  (func (export "iovs_outside") (result i32)
    (call $out
      (call $fd_write (i32.const 1) (i32.const 0x7ffffff0) (i32.const 1000000) (i32.const 16))))

  ;; A valid iovec, and the result pointer past the end of memory.
  (func (export "result_outside") (result i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 4))
    (call $out (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const -4))))

  ;; A read into a buffer that straddles the end of memory.
  (func (export "read_straddling") (result i32)
    (i32.store (i32.const 0) (i32.const 65530))
    (i32.store (i32.const 4) (i32.const 100))
    (call $out (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16))))

  ;; Random bytes past the end of memory, then a length of 4 GiB - 1.
  (func (export "random_outside") (result i32)
    (call $out (call $random_get (i32.const 65530) (i32.const 100))))
  (func (export "random_huge") (result i32)
    (call $out (call $random_get (i32.const 0) (i32.const -1))))

  ;; A path that is not UTF-8, under the first preopen (fd 3).
  (func (export "path_not_utf8") (result i32)
    (i32.store8 (i32.const 100) (i32.const 0xff))
    (i32.store8 (i32.const 101) (i32.const 0xfe))
    (call $out
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 2)
        (i32.const 0) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0)
        (i32.const 200))))

  ;; A path length of 4 GiB - 1.
  (func (export "path_huge") (result i32)
    (call $out
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const -1)
        (i32.const 0) (i64.const 0x1fffffff) (i64.const 0x1fffffff) (i32.const 0)
        (i32.const 200))))

  ;; A file descriptor nobody opened.
  (func (export "bad_fd") (result i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 4))
    (call $out (call $fd_write (i32.const 12345) (i32.const 0) (i32.const 1) (i32.const 16))))

  ;; poll_oneoff with no subscriptions, then with a huge count.
  (func (export "poll_nothing") (result i32)
    (call $out (call $poll_oneoff (i32.const 0) (i32.const 1024) (i32.const 0) (i32.const 16))))
  (func (export "poll_huge") (result i32)
    (call $out
      (call $poll_oneoff (i32.const 0) (i32.const 1024) (i32.const 0x7fffffff) (i32.const 16))))

  ;; fd_readdir on the first preopen with a hostile cookie.
  (func (export "readdir_cookie") (result i32)
    (call $out
      (call $fd_readdir (i32.const 3) (i32.const 0) (i32.const 4096) (i64.const -1)
        (i32.const 8192))))
)
