/*
 * ctors: checks that the host runs C constructors exactly once.
 *
 * The constructor below bumps a counter. wasm-ld collects constructors into
 * the synthetic function __wasm_call_ctors, which this module exports
 * (-Wl,--export=__wasm_call_ctors) so that the host can call it once before
 * the first plug-in call. Exporting it also stops wasm-ld from wrapping each
 * export in a "command export" that would re-run the constructors on every
 * call.
 *
 * Export greet: input "<name>" -> output "Hello, <name>! ctors=<counter>".
 * With a correct host the output ends in "ctors=1", however many times greet
 * is called; "ctors=0" means constructors never ran, "ctors=2"+ means they
 * ran more than once.
 */
#include "xtism_pdk.h"

/* volatile: otherwise LLVM's GlobalOpt evaluates the constructor at compile
 * time (folding the counter's initial value to 1 and deleting the
 * constructor), and the test would pass whether or not the host ran it. */
static volatile uint32_t ctor_count;

__attribute__((constructor)) static void bump_ctor_count(void) {
  ctor_count++;
}

#define NAME_CAP 4096
static char out_buf[NAME_CAP + 64];

int32_t greet(void) {
  static const char prefix[] = "Hello, ";
  static const char middle[] = "! ctors=";
  char *p = out_buf;

  for (uint64_t i = 0; i < sizeof prefix - 1; i++) *p++ = prefix[i];

  uint64_t len = xtism_input_read(p, NAME_CAP);
  if (len > NAME_CAP) {
    xtism_error_str("greet: input longer than 4096 bytes");
    return 1;
  }
  p += len;

  for (uint64_t i = 0; i < sizeof middle - 1; i++) *p++ = middle[i];
  p += xtism_u64_to_dec(ctor_count, p);

  xtism_output_bytes(out_buf, (uint64_t)(p - out_buf));
  return 0;
}
