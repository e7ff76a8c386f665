/*
 * wasi_both: a WASI reactor (exports _initialize) that ALSO exports a
 * function named _start, as some Go builds do. A host has to pick one
 * convention; this module lets the suite check which.
 *
 * - a constructor counts its runs (_initialize runs it);
 * - count:  () -> i32, outputs "ctors=<constructor runs> calls=<count calls>",
 *           counting this call;
 * - _start: () -> (), writes "start ran\n" to stdout (fputs + fflush, so
 *           the module really imports WASI) and sets the output to
 *           "start ran". It is our own function, not wasi-libc's
 *           crt1-command _start: it runs no constructors and no main, and may
 *           run any number of times.
 */
#include "wasi_util.h"

static volatile uint32_t ctor_runs;
static uint32_t count_calls;

__attribute__((constructor)) static void count_ctor(void) { ctor_runs++; }

WU_EXPORT("count") int32_t count(void) {
  count_calls++;
  char out[48];
  snprintf(out, sizeof out, "ctors=%u calls=%u", (unsigned)ctor_runs, (unsigned)count_calls);
  wu_output_str(out);
  return 0;
}

/* wasm-ld accepts the export name _start in a reactor: with
 * -mexec-model=reactor zig links crt1-reactor.o (not crt1-command.o, which
 * defines _start) and passes --entry _initialize, so the name is free. */
WU_EXPORT("_start") void start(void) {
  fputs("start ran\n", stdout);
  fflush(stdout);
  wu_output_str("start ran");
}
