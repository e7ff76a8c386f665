/*
 * cancel.c: extism_plugin_cancel from another thread stops an infinite loop; the call fails
 * with an error about the cancel, and the plug-in serves the next call. A cancel while no
 * call runs changes nothing.
 */
#define _POSIX_C_SOURCE 200809L /* POSIX: threads, nanosleep */

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"

/* `spin` never ends; `hello` outputs "hi". */
static const char *SPIN_WAT =
    "(module\n"
    "  (import \"extism:host/env\" \"alloc\" (func $alloc (param i64) (result i64)))\n"
    "  (import \"extism:host/env\" \"store_u8\" (func $store_u8 (param i64 i32)))\n"
    "  (import \"extism:host/env\" \"output_set\" (func $output_set (param i64 i64)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (func (export \"spin\") (result i32) (loop $l (br $l)) (i32.const 0))\n"
    "  (func (export \"hello\") (result i32)\n"
    "    (local $h i64)\n"
    "    (local.set $h (call $alloc (i64.const 2)))\n"
    "    (call $store_u8 (local.get $h) (i32.const 104))\n"
    "    (call $store_u8 (i64.add (local.get $h) (i64.const 1)) (i32.const 105))\n"
    "    (call $output_set (local.get $h) (i64.const 2))\n"
    "    (i32.const 0)))\n";

/* Calls the host function `pause` (which sleeps) forever. */
static const char *PAUSE_WAT =
    "(module\n"
    "  (import \"extism:host/user\" \"pause\" (func $pause))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (func (export \"pause_forever\") (result i32) (loop $l (call $pause) (br $l)) (i32.const 0))\n"
    "  (func (export \"pause_once\") (result i32) (call $pause) (i32.const 0)))\n";

/* The cancelling thread's view of the call. */
typedef struct {
  const ExtismCancelHandle *handle;
  atomic_bool call_done;
  int cancels;
  bool refused;
} Canceller;

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/*
 * Cancels every 100 ms until the call is over: a cancel that lands before the call starts
 * does nothing, so one later cancel is what stops it.
 */
static void *cancel_soon(void *data) {
  Canceller *canceller = data;
  while (!atomic_load(&canceller->call_done)) {
    sleep_ms(100);
    if (atomic_load(&canceller->call_done)) break;
    if (!extism_plugin_cancel(canceller->handle)) canceller->refused = true;
    canceller->cancels++;
  }
  return NULL;
}

static void test_cancel(void) {
  ExtismPlugin *plugin = plugin_from_text(SPIN_WAT, NULL, 0);
  const ExtismCancelHandle *handle = extism_plugin_cancel_handle(plugin);
  REQUIRE(handle != NULL, "extism_plugin_cancel_handle returned NULL");
  CHECK(extism_plugin_cancel_handle(plugin) == handle, "the cancel handle changed");

  /* A cancel while nothing runs: accepted, and the next call is not affected. */
  CHECK(extism_plugin_cancel(handle), "an idle cancel was refused");
  CHECK_CALL(plugin, "hello", "", "hi");

  for (int round = 0; round < 2; round++) {
    Canceller canceller = {.handle = handle};
    atomic_init(&canceller.call_done, false);
    pthread_t thread;
    REQUIRE(pthread_create(&thread, NULL, cancel_soon, &canceller) == 0, "pthread_create");
    int32_t rc = call_str(plugin, "spin", "");
    atomic_store(&canceller.call_done, true);
    pthread_join(thread, NULL);
    CHECK(rc != 0, "round %d: the cancelled call succeeded", round);
    CHECK(rc == 134, "round %d: the cancelled call returned %d, expected 134", round, rc);
    const char *err = extism_plugin_error(plugin);
    CHECK(contains(err, "cancel"), "round %d: the error does not mention the cancel: %s", round,
          show(err));
    CHECK(canceller.cancels >= 1, "round %d: no cancel was sent", round);
    CHECK(!canceller.refused, "round %d: extism_plugin_cancel returned false", round);
    CHECK_CALL(plugin, "hello", "", "hi");
    CHECK_CALL(plugin, "hello", "", "hi");
  }
  extism_plugin_free(plugin);
}

/* pause: sleeps 30 ms, so that most cancels land while host code runs. */
static void pause_host(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                       ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)plugin, (void)inputs, (void)n_inputs, (void)outputs, (void)n_outputs, (void)data;
  sleep_ms(30);
}

/* A cancel that lands during a host function stops the call once the host function returns. */
static void test_cancel_in_host_function(void) {
  ExtismFunction *pause = extism_function_new("pause", NULL, 0, NULL, 0, pause_host, NULL, NULL);
  ExtismPlugin *plugin = plugin_from_text(PAUSE_WAT, (const ExtismFunction **)&pause, 1);
  extism_function_free(pause);
  Canceller canceller = {.handle = extism_plugin_cancel_handle(plugin)};
  atomic_init(&canceller.call_done, false);
  pthread_t thread;
  REQUIRE(pthread_create(&thread, NULL, cancel_soon, &canceller) == 0, "pthread_create");
  int32_t rc = call_str(plugin, "pause_forever", "");
  atomic_store(&canceller.call_done, true);
  pthread_join(thread, NULL);
  CHECK(rc == 134, "the cancelled call returned %d, expected 134", rc);
  CHECK(contains(extism_plugin_error(plugin), "cancel"), "the error does not mention the cancel: %s",
        show(extism_plugin_error(plugin)));
  rc = call_str(plugin, "pause_once", "");
  CHECK(rc == 0, "the call after the cancel returned %d: %s", rc, show(extism_plugin_error(plugin)));
  extism_plugin_free(plugin);
}

int main(int argc, char **argv) {
  check_init(argc, argv);
  test_cancel();
  test_cancel_in_host_function();
  return check_report();
}
