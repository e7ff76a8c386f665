/*
 * wasi_command: a WASI preview 1 *command* (a normal main, so wasi-libc's
 * crt1-command.o supplies the exported _start).
 *
 * main prints "hello from main\n" to stdout, bumps a static counter, sets the
 * Extism output to "command ran <counter>" and returns the decimal number in
 * the input (empty input -> 0). _start then runs the destructors (which flush
 * stdout) and, for a non-zero value n, calls proc_exit(n).
 *
 * The counter is 1 in a fresh instance. wasi-libc's _start also refuses to
 * run twice in one instance: a second _start traps (unreachable) before main.
 */
#include "wasi_util.h"

static volatile uint32_t calls;

int main(void) {
  calls++;
  printf("hello from main\n");
  char out[40];
  snprintf(out, sizeof out, "command ran %u", (unsigned)calls);
  wu_output_str(out);

  size_t len;
  char *in = wu_input(&len);
  uint64_t code;
  if (wu_parse_u64(in, len, 0x7fffffff, &code) != 0)
    return (int)wu_error("bad input: expected 0..2147483647");
  free(in);
  return (int)code;
}
