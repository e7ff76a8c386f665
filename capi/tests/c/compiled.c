/*
 * compiled.c: compiled plug-ins (several plug-ins from one, each with its own state, living
 * on after the compiled plug-in is freed, sharing its host functions) and fuel limits
 * (a runaway call fails, the plug-in stays usable, the budget is per call).
 */
#include "check.h"

/* User data of hello_world: counts its calls and frees. */
typedef struct {
  int calls;
  int frees;
} Counter;

static void count_free(void *data) { ((Counter *)data)->frees++; }

static const ExtismValType I64[] = {ExtismValType_I64};

/* hello_world for as/host_fn.wasm: returns "Hi <name>". Declared with the header's macro. */
EXTISM_FUNCTION(hello_world);

void hello_world(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                        ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)n_inputs, (void)n_outputs;
  ((Counter *)data)->calls++;
  ExtismMemoryHandle name = (ExtismMemoryHandle)inputs[0].v.i64;
  ExtismSize len = extism_current_plugin_memory_length(plugin, name);
  ExtismMemoryHandle out = extism_current_plugin_memory_alloc(plugin, 3 + len);
  uint8_t *memory = extism_current_plugin_memory(plugin);
  memcpy(memory + out, "Hi ", 3);
  memcpy(memory + out + 3, memory + name, len);
  outputs[0].v.i64 = (int64_t)out;
}

/* Three plug-ins from one compiled count_vowels, each with its own vars. */
static void test_compiled(void) {
  size_t len;
  uint8_t *wasm = corpus_file("as/count_vowels.wasm", &len);
  char *err = NULL;
  ExtismCompiledPlugin *compiled = extism_compiled_plugin_new(wasm, len, NULL, 0, false, &err);
  REQUIRE(compiled != NULL, "extism_compiled_plugin_new: %s", show(err));
  free(wasm);

  ExtismPlugin *plugins[3];
  for (int i = 0; i < 3; i++) {
    plugins[i] = extism_plugin_new_from_compiled(compiled, &err);
    REQUIRE(plugins[i] != NULL, "extism_plugin_new_from_compiled: %s", show(err));
  }
  CHECK(memcmp(extism_plugin_id(plugins[0]), extism_plugin_id(plugins[1]), 16) != 0,
        "plug-ins of one compiled plug-in share an id");
  CHECK_CALL(plugins[0], "count_vowels", "aaa", "{\"count\":3,\"total\":3,\"vowels\":\"aeiouAEIOU\"}");
  CHECK_CALL(plugins[0], "count_vowels", "aaa", "{\"count\":3,\"total\":6,\"vowels\":\"aeiouAEIOU\"}");
  CHECK_CALL(plugins[1], "count_vowels", "e", "{\"count\":1,\"total\":1,\"vowels\":\"aeiouAEIOU\"}");

  extism_compiled_plugin_free(compiled);
  CHECK_CALL(plugins[0], "count_vowels", "o", "{\"count\":1,\"total\":7,\"vowels\":\"aeiouAEIOU\"}");
  CHECK_CALL(plugins[1], "count_vowels", "oo", "{\"count\":2,\"total\":3,\"vowels\":\"aeiouAEIOU\"}");
  CHECK_CALL(plugins[2], "count_vowels", "xyz", "{\"count\":0,\"total\":0,\"vowels\":\"aeiouAEIOU\"}");
  extism_plugin_free(plugins[1]);
  CHECK_CALL(plugins[2], "count_vowels", "u", "{\"count\":1,\"total\":1,\"vowels\":\"aeiouAEIOU\"}");
  extism_plugin_free(plugins[0]);
  extism_plugin_free(plugins[2]);
}

/* A compiled plug-in with a host function: its user data is freed after the last user. */
static void test_compiled_host_function(void) {
  size_t len;
  uint8_t *wasm = corpus_file("as/host_fn.wasm", &len);
  Counter counter = {0};
  ExtismFunction *f = extism_function_new("hello_world", I64, 1, I64, 1, hello_world, &counter, count_free);
  char *err = NULL;
  ExtismCompiledPlugin *compiled =
      extism_compiled_plugin_new(wasm, len, (const ExtismFunction **)&f, 1, false, &err);
  REQUIRE(compiled != NULL, "extism_compiled_plugin_new(host_fn.wasm): %s", show(err));
  free(wasm);
  extism_function_free(f);

  ExtismPlugin *a = extism_plugin_new_from_compiled(compiled, &err);
  REQUIRE(a != NULL, "extism_plugin_new_from_compiled: %s", show(err));
  ExtismPlugin *b = extism_plugin_new_from_compiled(compiled, &err);
  REQUIRE(b != NULL, "extism_plugin_new_from_compiled: %s", show(err));
  CHECK_CALL(a, "call_host", "Ann", "Hi Ann!");
  extism_compiled_plugin_free(compiled);
  CHECK(counter.frees == 0, "free_user_data ran while plug-ins use the function");
  CHECK_CALL(b, "call_host", "Ben", "Hi Ben!");
  extism_plugin_free(a);
  CHECK_CALL(b, "call_host", "Bo", "Hi Bo!");
  CHECK(counter.frees == 0, "free_user_data ran while a plug-in uses the function");
  extism_plugin_free(b);
  CHECK(counter.calls == 3, "hello_world ran %d times", counter.calls);
  CHECK(counter.frees == 1, "free_user_data ran %d times", counter.frees);

  /* Invalid input: NULL and a message. */
  err = NULL;
  compiled = extism_compiled_plugin_new((const uint8_t *)"(module", 7, NULL, 0, false, &err);
  CHECK(compiled == NULL, "compiled an unclosed module");
  CHECK(err != NULL, "no message for an unclosed module");
  extism_plugin_new_error_free(err);
}

/* `spin` never ends; `work` loops 1000 times per byte of input. */
static const char *FUEL_WAT =
    "(module\n"
    "  (import \"extism:host/env\" \"input_length\" (func $input_length (result i64)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (func (export \"spin\") (result i32) (loop $l (br $l)) (i32.const 0))\n"
    "  (func (export \"work\") (result i32)\n"
    "    (local $n i64)\n"
    "    (local.set $n (i64.mul (call $input_length) (i64.const 1000)))\n"
    "    (block $done (loop $next\n"
    "      (br_if $done (i64.eqz (local.get $n)))\n"
    "      (local.set $n (i64.sub (local.get $n) (i64.const 1)))\n"
    "      (br $next)))\n"
    "    (i32.const 0)))\n";

/* A fuel limit stops a runaway call; the next calls run with a fresh budget. */
static void check_fuel(ExtismPlugin *plugin, const char *what) {
  int32_t rc = call_str(plugin, "spin", "");
  CHECK(rc != EXTISM_SUCCESS, "%s: an infinite loop succeeded", what);
  CHECK(contains(extism_plugin_error(plugin), "fuel"), "%s: the error does not mention fuel: %s", what,
        show(extism_plugin_error(plugin)));
  /* 5000 loop iterations of at most 10 fuel each, below the budget of 200000, five times over. */
  for (int i = 0; i < 5; i++) CHECK_CALL(plugin, "work", "01234", "");
  /* A million iterations: beyond the budget on any engine. */
  char big[1001];
  memset(big, 'x', 1000);
  big[1000] = 0;
  rc = call_str(plugin, "work", big);
  CHECK(rc != 0, "%s: a call beyond the fuel budget succeeded", what);
  CHECK_CALL(plugin, "work", "0", "");
  rc = call_str(plugin, "spin", "");
  CHECK(rc != 0, "%s: the second infinite loop succeeded", what);
}

static void test_fuel(void) {
  const uint64_t fuel = 200000;
  char *err = NULL;
  ExtismPlugin *plugin = extism_plugin_new_with_fuel_limit((const uint8_t *)FUEL_WAT, strlen(FUEL_WAT), NULL,
                                                           0, false, fuel, &err);
  REQUIRE(plugin != NULL, "extism_plugin_new_with_fuel_limit: %s", show(err));
  check_fuel(plugin, "extism_plugin_new_with_fuel_limit");
  extism_plugin_free(plugin);

  ExtismCompiledPlugin *compiled = extism_compiled_plugin_new_with_fuel_limit(
      (const uint8_t *)FUEL_WAT, strlen(FUEL_WAT), NULL, 0, false, fuel, &err);
  REQUIRE(compiled != NULL, "extism_compiled_plugin_new_with_fuel_limit: %s", show(err));
  ExtismPlugin *a = extism_plugin_new_from_compiled(compiled, &err);
  REQUIRE(a != NULL, "extism_plugin_new_from_compiled: %s", show(err));
  extism_compiled_plugin_free(compiled);
  check_fuel(a, "extism_compiled_plugin_new_with_fuel_limit");
  extism_plugin_free(a);

  err = NULL;
  plugin = extism_plugin_new_with_fuel_limit((const uint8_t *)"(module", 7, NULL, 0, false, fuel, &err);
  CHECK(plugin == NULL && err != NULL, "an unclosed module with a fuel limit");
  extism_plugin_new_error_free(err);
}

int main(int argc, char **argv) {
  check_init(argc, argv);
  test_compiled();
  test_compiled_host_function();
  test_fuel();
  return check_report();
}
