/*
 * reflect: hands the input to a host function and outputs what it returns.
 *
 * Import extism:host/user host_reflect : (i64) -> i64, a block handle in
 *                 and a block handle out.
 * Export reflect: copies the input into a new kernel block (input_load_u64 /
 *                 store_u64 for whole words, the _u8 pair for the tail),
 *                 calls host_reflect with it, and sets the output to the
 *                 block it returns, at that block's length. With a host
 *                 that returns a copy of its argument, output = input.
 *                 Empty input passes handle 0; a returned 0 gives an empty
 *                 output.
 *
 * For the benchmarks (bench/): the data path of a host function call.
 */
#include "xtism_pdk.h"

__attribute__((import_module("extism:host/user"), import_name("host_reflect")))
xtism_handle host_reflect(xtism_handle input);

int32_t reflect(void) {
  uint64_t len = xtism_input_length();
  xtism_handle in = 0;
  if (len != 0) {
    in = xtism_alloc(len);
    uint64_t i = 0;
    for (; i + 8 <= len; i += 8) xtism_store_u64(in + i, xtism_input_load_u64(i));
    for (; i < len; i++) xtism_store_u8(in + i, xtism_input_load_u8(i));
  }
  xtism_handle out = host_reflect(in);
  xtism_output_set(out, out == 0 ? 0 : xtism_length(out));
  return 0;
}
