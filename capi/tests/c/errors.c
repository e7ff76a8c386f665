/*
 * errors.c: how libextism's C API reports failures: plug-ins that cannot be made (NULL and
 * a message freed with extism_plugin_new_error_free), unknown functions, a guest's own
 * error, and NULL passed for every pointer argument (no crash, the documented answer).
 */
#include "check.h"

/* Echoes its input; `fail` returns 5 without an error message. */
static const char *ECHO_WAT =
    "(module\n"
    "  (import \"extism:host/env\" \"input_length\" (func $input_length (result i64)))\n"
    "  (import \"extism:host/env\" \"input_load_u8\" (func $input_load_u8 (param i64) (result i32)))\n"
    "  (import \"extism:host/env\" \"alloc\" (func $alloc (param i64) (result i64)))\n"
    "  (import \"extism:host/env\" \"store_u8\" (func $store_u8 (param i64 i32)))\n"
    "  (import \"extism:host/env\" \"output_set\" (func $output_set (param i64 i64)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (func (export \"echo\") (result i32)\n"
    "    (local $n i64) (local $i i64) (local $out i64)\n"
    "    (local.set $n (call $input_length))\n"
    "    (local.set $out (call $alloc (local.get $n)))\n"
    "    (block $done (loop $next\n"
    "      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))\n"
    "      (call $store_u8 (i64.add (local.get $out) (local.get $i))\n"
    "        (call $input_load_u8 (local.get $i)))\n"
    "      (local.set $i (i64.add (local.get $i) (i64.const 1)))\n"
    "      (br $next)))\n"
    "    (call $output_set (local.get $out) (local.get $n))\n"
    "    (i32.const 0))\n"
    "  (func (export \"fail\") (result i32) (i32.const 5)))\n";

/* extism_plugin_new on `len` bytes of `data` must fail with a message containing `needle`. */
static void expect_new_fails(const char *what, const void *data, size_t len, const char *needle) {
  char *err = NULL;
  ExtismPlugin *plugin = extism_plugin_new(data, len, NULL, 0, false, &err);
  CHECK(plugin == NULL, "%s: made a plug-in", what);
  CHECK(err != NULL && *err, "%s: no error message", what);
  if (needle) CHECK(contains(err, needle), "%s: the message lacks \"%s\": %s", what, needle, show(err));
  extism_plugin_new_error_free(err);
  extism_plugin_free(plugin);

  /* Without an errmsg pointer: the same failure, nothing to free. */
  plugin = extism_plugin_new(data, len, NULL, 0, false, NULL);
  CHECK(plugin == NULL, "%s: made a plug-in without errmsg", what);
}

/* Inputs that are no plug-in at all. */
static void test_bad_plugins(void) {
  const uint8_t bad_wasm[] = {0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00, 0xff, 0x01};
  expect_new_fails("a truncated Wasm module", bad_wasm, sizeof bad_wasm, NULL);
  const char *text = "neither wasm nor a manifest";
  expect_new_fails("plain text", text, strlen(text), NULL);
  const char *bad_wat = "(module (func $f (result i32) (i32.add)))";
  expect_new_fails("bad WebAssembly text", bad_wat, strlen(bad_wat), NULL);
  const char *unknown = "(module (import \"extism:host/user\" \"nowhere\" (func)))";
  expect_new_fails("an unknown import", unknown, strlen(unknown), "nowhere");
  const char *json = "{\"wasm\": [";
  expect_new_fails("a truncated manifest", json, strlen(json), NULL);
  char manifest[4200];
  char path[4096];
  snprintf(manifest, sizeof manifest, "{\"wasm\":[{\"path\":\"%s\"}]}",
           corpus_path(path, sizeof path, "as/does_not_exist.wasm"));
  expect_new_fails("a manifest naming a missing file", manifest, strlen(manifest), "does_not_exist.wasm");
  expect_new_fails("no bytes", "", 0, NULL);
}

/* Errors of calls: unknown functions, a guest's error_set, a bare return code. */
static void test_call_errors(void) {
  ExtismPlugin *plugin = plugin_from_corpus("as/errors.wasm", NULL, 0, false);
  int32_t rc = call_str(plugin, "no_such_function", "x");
  CHECK(rc == -1, "an unknown function returned %d, expected -1", rc);
  CHECK(contains(extism_plugin_error(plugin), "no_such_function"), "the error does not name it: %s",
        show(extism_plugin_error(plugin)));
  CHECK_CALL(plugin, "config_or_missing", "k", "<missing>");

  rc = call_str(plugin, "fail", "on input");
  CHECK(rc == 1, "fail returned %d, expected the plug-in's 1", rc);
  const char *err = extism_plugin_error(plugin);
  CHECK(err != NULL && strcmp(err, "failed on purpose: on input") == 0, "fail's error: %s", show(err));
  CHECK(extism_error(plugin) != NULL && strcmp(extism_error(plugin), "failed on purpose: on input") == 0,
        "extism_error: %s", show(extism_error(plugin)));
  CHECK(extism_plugin_output_length(plugin) == 0, "fail has output");
  CHECK_CALL(plugin, "var_roundtrip", "again", "again");
  CHECK(extism_plugin_error(plugin) == NULL, "the error outlived a successful call");
  extism_plugin_free(plugin);

  plugin = plugin_from_text(ECHO_WAT, NULL, 0);
  rc = call_str(plugin, "fail", "");
  CHECK(rc == 5, "fail returned %d, expected 5", rc);
  CHECK(extism_plugin_error(plugin) != NULL, "a non-zero return without a message has no error");
  CHECK_CALL(plugin, "echo", "bytes\x01\x02", "bytes\x01\x02");
  extism_plugin_free(plugin);
}

static void dummy_host(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                       ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)plugin, (void)inputs, (void)n_inputs, (void)outputs, (void)n_outputs, (void)data;
}

static void count_free(void *data) { ++*(int *)data; }

/* NULL for every pointer argument: the documented answer and no crash. */
static void test_null_pointers(void) {
  char *err = NULL;
  const ExtismValType i64[] = {ExtismValType_I64};

  /* Plug-in handles. */
  CHECK(extism_plugin_id(NULL) == NULL, "extism_plugin_id(NULL)");
  CHECK(extism_plugin_error(NULL) == NULL, "extism_plugin_error(NULL)");
  CHECK(extism_error(NULL) == NULL, "extism_error(NULL)");
  CHECK(extism_plugin_output_length(NULL) == 0, "extism_plugin_output_length(NULL)");
  CHECK(extism_plugin_output_data(NULL) == NULL, "extism_plugin_output_data(NULL)");
  CHECK(!extism_plugin_function_exists(NULL, "echo"), "extism_plugin_function_exists(NULL, ...)");
  CHECK(extism_plugin_call(NULL, "echo", (const uint8_t *)"x", 1) == -1, "extism_plugin_call(NULL, ...)");
  CHECK(extism_plugin_call_with_host_context(NULL, "echo", (const uint8_t *)"x", 1, &err) == -1,
        "extism_plugin_call_with_host_context(NULL, ...)");
  CHECK(!extism_plugin_config(NULL, (const uint8_t *)"{}", 2), "extism_plugin_config(NULL, ...)");
  CHECK(!extism_plugin_reset(NULL), "extism_plugin_reset(NULL)");
  CHECK(extism_plugin_cancel_handle(NULL) == NULL, "extism_plugin_cancel_handle(NULL)");
  CHECK(!extism_plugin_cancel(NULL), "extism_plugin_cancel(NULL)");
  extism_plugin_allow_http_response_headers(NULL);
  extism_plugin_free(NULL);
  extism_plugin_new_error_free(NULL);
  extism_compiled_plugin_free(NULL);
  extism_function_free(NULL);
  extism_function_set_namespace(NULL, "ns");

  /* The current plug-in. */
  CHECK(extism_current_plugin_host_context(NULL) == NULL, "extism_current_plugin_host_context(NULL)");
  CHECK(extism_current_plugin_memory(NULL) == NULL, "extism_current_plugin_memory(NULL)");
  CHECK(extism_current_plugin_memory_alloc(NULL, 16) == 0, "extism_current_plugin_memory_alloc(NULL)");
  CHECK(extism_current_plugin_memory_length(NULL, 16) == 0, "extism_current_plugin_memory_length(NULL)");
  extism_current_plugin_memory_free(NULL, 16);

  /* Making plug-ins from NULL bytes or a NULL compiled plug-in. */
  CHECK(extism_plugin_new(NULL, 10, NULL, 0, false, &err) == NULL, "extism_plugin_new(NULL, 10)");
  CHECK(err != NULL, "no message for extism_plugin_new(NULL, 10)");
  extism_plugin_new_error_free(err);
  err = NULL;
  CHECK(extism_plugin_new(NULL, 0, NULL, 0, false, &err) == NULL, "extism_plugin_new(NULL, 0)");
  extism_plugin_new_error_free(err);
  err = NULL;
  CHECK(extism_plugin_new_with_fuel_limit(NULL, 10, NULL, 0, false, 1000, &err) == NULL,
        "extism_plugin_new_with_fuel_limit(NULL, ...)");
  extism_plugin_new_error_free(err);
  err = NULL;
  CHECK(extism_compiled_plugin_new(NULL, 10, NULL, 0, false, &err) == NULL, "extism_compiled_plugin_new(NULL)");
  CHECK(err != NULL, "no message for extism_compiled_plugin_new(NULL, 10)");
  extism_plugin_new_error_free(err);
  err = NULL;
  CHECK(extism_compiled_plugin_new_with_fuel_limit(NULL, 10, NULL, 0, false, 1000, &err) == NULL,
        "extism_compiled_plugin_new_with_fuel_limit(NULL, ...)");
  extism_plugin_new_error_free(err);
  err = NULL;
  CHECK(extism_plugin_new_from_compiled(NULL, &err) == NULL, "extism_plugin_new_from_compiled(NULL)");
  CHECK(err != NULL, "no message for extism_plugin_new_from_compiled(NULL)");
  extism_plugin_new_error_free(err);
  CHECK(extism_plugin_new_from_compiled(NULL, NULL) == NULL, "extism_plugin_new_from_compiled(NULL, NULL)");
  err = NULL;
  CHECK(xtism_plugin_new_with_engine(NULL, (const uint8_t *)ECHO_WAT, strlen(ECHO_WAT), NULL, 0, false,
                                     &err) == NULL,
        "xtism_plugin_new_with_engine(NULL engine)");
  CHECK(err != NULL, "no message for xtism_plugin_new_with_engine(NULL engine)");
  extism_plugin_new_error_free(err);

  /* A NULL functions array means none, whatever the count (as in libextism); a NULL
   * function in the array is an error. */
  err = NULL;
  ExtismPlugin *none = extism_plugin_new((const uint8_t *)ECHO_WAT, strlen(ECHO_WAT), NULL, 2, false, &err);
  CHECK(none != NULL, "extism_plugin_new with NULL functions and n_functions 2: %s", show(err));
  extism_plugin_new_error_free(err);
  extism_plugin_free(none);
  const ExtismFunction *holes[] = {NULL};
  err = NULL;
  CHECK(extism_plugin_new((const uint8_t *)ECHO_WAT, strlen(ECHO_WAT), holes, 1, false, &err) == NULL,
        "extism_plugin_new with a NULL function");
  extism_plugin_new_error_free(err);

  /* Functions: a NULL name or callback, invalid types: NULL, and the user data stays the
   * caller's (free_user_data does not run). NULL type arrays mean no types. */
  int frees = 0;
  CHECK(extism_function_new(NULL, i64, 1, i64, 1, dummy_host, &frees, count_free) == NULL,
        "extism_function_new(NULL name)");
  CHECK(extism_function_new("f", i64, 1, i64, 1, NULL, &frees, count_free) == NULL,
        "extism_function_new(NULL callback)");
  CHECK(frees == 0, "free_user_data ran %d times for functions never made", frees);
  ExtismFunction *untyped = extism_function_new("f", NULL, 1, NULL, 1, dummy_host, &frees, count_free);
  bool made = untyped != NULL;
  CHECK(made, "extism_function_new with NULL type arrays and non-zero counts");
  extism_function_free(untyped);
  CHECK(frees == (made ? 1 : 0), "free_user_data ran %d times", frees);
  const ExtismValType v128[] = {ExtismValType_V128};
  CHECK(extism_function_new("f", v128, 1, NULL, 0, dummy_host, NULL, NULL) == NULL,
        "extism_function_new with a V128 input");
  const ExtismValType bogus[] = {(ExtismValType)42};
  CHECK(extism_function_new("f", i64, 1, bogus, 1, dummy_host, NULL, NULL) == NULL,
        "extism_function_new with type 42");
  ExtismFunction *empty = extism_function_new("f", NULL, 0, NULL, 0, dummy_host, NULL, NULL);
  CHECK(empty != NULL, "extism_function_new with no parameters and NULL type arrays");
  extism_function_set_namespace(empty, NULL);
  extism_function_free(empty);

  /* A live plug-in with NULL names and data. */
  ExtismPlugin *plugin = plugin_from_text(ECHO_WAT, NULL, 0);
  CHECK(!extism_plugin_function_exists(plugin, NULL), "extism_plugin_function_exists(p, NULL)");
  int32_t rc = extism_plugin_call(plugin, NULL, (const uint8_t *)"x", 1);
  CHECK(rc == -1, "extism_plugin_call(p, NULL) returned %d", rc);
  CHECK(extism_plugin_error(plugin) != NULL, "no error after extism_plugin_call(p, NULL)");
  rc = extism_plugin_call(plugin, "echo", NULL, 4);
  CHECK(rc == -1, "extism_plugin_call(p, f, NULL, 4) returned %d", rc);
  CHECK(extism_plugin_error(plugin) != NULL, "no error after extism_plugin_call(p, f, NULL, 4)");
  rc = extism_plugin_call(plugin, "echo", NULL, 0);
  CHECK(rc == 0 && extism_plugin_output_length(plugin) == 0, "extism_plugin_call(p, f, NULL, 0): %d %s",
        rc, show(extism_plugin_error(plugin)));
  CHECK(!extism_plugin_config(plugin, NULL, 2), "extism_plugin_config(p, NULL, 2)");
  CHECK_CALL(plugin, "echo", "still fine", "still fine");
  extism_plugin_free(plugin);
}

int main(int argc, char **argv) {
  check_init(argc, argv);
  test_bad_plugins();
  test_call_errors();
  test_null_pointers();
  return check_report();
}
