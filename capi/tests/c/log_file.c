/*
 * log_file.c: extism_log_file appends plug-in logs at and above its level to a file. Log
 * setup is once per process, so this is a program of its own.
 */
#define _POSIX_C_SOURCE 200809L /* POSIX: mkstemp, write, unlink */

#include <unistd.h>

#include "check.h"

int main(int argc, char **argv) {
  check_init(argc, argv);
  const char *tmp = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/xtism-log-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(path);
  REQUIRE(fd >= 0, "mkstemp %s failed", path);
  REQUIRE(write(fd, "before\n", 7) == 7, "cannot write %s", path);
  close(fd);

  REQUIRE(extism_log_file(path, "warn"), "extism_log_file(%s, warn) failed", path);
  CHECK(!extism_log_file(path, "info"), "a second extism_log_file succeeded");
  CHECK(!extism_log_custom("info"), "extism_log_custom after extism_log_file succeeded");
  CHECK(!extism_log_custom(NULL), "extism_log_custom(NULL) after setup succeeded");

  ExtismPlugin *plugin = plugin_from_corpus("as/errors.wasm", NULL, 0, false);
  CHECK_CALL(plugin, "log_all", "file-marker", "logged");
  CHECK_CALL(plugin, "log_all", "second-marker", "logged");
  extism_plugin_free(plugin);

  FILE *f = fopen(path, "r");
  REQUIRE(f != NULL, "cannot reopen %s", path);
  char line[4096];
  int n = 0, warn = 0, error = 0, info = 0, debug = 0, second = 0;
  bool first_line_kept = false;
  while (fgets(line, sizeof line, f)) {
    if (n++ == 0) first_line_kept = strcmp(line, "before\n") == 0;
    if (contains(line, "file-marker")) {
      warn += contains(line, "WARN");
      error += contains(line, "ERROR");
      info += contains(line, "INFO");
      debug += contains(line, "DEBUG");
    }
    second += contains(line, "second-marker");
  }
  fclose(f);
  CHECK(first_line_kept, "the log file was not appended to");
  CHECK(warn == 1 && error == 1, "%d WARN and %d ERROR lines, expected 1 each", warn, error);
  CHECK(info == 0 && debug == 0, "%d INFO and %d DEBUG lines passed the warn level", info, debug);
  CHECK(second == 2, "%d lines of the second call, expected 2", second);
  if (check_failures == 0) unlink(path);
  else fprintf(stderr, "log file kept: %s\n", path);
  return check_report();
}
