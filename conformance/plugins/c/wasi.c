/*
 * wasi: a WASI preview 1 reactor (-mexec-model=reactor, exports
 * _initialize) whose exports each exercise one part of WASI through
 * ordinary wasi-libc calls, with input and output through the Extism kernel.
 *
 * Every export is `int32_t name(void)`: 0 on success; on failure the Extism
 * error is "<libc call>: errno <N>" (or a fixed "bad input: ..." message for
 * malformed input) and the return value is 1. See README.md for the exact
 * output of each export.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

#include "wasi_util.h"

extern char **environ;

/* Counts constructor runs; volatile so LLVM cannot fold the constructor away
 * at compile time (see ctors.c). _initialize must run it exactly once. */
static volatile uint32_t ctor_runs;

__attribute__((constructor)) static void count_ctor(void) { ctor_runs++; }

WU_EXPORT("ctor_count") int32_t ctor_count(void) {
  char buf[32];
  snprintf(buf, sizeof buf, "ctors=%u", (unsigned)ctor_runs);
  wu_output_str(buf);
  return 0;
}

/* ---- stdio ---------------------------------------------------------------- */

WU_EXPORT("write_stdio") int32_t write_stdio(void) {
  size_t len;
  char *in = wu_input(&len);
  if (fwrite(in, 1, len, stdout) != len || fputc('\n', stdout) == EOF) return wu_fail("fwrite");
  if (fflush(stdout) != 0) return wu_fail("fflush");
  if (fputs("err: ", stderr) == EOF || fwrite(in, 1, len, stderr) != len ||
      fputc('\n', stderr) == EOF)
    return wu_fail("fwrite");
  if (fflush(stderr) != 0) return wu_fail("fflush");
  free(in);
  wu_output_str("ok");
  return 0;
}

WU_EXPORT("read_stdin") int32_t read_stdin(void) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len == cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
    if (n < 0) return wu_fail("read");
    if (n == 0) break;
    len += (size_t)n;
  }
  wu_output(buf, len);
  free(buf);
  return 0;
}

/* ---- files ---------------------------------------------------------------- */

WU_EXPORT("read_file") int32_t read_file(void) {
  size_t plen;
  char *path = wu_input(&plen);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return wu_fail("open");
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len == cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0) return wu_fail("read");
    if (n == 0) break;
    len += (size_t)n;
  }
  if (close(fd) != 0) return wu_fail("close");
  wu_output(buf, len);
  free(buf);
  free(path);
  return 0;
}

/* input "path\ncontent": open with `flags`, write content, close. */
static int32_t write_with_flags(int flags) {
  size_t len, clen;
  char *in = wu_input(&len);
  char *content = wu_split(in, len, &clen);
  if (content == NULL) return wu_error("bad input: expected path\\ncontent");
  int fd = open(in, flags, 0644);
  if (fd < 0) return wu_fail("open");
  size_t done = 0;
  while (done < clen) {
    ssize_t n = write(fd, content + done, clen - done);
    if (n < 0) return wu_fail("write");
    done += (size_t)n;
  }
  if (close(fd) != 0) return wu_fail("close");
  char out[40];
  snprintf(out, sizeof out, "wrote %zu", done);
  wu_output_str(out);
  free(in);
  return 0;
}

WU_EXPORT("write_file") int32_t write_file(void) {
  return write_with_flags(O_WRONLY | O_CREAT | O_TRUNC);
}

WU_EXPORT("append_file") int32_t append_file(void) {
  return write_with_flags(O_WRONLY | O_CREAT | O_APPEND);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

WU_EXPORT("list_dir") int32_t list_dir(void) {
  size_t plen;
  char *path = wu_input(&plen);
  DIR *d = opendir(path);
  if (d == NULL) return wu_fail("opendir");
  size_t n = 0, cap = 16, total = 0;
  char **names = malloc(cap * sizeof *names);
  for (;;) {
    errno = 0;
    struct dirent *e = readdir(d);
    if (e == NULL) {
      if (errno != 0) return wu_fail("readdir");
      break;
    }
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (n == cap) names = realloc(names, (cap *= 2) * sizeof *names);
    names[n] = strdup(e->d_name);
    total += strlen(e->d_name) + 1;
    n++;
  }
  if (closedir(d) != 0) return wu_fail("closedir");
  qsort(names, n, sizeof *names, cmp_names);
  char *out = malloc(total + 1), *p = out;
  for (size_t i = 0; i < n; i++) {
    if (i > 0) *p++ = '\n';
    size_t l = strlen(names[i]);
    memcpy(p, names[i], l);
    p += l;
    free(names[i]);
  }
  wu_output(out, (size_t)(p - out));
  free(out);
  free(names);
  free(path);
  return 0;
}

/* Exports that take a path and output "ok". */
#define PATH_OP(export, call, expr)                      \
  WU_EXPORT(#export) int32_t export(void) {              \
    size_t plen;                                         \
    char *path = wu_input(&plen);                        \
    if ((expr) != 0) return wu_fail(call);               \
    free(path);                                          \
    wu_output_str("ok");                                 \
    return 0;                                            \
  }

PATH_OP(make_dir, "mkdir", mkdir(path, 0755))
PATH_OP(remove_dir, "rmdir", rmdir(path))
PATH_OP(remove_file, "unlink", unlink(path))

/* Exports that take "a\nb" and output "ok". */
#define PAIR_OP(export, call, expr)                                  \
  WU_EXPORT(#export) int32_t export(void) {                          \
    size_t len, blen;                                                \
    char *a = wu_input(&len);                                        \
    char *b = wu_split(a, len, &blen);                               \
    if (b == NULL) return wu_error("bad input: expected two lines"); \
    if ((expr) != 0) return wu_fail(call);                           \
    free(a);                                                         \
    wu_output_str("ok");                                             \
    return 0;                                                        \
  }

PAIR_OP(rename_path, "rename", rename(a, b))
PAIR_OP(make_symlink, "symlink", symlink(a, b))

WU_EXPORT("file_size") int32_t file_size(void) {
  size_t plen;
  char *path = wu_input(&plen);
  struct stat st;
  if (stat(path, &st) != 0) return wu_fail("stat");
  const char *kind = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : "other";
  char out[48];
  snprintf(out, sizeof out, "%lld %s", (long long)st.st_size, kind);
  wu_output_str(out);
  free(path);
  return 0;
}

WU_EXPORT("seek_tell") int32_t seek_tell(void) {
  size_t plen;
  char *path = wu_input(&plen);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return wu_fail("open");
  if (lseek(fd, 2, SEEK_SET) != 2) return wu_fail("lseek");
  char out[40];
  size_t got = 0;
  while (got < 3) {
    ssize_t n = read(fd, out + got, 3 - got);
    if (n < 0) return wu_fail("read");
    if (n == 0) break;
    got += (size_t)n;
  }
  off_t pos = lseek(fd, 0, SEEK_CUR);
  if (pos < 0) return wu_fail("lseek");
  if (close(fd) != 0) return wu_fail("close");

  int wfd = open(path, O_RDWR);
  if (wfd < 0) return wu_fail("open");
  if (fsync(wfd) != 0) return wu_fail("fsync");
  if (fdatasync(wfd) != 0) return wu_fail("fdatasync");
  if (close(wfd) != 0) return wu_fail("close");

  int n = snprintf(out + got, sizeof out - got, "@%lld", (long long)pos);
  wu_output(out, got + (size_t)n);
  free(path);
  return 0;
}

WU_EXPORT("fd_info") int32_t fd_info(void) {
  size_t plen;
  char *path = wu_input(&plen);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return wu_fail("open");
  struct stat st;
  if (fstat(fd, &st) != 0) return wu_fail("fstat");
  if (fcntl(fd, F_GETFL) < 0) return wu_fail("fcntl");
  if (fcntl(fd, F_GETFD) < 0) return wu_fail("fcntl");
  if (close(fd) != 0) return wu_fail("close");
  char out[32];
  snprintf(out, sizeof out, "%lld", (long long)st.st_size);
  wu_output_str(out);
  free(path);
  return 0;
}

/* ---- clocks, random, sleep, exit -------------------------------------------- */

static unsigned long long ts_ns(const struct timespec *ts) {
  return (unsigned long long)ts->tv_sec * 1000000000ull + (unsigned long long)ts->tv_nsec;
}

WU_EXPORT("clocks") int32_t clocks(void) {
  struct timespec rt, mono, res;
  if (clock_gettime(CLOCK_REALTIME, &rt) != 0) return wu_fail("clock_gettime");
  if (clock_gettime(CLOCK_MONOTONIC, &mono) != 0) return wu_fail("clock_gettime");
  if (clock_getres(CLOCK_MONOTONIC, &res) != 0) return wu_fail("clock_getres");
  char out[96];
  snprintf(out, sizeof out, "realtime=%llu monotonic=%llu resolution=%llu", ts_ns(&rt),
           ts_ns(&mono), ts_ns(&res));
  wu_output_str(out);
  return 0;
}

WU_EXPORT("random_bytes") int32_t random_bytes(void) {
  size_t len;
  char *in = wu_input(&len);
  uint64_t n;
  if (wu_parse_u64(in, len, 4096, &n) != 0) return wu_error("bad input: expected 0..4096");
  unsigned char buf[4096];
  for (uint64_t done = 0; done < n;) {
    size_t chunk = n - done > 256 ? 256 : (size_t)(n - done);
    if (getentropy(buf + done, chunk) != 0) return wu_fail("getentropy");
    done += chunk;
  }
  wu_output(buf, (size_t)n);
  free(in);
  return 0;
}

WU_EXPORT("exit_with") int32_t exit_with(void) {
  size_t len;
  char *in = wu_input(&len);
  uint64_t n;
  if (wu_parse_u64(in, len, 0x7fffffff, &n) != 0) return wu_error("bad input: expected 0..2147483647");
  exit((int)n);
}

WU_EXPORT("sleep_ms") int32_t sleep_ms(void) {
  size_t len;
  char *in = wu_input(&len);
  uint64_t ms;
  if (wu_parse_u64(in, len, 3600000, &ms) != 0) return wu_error("bad input: expected 0..3600000");
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
  if (nanosleep(&ts, NULL) != 0) return wu_fail("nanosleep");
  wu_output_str("slept");
  free(in);
  return 0;
}

/* ---- args and environment ---------------------------------------------------- */

/* A reactor never gets argc/argv from libc (there is no main), so argv comes
 * straight from args_sizes_get/args_get. environ is filled in by wasi-libc
 * (environ_sizes_get/environ_get) in a constructor, because it is used. */
WU_EXPORT("args_env") int32_t args_env(void) {
  __wasi_size_t argc, argv_size;
  __wasi_errno_t e = __wasi_args_sizes_get(&argc, &argv_size);
  if (e != 0) {
    errno = e;
    return wu_fail("args_sizes_get");
  }
  char **argv = malloc((argc + 1) * sizeof *argv);
  char *argv_buf = malloc(argv_size + 1);
  /* args_get only when there are args (Node's WASI answers EINVAL to
   * args_get with no args; wasi-libc skips environ_get likewise). */
  e = argc == 0 ? 0 : __wasi_args_get((uint8_t **)argv, (uint8_t *)argv_buf);
  if (e != 0) {
    errno = e;
    return wu_fail("args_get");
  }
  size_t total = 32;
  for (size_t i = 0; i < argc; i++) total += strlen(argv[i]) + 1;
  for (char **env = environ; env != NULL && *env != NULL; env++) total += strlen(*env) + 1;
  char *out = malloc(total), *p = out;
  p += sprintf(p, "argc=%u", (unsigned)argc);
  for (size_t i = 0; i < argc; i++) p += sprintf(p, "\n%s", argv[i]);
  for (char **env = environ; env != NULL && *env != NULL; env++) p += sprintf(p, "\n%s", *env);
  wu_output(out, (size_t)(p - out));
  free(out);
  free(argv_buf);
  free(argv);
  return 0;
}
