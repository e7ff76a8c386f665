/*
 * consume: reads the whole input and outputs nothing, like a Rust PDK
 * plug-in whose body only calls input().
 *
 * Export consume: copies the input into plug-in memory 8 bytes at a time
 *                 with input_load_u64 and the tail with input_load_u8, the
 *                 way the Rust PDK's input() fills its Vec, then returns 0
 *                 without setting an output (the output is empty). The
 *                 buffer is linear memory past the heap base, grown with
 *                 memory.grow to fit the largest input seen so far; a
 *                 failed grow sets an error and returns 1.
 *
 * For the benchmarks (bench/): one kernel call per 8 input bytes, nothing
 * else.
 */
#include "xtism_pdk.h"

extern unsigned char __heap_base;

/* Bytes of linear memory available from &__heap_base to the end of memory. */
static uint64_t available(void) {
  uint64_t end = (uint64_t)__builtin_wasm_memory_size(0) * 65536;
  return end - (uint64_t)(uintptr_t)&__heap_base;
}

int32_t consume(void) {
  uint64_t len = xtism_input_length();
  uint64_t have = available();
  if (len > have) {
    uint64_t pages = (len - have + 65535) / 65536;
    if (pages > 65536 || __builtin_wasm_memory_grow(0, (unsigned long)pages) == (unsigned long)-1) {
      xtism_error_str("consume: cannot grow memory for the input");
      return 1;
    }
  }
  uint8_t *buf = &__heap_base;
  uint64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w = xtism_input_load_u64(i);
    __builtin_memcpy(buf + i, &w, 8);
  }
  for (; i < len; i++) buf[i] = xtism_input_load_u8(i);
  return 0;
}
