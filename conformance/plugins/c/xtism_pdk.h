/*
 * xtism_pdk.h -- a minimal, freestanding C binding to the Extism kernel ABI
 * ("extism:host/env"), written for the xtism conformance plug-ins.
 *
 * No libc, no WASI: every function here is either an import from
 * "extism:host/env" or a small static inline helper built on top of them.
 * Compile for wasm32 with e.g.
 *
 *   zig cc --target=wasm32-freestanding -nostdlib -O2 -Wl,--no-entry \
 *          -Wl,--export=my_export plugin.c -o plugin.wasm
 *
 * Kernel ABI summary (wasm types): everything is i64 except that load_u8 and
 * input_load_u8 return i32 and store_u8 takes (i64, i32). Memory "handles" are
 * offsets into the kernel's memory (not the plug-in's linear memory); 0 means
 * "none".
 */
#ifndef XTISM_PDK_H
#define XTISM_PDK_H

#include <stdint.h>
#include <stddef.h>

typedef uint64_t xtism_handle; /* offset of a block in kernel memory, 0 = none */

#define XTISM_IMPORT(name) \
  __attribute__((import_module("extism:host/env"), import_name(name)))

/* ---- kernel memory ------------------------------------------------------ */
XTISM_IMPORT("alloc")    xtism_handle xtism_alloc(uint64_t len);
XTISM_IMPORT("free")     void xtism_free(xtism_handle h);
XTISM_IMPORT("length")   uint64_t xtism_length(xtism_handle h);
XTISM_IMPORT("load_u8")  uint8_t xtism_load_u8(uint64_t offs);
XTISM_IMPORT("load_u64") uint64_t xtism_load_u64(uint64_t offs);
XTISM_IMPORT("store_u8") void xtism_store_u8(uint64_t offs, uint8_t v);
XTISM_IMPORT("store_u64") void xtism_store_u64(uint64_t offs, uint64_t v);

/* ---- input / output / error --------------------------------------------- */
XTISM_IMPORT("input_length")   uint64_t xtism_input_length(void);
XTISM_IMPORT("input_load_u8")  uint8_t xtism_input_load_u8(uint64_t offs);
XTISM_IMPORT("input_load_u64") uint64_t xtism_input_load_u64(uint64_t offs);
XTISM_IMPORT("output_set")     void xtism_output_set(xtism_handle h, uint64_t len);
XTISM_IMPORT("error_set")      void xtism_error_set(xtism_handle h);

/* ---- config and vars ---------------------------------------------------- */
XTISM_IMPORT("config_get") xtism_handle xtism_config_get(xtism_handle key);
XTISM_IMPORT("var_get")    xtism_handle xtism_var_get(xtism_handle key);
XTISM_IMPORT("var_set")    void xtism_var_set(xtism_handle key, xtism_handle value);

/* ---- logging -------------------------------------------------------------- */
XTISM_IMPORT("log_trace") void xtism_log_trace(xtism_handle msg);
XTISM_IMPORT("log_debug") void xtism_log_debug(xtism_handle msg);
XTISM_IMPORT("log_info")  void xtism_log_info(xtism_handle msg);
XTISM_IMPORT("log_warn")  void xtism_log_warn(xtism_handle msg);
XTISM_IMPORT("log_error") void xtism_log_error(xtism_handle msg);

/* Only referenced imports end up in the module, so declaring all of the
 * above costs nothing in plug-ins that do not use them. */

/* ---- helpers ------------------------------------------------------------ */

/* Copy len bytes from plug-in memory `src` into kernel memory at `offs`,
 * 8 bytes at a time, then byte by byte for the tail. */
static inline void xtism_store(uint64_t offs, const void *src, uint64_t len) {
  const uint8_t *p = (const uint8_t *)src;
  uint64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, p + i, 8);
    xtism_store_u64(offs + i, w);
  }
  for (; i < len; i++) xtism_store_u8(offs + i, p[i]);
}

/* Copy len bytes from kernel memory at `offs` into plug-in memory `dst`. */
static inline void xtism_load(uint64_t offs, void *dst, uint64_t len) {
  uint8_t *p = (uint8_t *)dst;
  uint64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w = xtism_load_u64(offs + i);
    __builtin_memcpy(p + i, &w, 8);
  }
  for (; i < len; i++) p[i] = xtism_load_u8(offs + i);
}

/* Length of a NUL-terminated string. */
static inline uint64_t xtism_strlen(const char *s) {
  uint64_t n = 0;
  while (s[n]) n++;
  return n;
}

/* Allocate a kernel block holding a copy of `len` bytes at `src`.
 * Returns 0 when len == 0 (the kernel's alloc(0) may return 0 too). */
static inline xtism_handle xtism_alloc_bytes(const void *src, uint64_t len) {
  if (len == 0) return 0;
  xtism_handle h = xtism_alloc(len);
  if (h != 0) xtism_store(h, src, len);
  return h;
}

/* Read the plug-in input into `buf` (capacity `cap` bytes). Copies at most
 * `cap` bytes and returns the FULL input length, so a return value greater
 * than `cap` means the input was truncated. */
static inline uint64_t xtism_input_read(void *buf, uint64_t cap) {
  uint64_t len = xtism_input_length();
  uint64_t n = len < cap ? len : cap;
  uint8_t *p = (uint8_t *)buf;
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w = xtism_input_load_u64(i);
    __builtin_memcpy(p + i, &w, 8);
  }
  for (; i < n; i++) p[i] = xtism_input_load_u8(i);
  return len;
}

/* Set the plug-in output to a copy of `len` bytes at `src`. */
static inline void xtism_output_bytes(const void *src, uint64_t len) {
  xtism_output_set(xtism_alloc_bytes(src, len), len);
}

/* Set the plug-in output to a NUL-terminated string. */
static inline void xtism_output_str(const char *s) {
  xtism_output_bytes(s, xtism_strlen(s));
}

/* Set the Extism error message (the export should then return non-zero).
 * Use a non-empty message: an empty one becomes handle 0. */
static inline void xtism_error_str(const char *msg) {
  xtism_error_set(xtism_alloc_bytes(msg, xtism_strlen(msg)));
}

/* Log a NUL-terminated string at info level. */
static inline void xtism_log_info_str(const char *msg) {
  xtism_log_info(xtism_alloc_bytes(msg, xtism_strlen(msg)));
}

/* Write the decimal form of `v` into `out` (at least 20 bytes); returns the
 * number of bytes written (no NUL terminator). */
static inline uint64_t xtism_u64_to_dec(uint64_t v, char *out) {
  char tmp[20];
  uint64_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (uint64_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

#endif /* XTISM_PDK_H */
