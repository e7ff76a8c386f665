/*
 * echo: byte-exact copies and a compute loop over the input.
 *
 * Export echo:      output = input, byte for byte. Copies straight from the
 *                   input to a kernel block with input_load_u64/store_u64 for
 *                   whole 8-byte words and input_load_u8/store_u8 for the
 *                   tail, then output_set. Empty input -> empty output.
 * Export sum_bytes: output = decimal sum of all input bytes as unsigned
 *                   values ("abc" -> "294", empty input -> "0").
 */
#include "xtism_pdk.h"

int32_t echo(void) {
  uint64_t len = xtism_input_length();
  if (len == 0) {
    xtism_output_set(0, 0);
    return 0;
  }
  xtism_handle out = xtism_alloc(len);
  uint64_t i = 0;
  for (; i + 8 <= len; i += 8) xtism_store_u64(out + i, xtism_input_load_u64(i));
  for (; i < len; i++) xtism_store_u8(out + i, xtism_input_load_u8(i));
  xtism_output_set(out, len);
  return 0;
}

int32_t sum_bytes(void) {
  uint64_t len = xtism_input_length();
  uint64_t sum = 0;
  uint64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w = xtism_input_load_u64(i);
    for (int b = 0; b < 8; b++) {
      sum += w & 0xff;
      w >>= 8;
    }
  }
  for (; i < len; i++) sum += xtism_input_load_u8(i);

  char dec[20];
  uint64_t n = xtism_u64_to_dec(sum, dec);
  xtism_output_bytes(dec, n);
  return 0;
}
