/*
 * wasi_util.h -- shared helpers for the WASI (wasm32-wasi, wasi-libc) C
 * plug-ins: read the Extism input into a libc buffer, set the output, and
 * report a failed libc call as an Extism error.
 *
 * Built on xtism_pdk.h (the extism:host/env imports); unlike the
 * freestanding plug-ins these may use libc (malloc, stdio, POSIX calls).
 *
 * Error convention: a failed libc call `f` sets the Extism error to
 * "f: errno N", where N is the decimal errno value. In wasi-libc errno values
 * ARE the WASI errno numbers (ENOENT 44, EACCES 2, EPERM 63, ENOTSUP 58,
 * ENOTCAPABLE 76, ...), and the export returns 1.
 */
#ifndef XTISM_WASI_UTIL_H
#define XTISM_WASI_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xtism_pdk.h"

#define WU_EXPORT(name) __attribute__((export_name(name)))

/* Read the whole Extism input into a fresh malloc'd buffer with a NUL after
 * the last byte (so it can be used as a path). *len gets the byte count.
 * Returns NULL only when malloc fails. */
static inline char *wu_input(size_t *len) {
  uint64_t n = xtism_input_length();
  char *buf = malloc((size_t)n + 1);
  if (buf == NULL) return NULL;
  xtism_input_read(buf, n);
  buf[n] = '\0';
  *len = (size_t)n;
  return buf;
}

/* Set the Extism output to `len` bytes at `p` (len 0 -> empty output). */
static inline void wu_output(const void *p, size_t len) {
  xtism_output_bytes(p, len);
}

static inline void wu_output_str(const char *s) { xtism_output_str(s); }

/* Set the Extism error to `msg` and return 1 (for `return wu_error(...)`). */
static inline int32_t wu_error(const char *msg) {
  xtism_error_str(msg);
  return 1;
}

/* Report the libc call `what` as failed with the current errno:
 * error "what: errno N", return 1. */
static inline int32_t wu_fail(const char *what) {
  int e = errno;
  char msg[128];
  snprintf(msg, sizeof msg, "%s: errno %d", what, e);
  return wu_error(msg);
}

/* Split `s` at its first '\n': the newline becomes NUL and the part after it
 * is returned (its length in *rest_len). Returns NULL when there is no '\n'.
 * `len` is the length of `s`, which may hold NUL bytes after the split. */
static inline char *wu_split(char *s, size_t len, size_t *rest_len) {
  char *nl = memchr(s, '\n', len);
  if (nl == NULL) return NULL;
  *nl = '\0';
  *rest_len = len - (size_t)(nl + 1 - s);
  return nl + 1;
}

/* Parse a non-negative decimal integer that fills all of `s` (no sign, no
 * spaces; empty -> 0). Returns 0 on success, -1 when `s` is not such a number
 * or exceeds `max`. */
static inline int wu_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > max) return -1;
  }
  *out = v;
  return 0;
}

#endif /* XTISM_WASI_UTIL_H */
