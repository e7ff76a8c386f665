/*
 * host_functions.c: host functions written in C: user data and when free_user_data runs,
 * custom namespaces, every value type, the running plug-in's kernel memory and host
 * context, and a host function that misbehaves (a wrong output type, a call back into the
 * plug-in that is running it).
 */
#include "check.h"

/* User data of a host function: counts calls and frees, records what it saw. */
typedef struct {
  int calls;
  int frees;
  void *host_context;
} Counter;

static void count_free(void *data) { ((Counter *)data)->frees++; }

static const ExtismValType I64[] = {ExtismValType_I64};

/* A new block holding `len` bytes of `data`, written through extism_current_plugin_memory. */
static ExtismMemoryHandle new_block(ExtismCurrentPlugin *plugin, const void *data, size_t len) {
  ExtismMemoryHandle block = extism_current_plugin_memory_alloc(plugin, len);
  CHECK(block != 0, "extism_current_plugin_memory_alloc(%zu) failed", len);
  if (block == 0) return 0;
  CHECK(extism_current_plugin_memory_length(plugin, block) == len, "a new block's length");
  memcpy(extism_current_plugin_memory(plugin) + block, data, len);
  return block;
}

/*
 * hello_world for as/host_fn.wasm: (i64 name) -> i64 "Hi <name>". Along the way it grows
 * kernel memory, frees blocks and records the host context.
 */
static void hello_world(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                        ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  Counter *counter = data;
  counter->calls++;
  counter->host_context = extism_current_plugin_host_context(plugin);
  REQUIRE(n_inputs == 1 && n_outputs == 1, "hello_world got %llu inputs, %llu outputs",
          (unsigned long long)n_inputs, (unsigned long long)n_outputs);
  CHECK(inputs[0].t == ExtismValType_I64, "input type %d", inputs[0].t);
  CHECK(outputs[0].t == ExtismValType_I64 && outputs[0].v.i64 == 0, "the output is not a zeroed i64");

  ExtismMemoryHandle name = (ExtismMemoryHandle)inputs[0].v.i64;
  ExtismSize len = extism_current_plugin_memory_length(plugin, name);
  CHECK(len > 0 && len < 64, "the name block is %llu bytes", (unsigned long long)len);
  CHECK(extism_current_plugin_memory_length(plugin, name + 1) == 0, "a block's inside has a length");
  char reply[80] = "Hi ";
  if (len < 64) memcpy(reply + 3, extism_current_plugin_memory(plugin) + name, len);

  /* A big block grows memory; write its last byte through the memory pointer taken anew. */
  const ExtismSize big_len = 3 << 20;
  ExtismMemoryHandle big = extism_current_plugin_memory_alloc(plugin, big_len);
  CHECK(big != 0, "a 3 MiB block was refused");
  if (big != 0) {
    uint8_t *memory = extism_current_plugin_memory(plugin);
    memory[big] = 1;
    memory[big + big_len - 1] = 2;
    CHECK(extism_current_plugin_memory_length(plugin, big) == big_len, "the big block's length");
    extism_current_plugin_memory_free(plugin, big);
    CHECK(extism_current_plugin_memory_length(plugin, big) == 0, "a freed block keeps its length");
  }
  /* The name survives memory growth; then the host frees it (the guest is done with it). */
  CHECK(len >= 64 || memcmp(extism_current_plugin_memory(plugin) + name, reply + 3, len) == 0,
        "the name block changed");
  extism_current_plugin_memory_free(plugin, name);
  CHECK(extism_current_plugin_memory_length(plugin, name) == 0, "the freed name block keeps its length");
  extism_current_plugin_memory_free(plugin, name);       /* twice: ignored */
  extism_current_plugin_memory_free(plugin, 123456789);  /* not a block: ignored */
  CHECK(extism_current_plugin_memory_length(plugin, 0) == 0, "handle 0 has a length");
  CHECK(extism_current_plugin_memory_alloc(plugin, (ExtismSize)1 << 40) == 0, "a 1 TiB block was given");

  outputs[0].v.i64 = (int64_t)new_block(plugin, reply, 3 + (size_t)len);
}

/* The order of frees: free_user_data runs once, after the plug-in and the function are gone. */
static void test_user_data(void) {
  size_t len;
  uint8_t *wasm = corpus_file("as/host_fn.wasm", &len);

  /* Function freed first, then the plug-in. */
  Counter a = {0};
  ExtismFunction *f = extism_function_new("hello_world", I64, 1, I64, 1, hello_world, &a, count_free);
  REQUIRE(f != NULL, "extism_function_new failed");
  char *err = NULL;
  ExtismPlugin *plugin = extism_plugin_new(wasm, len, (const ExtismFunction **)&f, 1, false, &err);
  REQUIRE(plugin != NULL, "host_fn.wasm: %s", show(err));
  CHECK_CALL(plugin, "call_host", "Bob", "Hi Bob!");
  CHECK(a.calls == 1, "hello_world ran %d times", a.calls);
  CHECK(a.host_context == NULL, "a host context without extism_plugin_call_with_host_context");
  /* Too late for a new namespace: the plug-in keeps the import it linked. */
  extism_function_set_namespace(f, "elsewhere");
  CHECK_CALL(plugin, "call_host", "Bea", "Hi Bea!");
  extism_function_free(f);
  CHECK(a.frees == 0, "free_user_data ran while the plug-in uses the function");
  int ctx = 7;
  int32_t rc = extism_plugin_call_with_host_context(plugin, "call_host", (const uint8_t *)"Alice", 5, &ctx);
  CHECK(rc == 0, "call_with_host_context: %d %s", rc, show(extism_plugin_error(plugin)));
  CHECK(output_is(plugin, "Hi Alice!"), "call_with_host_context output");
  CHECK(a.host_context == &ctx, "the host context is %p, expected %p", a.host_context, (void *)&ctx);
  CHECK_CALL(plugin, "call_host", "Carol", "Hi Carol!");
  CHECK(a.host_context == NULL, "the host context outlived its call");
  CHECK(a.calls == 4, "hello_world ran %d times", a.calls);
  extism_plugin_free(plugin);
  CHECK(a.frees == 1, "free_user_data ran %d times after both were freed", a.frees);

  /* Plug-in freed first, then the function. */
  Counter b = {0};
  f = extism_function_new("hello_world", I64, 1, I64, 1, hello_world, &b, count_free);
  plugin = extism_plugin_new(wasm, len, (const ExtismFunction **)&f, 1, false, NULL);
  REQUIRE(plugin != NULL, "host_fn.wasm failed");
  CHECK_CALL(plugin, "call_host", "Dave", "Hi Dave!");
  extism_plugin_free(plugin);
  CHECK(b.frees == 0, "free_user_data ran while the function exists");
  extism_function_free(f);
  CHECK(b.frees == 1, "free_user_data ran %d times", b.frees);

  /* A function no plug-in took. */
  Counter c = {0};
  f = extism_function_new("hello_world", I64, 1, I64, 1, hello_world, &c, count_free);
  extism_function_free(f);
  CHECK(c.frees == 1 && c.calls == 0, "unused function: %d frees, %d calls", c.frees, c.calls);

  /* A function given to a plug-in that could not be made. */
  Counter d = {0};
  f = extism_function_new("hello_world", I64, 1, I64, 1, hello_world, &d, count_free);
  const char *bad = "(module (import \"extism:host/user\" \"hello_world\" (func (param i32))))";
  err = NULL;
  plugin = extism_plugin_new((const uint8_t *)bad, strlen(bad), (const ExtismFunction **)&f, 1, false, &err);
  CHECK(plugin == NULL, "a plug-in with a mistyped import");
  CHECK(contains(err, "hello_world"), "the link error does not name hello_world: %s", show(err));
  extism_plugin_new_error_free(err);
  CHECK(d.frees == 0, "free_user_data ran before extism_function_free");
  extism_function_free(f);
  CHECK(d.frees == 1, "free_user_data ran %d times", d.frees);

  /* No free_user_data at all. */
  Counter e = {0};
  f = extism_function_new("hello_world", I64, 1, I64, 1, hello_world, &e, NULL);
  plugin = extism_plugin_new(wasm, len, (const ExtismFunction **)&f, 1, false, NULL);
  REQUIRE(plugin != NULL, "host_fn.wasm failed");
  extism_function_free(f);
  CHECK_CALL(plugin, "call_host", "Eve", "Hi Eve!");
  extism_plugin_free(plugin);
  CHECK(e.calls == 1 && e.frees == 0, "without free_user_data: %d calls, %d frees", e.calls, e.frees);

  /* One function serving two plug-ins (libextism refuses the second). */
  Counter g = {0};
  f = extism_function_new("hello_world", I64, 1, I64, 1, hello_world, &g, count_free);
  ExtismPlugin *first = extism_plugin_new(wasm, len, (const ExtismFunction **)&f, 1, false, NULL);
  ExtismPlugin *second = extism_plugin_new(wasm, len, (const ExtismFunction **)&f, 1, false, NULL);
  REQUIRE(first != NULL && second != NULL, "two plug-ins sharing a function");
  extism_function_free(f);
  CHECK_CALL(first, "call_host", "Finn", "Hi Finn!");
  CHECK_CALL(second, "call_host", "Gus", "Hi Gus!");
  extism_plugin_free(first);
  CHECK(g.frees == 0, "free_user_data ran while the second plug-in uses the function");
  CHECK_CALL(second, "call_host", "Hal", "Hi Hal!");
  extism_plugin_free(second);
  CHECK(g.calls == 3 && g.frees == 1, "shared function: %d calls, %d frees", g.calls, g.frees);

  CHECK(a.frees == 1 && b.frees == 1 && c.frees == 1 && d.frees == 1, "a late second free_user_data");
  free(wasm);
}

/* transform: (i64 block) -> i64 block with the bytes reversed. */
static void transform(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                      ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)n_inputs, (void)n_outputs, (void)data;
  ExtismMemoryHandle in = (ExtismMemoryHandle)inputs[0].v.i64;
  ExtismSize len = extism_current_plugin_memory_length(plugin, in);
  ExtismMemoryHandle out = extism_current_plugin_memory_alloc(plugin, len);
  uint8_t *memory = extism_current_plugin_memory(plugin);
  for (ExtismSize i = 0; i < len; i++) memory[out + i] = memory[in + len - 1 - i];
  outputs[0].v.i64 = (int64_t)out;
}

/* mix: (i32, i64, f32, f64) -> f64, their sum; checks each type. */
static void mix(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)plugin, (void)data;
  REQUIRE(n_inputs == 4 && n_outputs == 1, "mix: %llu inputs", (unsigned long long)n_inputs);
  CHECK(inputs[0].t == ExtismValType_I32 && inputs[0].v.i32 == 2, "mix input 0");
  CHECK(inputs[1].t == ExtismValType_I64 && inputs[1].v.i64 == 3, "mix input 1");
  CHECK(inputs[2].t == ExtismValType_F32 && inputs[2].v.f32 == 1.5f, "mix input 2");
  CHECK(inputs[3].t == ExtismValType_F64 && inputs[3].v.f64 == 0.25, "mix input 3");
  CHECK(outputs[0].t == ExtismValType_F64, "mix output type %d", outputs[0].t);
  outputs[0].v.f64 = inputs[0].v.i32 + (double)inputs[1].v.i64 + inputs[2].v.f32 + inputs[3].v.f64;
}

/* twice: (i32) -> i32, in the namespace "custom". */
static void twice(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                  ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)plugin, (void)n_inputs, (void)n_outputs;
  ((Counter *)data)->calls++;
  outputs[0].v.i32 = inputs[0].v.i32 * 2;
}

/* join: (i64 a, i64 b, i64 n) -> i64 block "a+b+<u64 at n>". */
static void join(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                 ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)n_inputs, (void)n_outputs, (void)data;
  uint8_t *memory = extism_current_plugin_memory(plugin);
  char text[256];
  ExtismMemoryHandle a = (ExtismMemoryHandle)inputs[0].v.i64, b = (ExtismMemoryHandle)inputs[1].v.i64;
  uint64_t n;
  memcpy(&n, memory + inputs[2].v.i64, sizeof n);
  int len = snprintf(text, sizeof text, "%.*s+%.*s+%llu", (int)extism_current_plugin_memory_length(plugin, a),
                     (const char *)memory + a, (int)extism_current_plugin_memory_length(plugin, b),
                     (const char *)memory + b, (unsigned long long)n);
  outputs[0].v.i64 = (int64_t)new_block(plugin, text, (size_t)len);
}

/* wat/host_functions.wat: every value type, a custom namespace, several blocks. */
static void test_value_types_and_namespace(void) {
  size_t len;
  uint8_t *wat = corpus_file("wat/host_functions.wat", &len);
  const ExtismValType mix_in[] = {ExtismValType_I32, ExtismValType_I64, ExtismValType_F32, ExtismValType_F64};
  const ExtismValType f64[] = {ExtismValType_F64};
  const ExtismValType i32[] = {ExtismValType_I32};
  const ExtismValType i64x3[] = {ExtismValType_I64, ExtismValType_I64, EXTISM_PTR};

  for (int with_namespace = 1; with_namespace >= 0; with_namespace--) {
    Counter twice_counter = {0};
    ExtismFunction *functions[] = {
        extism_function_new("transform", I64, 1, I64, 1, transform, NULL, NULL),
        extism_function_new("mix", mix_in, 4, f64, 1, mix, NULL, NULL),
        extism_function_new("twice", i32, 1, i32, 1, twice, &twice_counter, count_free),
        extism_function_new("join", i64x3, 3, I64, 1, join, NULL, NULL),
    };
    for (int i = 0; i < 4; i++) REQUIRE(functions[i] != NULL, "extism_function_new %d", i);
    if (with_namespace) extism_function_set_namespace(functions[2], "custom");
    char *err = NULL;
    ExtismPlugin *plugin = extism_plugin_new(wat, len, (const ExtismFunction **)functions, 4, false, &err);
    for (int i = 0; i < 4; i++) extism_function_free(functions[i]);
    if (!with_namespace) {
      CHECK(plugin == NULL, "twice linked without its namespace");
      CHECK(contains(err, "twice"), "the link error does not name twice: %s", show(err));
      extism_plugin_new_error_free(err);
      CHECK(twice_counter.frees == 1, "free_user_data ran %d times", twice_counter.frees);
      continue;
    }
    REQUIRE(plugin != NULL, "host_functions.wat: %s", show(err));
    CHECK_CALL(plugin, "transform", "stressed", "desserts");
    CHECK_CALL(plugin, "join", "ab", "ab+xy+7");
    int32_t rc = call_str(plugin, "numbers", "");
    CHECK(rc == 0, "numbers: %d %s", rc, show(extism_plugin_error(plugin)));
    REQUIRE(extism_plugin_output_length(plugin) == 16, "numbers output length");
    double sum;
    int64_t doubled;
    memcpy(&sum, extism_plugin_output_data(plugin), 8);
    memcpy(&doubled, extism_plugin_output_data(plugin) + 8, 8);
    CHECK(sum == 6.75, "mix returned %g, expected 6.75", sum);
    CHECK(doubled == 42, "twice returned %lld, expected 42", (long long)doubled);
    CHECK(twice_counter.calls == 1, "twice ran %d times", twice_counter.calls);
    extism_plugin_free(plugin);
    CHECK(twice_counter.frees == 1, "free_user_data ran %d times", twice_counter.frees);
  }
  free(wat);
}

/* Host functions that break the rules. */
static const char *MISBEHAVING_WAT =
    "(module\n"
    "  (import \"extism:host/user\" \"bad_tag\" (func $bad_tag (result i64)))\n"
    "  (import \"extism:host/user\" \"wrong_type\" (func $wrong_type (result i64)))\n"
    "  (import \"extism:host/user\" \"reenter\" (func $reenter))\n"
    "  (import \"extism:host/env\" \"alloc\" (func $alloc (param i64) (result i64)))\n"
    "  (import \"extism:host/env\" \"store_u8\" (func $store_u8 (param i64 i32)))\n"
    "  (import \"extism:host/env\" \"output_set\" (func $output_set (param i64 i64)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (func (export \"call_bad_tag\") (result i32) (drop (call $bad_tag)) (i32.const 0))\n"
    "  (func (export \"call_wrong_type\") (result i32) (drop (call $wrong_type)) (i32.const 0))\n"
    "  (func $ok (export \"ok\") (result i32)\n"
    "    (local $h i64)\n"
    "    (local.set $h (call $alloc (i64.const 2)))\n"
    "    (call $store_u8 (local.get $h) (i32.const 111))\n"
    "    (call $store_u8 (i64.add (local.get $h) (i64.const 1)) (i32.const 107))\n"
    "    (call $output_set (local.get $h) (i64.const 2))\n"
    "    (i32.const 0))\n"
    "  (func (export \"call_reenter\") (result i32) (call $reenter) (call $ok)))\n";

static void bad_tag(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                    ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)plugin, (void)inputs, (void)n_inputs, (void)n_outputs, (void)data;
  outputs[0].t = (ExtismValType)99;
  outputs[0].v.i64 = 1;
}

static void wrong_type(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                       ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)plugin, (void)inputs, (void)n_inputs, (void)n_outputs, (void)data;
  outputs[0].t = ExtismValType_I32;
  outputs[0].v.i32 = 1;
}

/* What the nested call of `reenter` saw. */
typedef struct {
  ExtismPlugin *plugin;
  int32_t rc;
  bool ran;
} Reentry;

static void reenter(ExtismCurrentPlugin *plugin, const ExtismVal *inputs, ExtismSize n_inputs,
                    ExtismVal *outputs, ExtismSize n_outputs, void *data) {
  (void)plugin, (void)inputs, (void)n_inputs, (void)outputs, (void)n_outputs;
  Reentry *reentry = data;
  reentry->rc = call_str(reentry->plugin, "ok", "");
  reentry->ran = true;
}

static void test_misbehaving(void) {
  Reentry reentry = {0};
  ExtismFunction *functions[] = {
      extism_function_new("bad_tag", NULL, 0, I64, 1, bad_tag, NULL, NULL),
      extism_function_new("wrong_type", NULL, 0, I64, 1, wrong_type, NULL, NULL),
      extism_function_new("reenter", NULL, 0, NULL, 0, reenter, &reentry, NULL),
  };
  ExtismPlugin *plugin = plugin_from_text(MISBEHAVING_WAT, (const ExtismFunction **)functions, 3);
  for (int i = 0; i < 3; i++) extism_function_free(functions[i]);
  reentry.plugin = plugin;

  int32_t rc = call_str(plugin, "call_bad_tag", "");
  CHECK(rc != 0, "a result of type 99 was accepted");
  CHECK(extism_plugin_error(plugin) != NULL, "no error for a result of type 99");
  CHECK_CALL(plugin, "ok", "", "ok");

  rc = call_str(plugin, "call_wrong_type", "");
  CHECK(rc != 0, "an i32 result for an i64 was accepted");
  CHECK(extism_plugin_error(plugin) != NULL, "no error for an i32 result for an i64");
  CHECK_CALL(plugin, "ok", "", "ok");

  /* The nested call is refused at once, and so the host function fails the outer call. */
  rc = call_str(plugin, "call_reenter", "");
  CHECK(reentry.ran, "reenter did not run");
  CHECK(reentry.rc == -1, "a nested call on the running plug-in returned %d, expected -1", reentry.rc);
  CHECK(rc == -1, "the outer call returned %d, expected -1", rc);
  CHECK(contains(extism_plugin_error(plugin), "reenter") &&
            contains(extism_plugin_error(plugin), "extism_plugin_call"),
        "the outer call's error does not explain the nested call: %s", show(extism_plugin_error(plugin)));
  CHECK_CALL(plugin, "ok", "", "ok");
  extism_plugin_free(plugin);
}

int main(int argc, char **argv) {
  check_init(argc, argv);
  test_user_data();
  test_value_types_and_namespace();
  test_misbehaving();
  return check_report();
}
