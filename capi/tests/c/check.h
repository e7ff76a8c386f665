/*
 * check.h: assertions and helpers shared by the C test programs of libxtism.
 *
 * Every program is run as `prog CORPUS_DIR`, where CORPUS_DIR is conformance/plugins. A
 * failed CHECK prints where and why and lets the program go on; REQUIRE stops it. main
 * ends with `return check_report();`, which exits non-zero after any failure.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extism.h"

/* The number of failed CHECKs so far. */
static int check_failures;

/* The corpus directory, from argv[1]. */
static const char *check_corpus;

/* `s`, or "(null)" for NULL: for printing strings the library may not have. */
static inline const char *show(const char *s) { return s != NULL ? s : "(null)"; }

__attribute__((format(printf, 4, 5))) static inline void check_fail(const char *file, int line,
                                                                    const char *expr, const char *fmt,
                                                                    ...) {
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "%s:%d: FAILED %s: ", file, line, expr);
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
  check_failures++;
}

/* Records a failure with a printf-style message when `cond` is false. */
#define CHECK(cond, ...)                                          \
  do {                                                            \
    if (!(cond)) check_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
  } while (0)

/* CHECK, then exits at once: for conditions the rest of the program depends on. */
#define REQUIRE(cond, ...)                                        \
  do {                                                            \
    if (!(cond)) {                                                \
      check_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);         \
      exit(1);                                                    \
    }                                                             \
  } while (0)

/* Reads argv[1] into check_corpus; exits with a usage message when it is missing. */
static inline void check_init(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR (conformance/plugins)\n", argv[0]);
    exit(2);
  }
  check_corpus = argv[1];
}

/* Prints the outcome and returns the exit code for main. */
static inline int check_report(void) {
  const char *engine = getenv("XTISM_ENGINE");
  if (check_failures == 0) {
    printf("ok (engine %s)\n", engine ? engine : "default");
    return 0;
  }
  fprintf(stderr, "%d check(s) failed (engine %s)\n", check_failures, engine ? engine : "default");
  return 1;
}

/* `rel` under the corpus directory, in a buffer of the caller's. */
static inline const char *corpus_path(char *buf, size_t size, const char *rel) {
  int n = snprintf(buf, size, "%s/%s", check_corpus, rel);
  REQUIRE(n > 0 && (size_t)n < size, "path too long: %s/%s", check_corpus, rel);
  return buf;
}

/* The whole file `rel` of the corpus, malloc'ed; its length goes to `*len`. */
static inline uint8_t *corpus_file(const char *rel, size_t *len) {
  char path[4096];
  corpus_path(path, sizeof path, rel);
  FILE *f = fopen(path, "rb");
  REQUIRE(f != NULL, "cannot open %s", path);
  REQUIRE(fseek(f, 0, SEEK_END) == 0, "cannot seek %s", path);
  long size = ftell(f);
  REQUIRE(size >= 0, "cannot size %s", path);
  REQUIRE(fseek(f, 0, SEEK_SET) == 0, "cannot seek %s", path);
  uint8_t *data = malloc((size_t)size + 1);
  REQUIRE(data != NULL, "out of memory");
  REQUIRE(fread(data, 1, (size_t)size, f) == (size_t)size, "cannot read %s", path);
  fclose(f);
  data[size] = 0;
  *len = (size_t)size;
  return data;
}

/* A plug-in from WebAssembly text (or a JSON manifest) held in a C string; exits on failure. */
static inline ExtismPlugin *plugin_from_text(const char *text, const ExtismFunction **functions,
                                             ExtismSize n_functions) {
  char *err = NULL;
  ExtismPlugin *plugin =
      extism_plugin_new((const uint8_t *)text, strlen(text), functions, n_functions, false, &err);
  REQUIRE(plugin != NULL, "extism_plugin_new: %s", show(err));
  return plugin;
}

/* A plug-in from the corpus file `rel`; exits on failure. */
static inline ExtismPlugin *plugin_from_corpus(const char *rel, const ExtismFunction **functions,
                                               ExtismSize n_functions, bool with_wasi) {
  size_t len;
  uint8_t *wasm = corpus_file(rel, &len);
  char *err = NULL;
  ExtismPlugin *plugin = extism_plugin_new(wasm, len, functions, n_functions, with_wasi, &err);
  REQUIRE(plugin != NULL, "extism_plugin_new(%s): %s", rel, show(err));
  free(wasm);
  return plugin;
}

/* Calls `func` with a C string as input; returns extism_plugin_call's code. */
static inline int32_t call_str(ExtismPlugin *plugin, const char *func, const char *input) {
  return extism_plugin_call(plugin, func, (const uint8_t *)input, strlen(input));
}

/* Whether the last call's output is exactly the C string `expected`. */
static inline bool output_is(ExtismPlugin *plugin, const char *expected) {
  ExtismSize len = extism_plugin_output_length(plugin);
  const uint8_t *data = extism_plugin_output_data(plugin);
  return len == strlen(expected) && (len == 0 || (data != NULL && memcmp(data, expected, len) == 0));
}

/* The last call's output as a NUL-terminated string, in a buffer of the caller's. */
static inline const char *output_text(ExtismPlugin *plugin, char *buf, size_t size) {
  ExtismSize len = extism_plugin_output_length(plugin);
  const uint8_t *data = extism_plugin_output_data(plugin);
  size_t n = len < size - 1 ? (size_t)len : size - 1;
  if (data != NULL && n > 0) memcpy(buf, data, n);
  buf[n] = 0;
  return buf;
}

/* Calls `func` with `input` and checks that it succeeds with the output `expected`. */
#define CHECK_CALL(plugin, func, input, expected)                                           \
  do {                                                                                      \
    int32_t rc_ = call_str((plugin), (func), (input));                                      \
    const char *err_ = extism_plugin_error(plugin);                                         \
    char out_[512];                                                                         \
    CHECK(rc_ == 0, "%s(%s) returned %d: %s", (func), (input), rc_, show(err_)); \
    CHECK(err_ == NULL, "%s(%s): error after success: %s", (func), (input), err_);         \
    CHECK(output_is((plugin), (expected)), "%s(%s): output \"%s\", expected \"%s\"",        \
          (func), (input), output_text((plugin), out_, sizeof out_), (expected));          \
  } while (0)

/* Whether `haystack` (may be NULL) contains `needle`. */
static inline bool contains(const char *haystack, const char *needle) {
  return haystack != NULL && strstr(haystack, needle) != NULL;
}
