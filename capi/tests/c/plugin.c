/*
 * plugin.c: the life of a plug-in through libextism's C API, as a user of the official
 * library writes it: plug-ins from Wasm bytes, from WebAssembly text, from JSON manifests
 * and with WASI; calls, outputs, ids, exported functions, config updates, reset,
 * extism_version, xtism_engines and xtism_plugin_new_with_engine.
 */
#include <ctype.h>

#include "check.h"

/* Upper-cases its input through the kernel imports; also exports a trap. */
static const char *UPPER_WAT =
    "(module\n"
    "  (import \"extism:host/env\" \"input_length\" (func $input_length (result i64)))\n"
    "  (import \"extism:host/env\" \"input_load_u8\" (func $input_load_u8 (param i64) (result i32)))\n"
    "  (import \"extism:host/env\" \"alloc\" (func $alloc (param i64) (result i64)))\n"
    "  (import \"extism:host/env\" \"store_u8\" (func $store_u8 (param i64 i32)))\n"
    "  (import \"extism:host/env\" \"output_set\" (func $output_set (param i64 i64)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (func (export \"upper\") (result i32)\n"
    "    (local $n i64) (local $i i64) (local $out i64) (local $c i32)\n"
    "    (local.set $n (call $input_length))\n"
    "    (local.set $out (call $alloc (local.get $n)))\n"
    "    (block $done (loop $next\n"
    "      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))\n"
    "      (local.set $c (call $input_load_u8 (local.get $i)))\n"
    "      (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))\n"
    "        (then (local.set $c (i32.sub (local.get $c) (i32.const 32)))))\n"
    "      (call $store_u8 (i64.add (local.get $out) (local.get $i)) (local.get $c))\n"
    "      (local.set $i (i64.add (local.get $i) (i64.const 1)))\n"
    "      (br $next)))\n"
    "    (call $output_set (local.get $out) (local.get $n))\n"
    "    (i32.const 0))\n"
    "  (func (export \"trap\") (result i32) unreachable))\n";

/* extism_version: "MAJOR.MINOR.PATCH" of the Extism 1.x API, maybe with "+build" metadata. */
static void test_version(void) {
  const char *version = extism_version();
  REQUIRE(version != NULL, "extism_version returned NULL");
  CHECK(strncmp(version, "1.", 2) == 0, "version %s is not 1.x", version);
  int dots = 0;
  const char *c = version;
  for (; *c && *c != '+'; c++) {
    if (*c == '.') dots++;
    else CHECK(isdigit((unsigned char)*c), "version %s has a non-digit before any '+'", version);
  }
  CHECK(dots == 2, "version %s is not MAJOR.MINOR.PATCH", version);
  CHECK(*c == 0 || c[1] != 0, "version %s ends with '+'", version);
  CHECK(extism_version() == version, "extism_version is not one static string");
}

/* xtism_engines: known names, comma-separated, including the one XTISM_ENGINE picks. */
static void test_engines(void) {
  const char *engines = xtism_engines();
  REQUIRE(engines != NULL && *engines, "xtism_engines returned nothing");
  char list[128];
  snprintf(list, sizeof list, "%s", engines);
  int n = 0;
  for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
    CHECK(strcmp(name, "wasmtime") == 0 || strcmp(name, "wasmi") == 0 || strcmp(name, "wasmer") == 0,
          "unknown engine \"%s\" in \"%s\"", name, engines);
    n++;
  }
  CHECK(n >= 1 && n <= 3, "%d engines in \"%s\"", n, engines);
  const char *chosen = getenv("XTISM_ENGINE");
  if (chosen) CHECK(contains(engines, chosen), "XTISM_ENGINE=%s is not in \"%s\"", chosen, engines);
}

/* count_vowels.wasm from bytes: output, vars across calls, output length, no error. */
static void test_wasm_bytes(void) {
  ExtismPlugin *plugin = plugin_from_corpus("as/count_vowels.wasm", NULL, 0, false);
  CHECK_CALL(plugin, "count_vowels", "Hello, World!", "{\"count\":3,\"total\":3,\"vowels\":\"aeiouAEIOU\"}");
  CHECK_CALL(plugin, "count_vowels", "Hello, World!", "{\"count\":3,\"total\":6,\"vowels\":\"aeiouAEIOU\"}");
  CHECK(extism_error(plugin) == NULL, "extism_error after success: %s", show(extism_error(plugin)));

  CHECK(extism_plugin_function_exists(plugin, "count_vowels"), "count_vowels is exported");
  CHECK(!extism_plugin_function_exists(plugin, "count_consonants"), "count_consonants is not");
  CHECK(!extism_plugin_function_exists(plugin, ""), "the empty name is not exported");

  /* An empty input, given as NULL with length 0. */
  int32_t rc = extism_plugin_call(plugin, "count_vowels", NULL, 0);
  CHECK(rc == 0, "empty input: %d %s", rc, show(extism_plugin_error(plugin)));
  CHECK(output_is(plugin, "{\"count\":0,\"total\":6,\"vowels\":\"aeiouAEIOU\"}"), "empty input output");
  extism_plugin_free(plugin);
}

/* Ids: 16 bytes of a UUIDv4, stable for a plug-in, different between plug-ins. */
static void test_ids(void) {
  ExtismPlugin *a = plugin_from_text(UPPER_WAT, NULL, 0);
  ExtismPlugin *b = plugin_from_text(UPPER_WAT, NULL, 0);
  const uint8_t *id_a = extism_plugin_id(a);
  const uint8_t *id_b = extism_plugin_id(b);
  REQUIRE(id_a != NULL && id_b != NULL, "extism_plugin_id returned NULL");
  uint8_t saved[16];
  memcpy(saved, id_a, 16);
  CHECK(memcmp(id_a, id_b, 16) != 0, "two plug-ins share an id");
  CHECK((id_a[6] >> 4) == 4, "id version nibble %x, expected 4 (UUIDv4)", id_a[6] >> 4);
  CHECK((id_a[8] & 0xc0) == 0x80, "id variant bits %x, expected RFC 4122", id_a[8] & 0xc0);
  CHECK_CALL(a, "upper", "abc", "ABC");
  const uint8_t *again = extism_plugin_id(a);
  CHECK(again != NULL && memcmp(again, saved, 16) == 0, "the id changed after a call");
  extism_plugin_free(a);
  extism_plugin_free(b);
}

/* WebAssembly text: calls, a trap (134) and recovery after it. */
static void test_wat(void) {
  ExtismPlugin *plugin = plugin_from_text(UPPER_WAT, NULL, 0);
  CHECK_CALL(plugin, "upper", "Hello, C!", "HELLO, C!");
  CHECK_CALL(plugin, "upper", "", "");
  int32_t rc = call_str(plugin, "trap", "");
  CHECK(rc == 134, "a trap returned %d, expected 134", rc);
  CHECK(extism_plugin_error(plugin) != NULL, "no error message after a trap");
  CHECK(extism_error(plugin) == extism_plugin_error(plugin) ||
            (extism_error(plugin) && strcmp(extism_error(plugin), extism_plugin_error(plugin)) == 0),
        "extism_error differs from extism_plugin_error");
  CHECK_CALL(plugin, "upper", "after the trap", "AFTER THE TRAP");
  extism_plugin_allow_http_response_headers(plugin);
  CHECK_CALL(plugin, "upper", "headers", "HEADERS");
  extism_plugin_free(plugin);
}

/* The JSON manifest of `rel` (a corpus path) with `config`, a JSON object. */
static void manifest_json(char *buf, size_t size, const char *rel, const char *config) {
  char path[4096];
  corpus_path(path, sizeof path, rel);
  REQUIRE(strpbrk(path, "\"\\") == NULL, "the corpus path %s needs JSON escaping", path);
  int n = snprintf(buf, size, "{\"wasm\":[{\"path\":\"%s\"}],\"config\":%s}", path, config);
  REQUIRE(n > 0 && (size_t)n < size, "manifest too long");
}

/* A manifest with config, then config updates: merge, `null` removes, bad JSON refused. */
static void test_manifest_and_config(void) {
  char manifest[8192];
  manifest_json(manifest, sizeof manifest, "as/count_vowels.wasm", "{\"vowels\":\"o\"}");
  ExtismPlugin *vowels = plugin_from_text(manifest, NULL, 0);
  CHECK_CALL(vowels, "count_vowels", "Hello, World!", "{\"count\":2,\"total\":2,\"vowels\":\"o\"}");
  const char *update = "{\"vowels\":\"lW\"}";
  CHECK(extism_plugin_config(vowels, (const uint8_t *)update, strlen(update)), "config update refused");
  CHECK_CALL(vowels, "count_vowels", "Hello, World!", "{\"count\":4,\"total\":6,\"vowels\":\"lW\"}");
  /* Vars survive reset: it frees kernel memory only. */
  CHECK(extism_plugin_reset(vowels), "extism_plugin_reset failed");
  CHECK(extism_plugin_reset(vowels), "a second extism_plugin_reset failed");
  CHECK_CALL(vowels, "count_vowels", "Hello, World!", "{\"count\":4,\"total\":10,\"vowels\":\"lW\"}");
  extism_plugin_free(vowels);

  manifest_json(manifest, sizeof manifest, "as/errors.wasm", "{\"a\":\"1\",\"b\":\"2\"}");
  ExtismPlugin *plugin = plugin_from_text(manifest, NULL, 0);
  CHECK_CALL(plugin, "config_or_missing", "a", "1");
  CHECK_CALL(plugin, "config_or_missing", "b", "2");
  CHECK_CALL(plugin, "config_or_missing", "c", "<missing>");

  const char *merge = "{\"a\":\"x\",\"c\":\"3\"}";
  CHECK(extism_plugin_config(plugin, (const uint8_t *)merge, strlen(merge)), "merge refused");
  CHECK_CALL(plugin, "config_or_missing", "a", "x");
  CHECK_CALL(plugin, "config_or_missing", "b", "2");
  CHECK_CALL(plugin, "config_or_missing", "c", "3");

  const char *remove = "{\"b\":null}";
  CHECK(extism_plugin_config(plugin, (const uint8_t *)remove, strlen(remove)), "null value refused");
  CHECK_CALL(plugin, "config_or_missing", "b", "<missing>");
  CHECK_CALL(plugin, "config_or_missing", "a", "x");

  /* The length counts, not a NUL: only `{"a":"y"}` of this buffer is read. */
  const char *prefix = "{\"a\":\"y\"}garbage";
  CHECK(extism_plugin_config(plugin, (const uint8_t *)prefix, 9), "length-delimited JSON refused");
  CHECK_CALL(plugin, "config_or_missing", "a", "y");

  const char *bad[] = {"{\"a\":", "not json", "[\"a\",\"b\"]", "{\"a\":1}", "\"a\"", ""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CHECK(!extism_plugin_config(plugin, (const uint8_t *)bad[i], strlen(bad[i])),
          "config %s was accepted", bad[i]);
    CHECK(extism_plugin_error(plugin) != NULL, "config %s was refused with no reason", bad[i]);
  }
  CHECK_CALL(plugin, "config_or_missing", "a", "y");
  CHECK_CALL(plugin, "config_or_missing", "c", "3");

  CHECK_CALL(plugin, "var_roundtrip", "kept", "kept");
  CHECK(extism_plugin_reset(plugin), "extism_plugin_reset failed");
  CHECK_CALL(plugin, "var_roundtrip", "after reset", "after reset");
  CHECK_CALL(plugin, "config_or_missing", "c", "3");
  extism_plugin_free(plugin);
}

/* WASI: a reactor with WASI calls, its exit code, and refusal without WASI. */
static void test_wasi(void) {
  ExtismPlugin *plugin = plugin_from_corpus("c/wasi.wasm", NULL, 0, true);
  CHECK_CALL(plugin, "ctor_count", "", "ctors=1");
  int32_t rc = call_str(plugin, "random_bytes", "24");
  CHECK(rc == 0, "random_bytes: %d %s", rc, show(extism_plugin_error(plugin)));
  CHECK(extism_plugin_output_length(plugin) == 24, "random_bytes gave %llu bytes",
        (unsigned long long)extism_plugin_output_length(plugin));
  rc = call_str(plugin, "exit_with", "3");
  CHECK(rc == 3, "exit_with 3 returned %d", rc);
  extism_plugin_free(plugin);

  size_t len;
  uint8_t *wasm = corpus_file("c/wasi.wasm", &len);
  char *err = NULL;
  plugin = extism_plugin_new(wasm, len, NULL, 0, false, &err);
  CHECK(plugin == NULL, "a WASI module loaded without WASI");
  CHECK(contains(err, "wasi_snapshot_preview1"), "the error does not name the WASI import: %s",
        show(err));
  extism_plugin_new_error_free(err);
  extism_plugin_free(plugin);
  free(wasm);
}

/* xtism_plugin_new_with_engine: every engine compiled in, and an unknown one. */
static void test_with_engine(void) {
  char list[128];
  snprintf(list, sizeof list, "%s", xtism_engines());
  for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
    char *err = NULL;
    ExtismPlugin *plugin = xtism_plugin_new_with_engine(name, (const uint8_t *)UPPER_WAT,
                                                        strlen(UPPER_WAT), NULL, 0, false, &err);
    CHECK(plugin != NULL, "engine %s: %s", name, show(err));
    extism_plugin_new_error_free(err);
    char upper[16] = {0};
    for (size_t i = 0; name[i] && i + 1 < sizeof upper; i++) upper[i] = (char)toupper((unsigned char)name[i]);
    if (plugin) CHECK_CALL(plugin, "upper", name, upper);
    extism_plugin_free(plugin);
  }

  char *err = NULL;
  ExtismPlugin *plugin = xtism_plugin_new_with_engine("nope", (const uint8_t *)UPPER_WAT,
                                                      strlen(UPPER_WAT), NULL, 0, false, &err);
  CHECK(plugin == NULL, "engine \"nope\" made a plug-in");
  CHECK(err != NULL, "no message for engine \"nope\"");
  snprintf(list, sizeof list, "%s", xtism_engines());
  for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
    CHECK(contains(err, name), "the message does not name engine %s: %s", name, show(err));
  }
  extism_plugin_new_error_free(err);
  extism_plugin_free(plugin);

  /* No errmsg pointer: still NULL, and nothing to free. */
  plugin = xtism_plugin_new_with_engine("nope", (const uint8_t *)UPPER_WAT, strlen(UPPER_WAT),
                                        NULL, 0, false, NULL);
  CHECK(plugin == NULL, "engine \"nope\" made a plug-in without errmsg");
}

int main(int argc, char **argv) {
  check_init(argc, argv);
  test_version();
  test_engines();
  test_wasm_bytes();
  test_ids();
  test_wat();
  test_manifest_and_config();
  test_wasi();
  test_with_engine();
  return check_report();
}
