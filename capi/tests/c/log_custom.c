/*
 * log_custom.c: extism_log_custom buffers plug-in logs at and above its level, and
 * extism_log_drain hands them over oldest first, once. Log setup is once per process, so
 * this is a program of its own.
 */
#define _POSIX_C_SOURCE 200809L /* POSIX: strdup */

#include "check.h"

#define MAX_LINES 64

/* The lines the last drain handed over. */
static char *lines[MAX_LINES];
static int n_lines;
static bool bad_size;

static void collect(const char *data, ExtismSize size) {
  if (strlen(data) != size) bad_size = true;
  if (n_lines < MAX_LINES) lines[n_lines++] = strdup(data);
}

static void clear_lines(void) {
  for (int i = 0; i < n_lines; i++) free(lines[i]);
  n_lines = 0;
}

/* The index of the first collected line with both `a` and `b` after line `from`, or -1. */
static int find_line(int from, const char *a, const char *b) {
  for (int i = from + 1; i < n_lines; i++)
    if (contains(lines[i], a) && contains(lines[i], b)) return i;
  return -1;
}

int main(int argc, char **argv) {
  check_init(argc, argv);
  REQUIRE(extism_log_custom("info"), "extism_log_custom(info) failed");
  CHECK(!extism_log_custom("debug"), "a second extism_log_custom succeeded");
  CHECK(!extism_log_file("stderr", "info"), "extism_log_file after extism_log_custom succeeded");
  CHECK(!extism_log_file(NULL, NULL), "extism_log_file(NULL, NULL) after setup succeeded");
  extism_log_drain(NULL);

  ExtismPlugin *plugin = plugin_from_corpus("as/errors.wasm", NULL, 0, false);
  CHECK_CALL(plugin, "log_all", "marker-from-c", "logged");

  clear_lines();
  extism_log_drain(collect);
  int info = find_line(-1, "INFO", "marker-from-c");
  int warn = find_line(-1, "WARN", "marker-from-c");
  int error = find_line(-1, "ERROR", "marker-from-c");
  CHECK(info >= 0, "no INFO line among %d lines", n_lines);
  CHECK(warn > info, "no WARN line after the INFO line (%d, %d)", info, warn);
  CHECK(error > warn, "no ERROR line after the WARN line (%d, %d)", warn, error);
  CHECK(find_line(-1, "DEBUG", "marker-from-c") < 0, "a DEBUG line passed the info level");
  CHECK(!bad_size, "a line's size is not its strlen");
  /* One line each, ending in its newline as in libextism. */
  for (int i = 0; i < n_lines; i++) {
    const char *newline = strchr(lines[i], '\n');
    CHECK(newline != NULL && newline[1] == 0, "line %d is not one line ending in a newline: %s", i, lines[i]);
  }

  /* Drained lines are gone. */
  clear_lines();
  extism_log_drain(collect);
  CHECK(find_line(-1, "marker", "from-c") < 0, "a second drain repeated the lines");

  /* Logs from a WAT plug-in's log_info, one line per call. */
  const char *wat =
      "(module\n"
      "  (import \"extism:host/env\" \"alloc\" (func $alloc (param i64) (result i64)))\n"
      "  (import \"extism:host/env\" \"store_u8\" (func $store_u8 (param i64 i32)))\n"
      "  (import \"extism:host/env\" \"log_info\" (func $log_info (param i64)))\n"
      "  (memory (export \"memory\") 1)\n"
      "  (func (export \"hi\") (result i32)\n"
      "    (local $h i64)\n"
      "    (local.set $h (call $alloc (i64.const 3)))\n"
      "    (call $store_u8 (local.get $h) (i32.const 119))\n"
      "    (call $store_u8 (i64.add (local.get $h) (i64.const 1)) (i32.const 97))\n"
      "    (call $store_u8 (i64.add (local.get $h) (i64.const 2)) (i32.const 116))\n"
      "    (call $log_info (local.get $h))\n"
      "    (i32.const 0)))\n";
  ExtismPlugin *small = plugin_from_text(wat, NULL, 0);
  CHECK_CALL(small, "hi", "", "");
  CHECK_CALL(small, "hi", "", "");
  clear_lines();
  extism_log_drain(collect);
  int first = find_line(-1, "INFO", "wat");
  CHECK(first >= 0 && find_line(first, "INFO", "wat") > first, "two log_info lines expected, %d lines",
        n_lines);
  clear_lines();

  extism_plugin_free(small);
  extism_plugin_free(plugin);
  return check_report();
}
