/*
 * wasi_lib: a WASI reactor meant to be a NON-main module of a manifest,
 * imported by name ("wasi_lib") from another module (wat/uses_wasi_lib.wat).
 * It uses WASI (stdout) but not the Extism kernel: no extism:host/env
 * imports.
 *
 * - lib_write: () -> i32, printf("lib says hi\n") and fflush(stdout); returns
 *              printf's result, 12 (or -1 if printf or fflush failed);
 * - lib_ctors: () -> i32, how many times the constructor ran (1 once
 *              _initialize has run, 0 if it never ran).
 */
#include <stdint.h>
#include <stdio.h>

static volatile int32_t ctor_runs;

__attribute__((constructor)) static void count_ctor(void) { ctor_runs++; }

__attribute__((export_name("lib_write"))) int32_t lib_write(void) {
  int n = printf("lib says hi\n");
  if (fflush(stdout) != 0) return -1;
  return n;
}

__attribute__((export_name("lib_ctors"))) int32_t lib_ctors(void) { return ctor_runs; }
