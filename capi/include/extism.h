/*
 * extism.h for libxtism: the C API of the official libextism (Extism 1.x), served by xtism on
 * wasmtime, wasmi or wasmer. Code written against the official header compiles and links
 * against libxtism unchanged; the engine comes from the XTISM_ENGINE environment variable
 * (`wasmtime`, `wasmi`, `wasmer`) or from xtism_plugin_new_with_engine.
 *
 * Units: sizes and lengths are bytes; fuel is counted in the engine's own units (one per
 * Wasm instruction on wasmi, per operator on wasmtime and wasmer).
 *
 * Ownership, as in libextism:
 *  - a plug-in from extism_plugin_new* is freed with extism_plugin_free;
 *  - a compiled plug-in with extism_compiled_plugin_free (plug-ins made from it stay valid);
 *  - an error message written to `errmsg` with extism_plugin_new_error_free;
 *  - a function with extism_function_free, whether or not plug-ins use it: each plug-in (or
 *    compiled plug-in) given a function keeps its own reference, so freeing the function
 *    afterwards does not disturb them, and one function can serve any number of plug-ins.
 *    `free_user_data` runs once the function and every plug-in using it are gone;
 *  - strings and bytes returned by extism_plugin_error, extism_plugin_output_data,
 *    extism_plugin_id and extism_version belong to the library: the plug-in's until its next
 *    call (or until it is freed), the library's for extism_version.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define EXTISM_FUNCTION(N) \
  extern void N(ExtismCurrentPlugin *, const ExtismVal *, ExtismSize, ExtismVal *, ExtismSize, void *)
#define EXTISM_GO_FUNCTION(N) \
  extern void N(void *, ExtismVal *, ExtismSize, ExtismVal *, ExtismSize, uintptr_t)

/** What extism_plugin_call returns when the call succeeded. */
#define EXTISM_SUCCESS 0

/** The value type of an Extism memory handle (an offset in kernel memory). */
#define EXTISM_PTR ExtismValType_I64

/** The type of a host function parameter or result. */
typedef enum {
  /** 32-bit integer. */
  ExtismValType_I32,
  /** 64-bit integer. */
  ExtismValType_I64,
  /** 32-bit float. */
  ExtismValType_F32,
  /** 64-bit float. */
  ExtismValType_F64,
  /** 128-bit vector (not accepted by host functions). */
  ExtismValType_V128,
  /** Function reference (not accepted by host functions). */
  ExtismValType_FuncRef,
  /** External reference (not accepted by host functions). */
  ExtismValType_ExternRef,
} ExtismValType;

/** Stops a plug-in's running call from another thread; it lives as long as its plug-in. */
typedef struct ExtismCancelHandle ExtismCancelHandle;

/** A plug-in compiled once, from which plug-ins are made cheaply. */
typedef struct ExtismCompiledPlugin ExtismCompiledPlugin;

/** The plug-in a host function was called from; valid only during that call. */
typedef struct ExtismCurrentPlugin ExtismCurrentPlugin;

/** A host function, before a plug-in takes it. */
typedef struct ExtismFunction ExtismFunction;

/** A plug-in instance. */
typedef struct ExtismPlugin ExtismPlugin;

/** An offset in the plug-in's kernel memory where a block starts. */
typedef uint64_t ExtismMemoryHandle;

/** A length in bytes or a count. */
typedef uint64_t ExtismSize;

/** The value of a host function parameter or result. */
typedef union {
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
} ExtismValUnion;

/** A typed host function parameter or result. */
typedef struct {
  ExtismValType t;
  ExtismValUnion v;
} ExtismVal;

/**
 * A host function. `inputs` holds `n_inputs` arguments; `outputs` holds `n_outputs` results,
 * typed and zeroed, for the function to fill in (keeping their types). `data` is the
 * `user_data` given to extism_function_new.
 */
typedef void (*ExtismFunctionType)(ExtismCurrentPlugin *plugin,
                                   const ExtismVal *inputs,
                                   ExtismSize n_inputs,
                                   ExtismVal *outputs,
                                   ExtismSize n_outputs,
                                   void *data);

/** Receives one buffered log line: `size` bytes ending in a newline, also NUL-terminated. */
typedef void (*ExtismLogDrainFunctionType)(const char *data, ExtismSize size);

#ifdef __cplusplus
extern "C" {
#endif

/** The plug-in's id: 16 bytes of a UUIDv4, owned by the plug-in. NULL for a NULL plug-in. */
const uint8_t *extism_plugin_id(ExtismPlugin *plugin);

/** The host context given to extism_plugin_call_with_host_context, or NULL. */
void *extism_current_plugin_host_context(ExtismCurrentPlugin *plugin);

/**
 * The start of the running plug-in's kernel memory, where memory handles point. It moves when
 * memory grows: take it again after extism_current_plugin_memory_alloc.
 */
uint8_t *extism_current_plugin_memory(ExtismCurrentPlugin *plugin);

/** Allocates an `n`-byte block in kernel memory; 0 when memory is exhausted. */
ExtismMemoryHandle extism_current_plugin_memory_alloc(ExtismCurrentPlugin *plugin, ExtismSize n);

/** The length of the block at `n`; 0 when `n` is not an allocated block. */
ExtismSize extism_current_plugin_memory_length(ExtismCurrentPlugin *plugin, ExtismMemoryHandle n);

/** Frees the block at `ptr`; anything else is ignored. */
void extism_current_plugin_memory_free(ExtismCurrentPlugin *plugin, ExtismMemoryHandle ptr);

/**
 * A host function `name` (UTF-8) importable from the `extism:host/user` namespace, taking
 * `n_inputs` values of the types at `inputs` and returning `n_outputs` of the types at
 * `outputs` (a NULL array counts as none). `func` is called with `user_data`;
 * `free_user_data`, when not NULL, is called with it once nothing uses the function any more.
 * NULL (and `free_user_data` not called) when the name is NULL or not UTF-8, `func` is NULL
 * or a type is not I32, I64, F32 or F64.
 */
ExtismFunction *extism_function_new(const char *name,
                                    const ExtismValType *inputs,
                                    ExtismSize n_inputs,
                                    const ExtismValType *outputs,
                                    ExtismSize n_outputs,
                                    ExtismFunctionType func,
                                    void *user_data,
                                    void (*free_user_data)(void *_));

/** Frees a function (a plug-in that took it keeps its own reference). */
void extism_function_free(ExtismFunction *f);

/** Sets the import namespace of a function not yet taken by a plug-in. */
void extism_function_set_namespace(ExtismFunction *ptr, const char *namespace_);

/**
 * Compiles a plug-in from `wasm`: a Wasm module, WebAssembly text or a JSON or TOML manifest,
 * `wasm_size` bytes long, with `n_functions` host functions. NULL on failure, with a message
 * in `*errmsg` (when `errmsg` is not NULL) to free with extism_plugin_new_error_free.
 */
ExtismCompiledPlugin *extism_compiled_plugin_new(const uint8_t *wasm,
                                                 ExtismSize wasm_size,
                                                 const ExtismFunction **functions,
                                                 ExtismSize n_functions,
                                                 bool with_wasi,
                                                 char **errmsg);

/** extism_compiled_plugin_new with a fuel budget for each call (engine units). */
ExtismCompiledPlugin *extism_compiled_plugin_new_with_fuel_limit(const uint8_t *wasm,
                                                                 ExtismSize wasm_size,
                                                                 const ExtismFunction **functions,
                                                                 ExtismSize n_functions,
                                                                 bool with_wasi,
                                                                 uint64_t fuel_limit,
                                                                 char **errmsg);

/** Frees a compiled plug-in; plug-ins made from it keep working. */
void extism_compiled_plugin_free(ExtismCompiledPlugin *plugin);

/**
 * A plug-in from `wasm` (a Wasm module, WebAssembly text, or a JSON or TOML manifest) on the
 * engine XTISM_ENGINE names (else the default). `functions` may be NULL for none; a NULL
 * entry in it is an error. NULL on failure, as extism_compiled_plugin_new.
 */
ExtismPlugin *extism_plugin_new(const uint8_t *wasm,
                                ExtismSize wasm_size,
                                const ExtismFunction **functions,
                                ExtismSize n_functions,
                                bool with_wasi,
                                char **errmsg);

/** A new plug-in instance of a compiled plug-in. NULL on failure, with `*errmsg` set. */
ExtismPlugin *extism_plugin_new_from_compiled(const ExtismCompiledPlugin *compiled, char **errmsg);

/** extism_plugin_new with a fuel budget for each call (engine units). */
ExtismPlugin *extism_plugin_new_with_fuel_limit(const uint8_t *wasm,
                                                ExtismSize wasm_size,
                                                const ExtismFunction **functions,
                                                ExtismSize n_functions,
                                                bool with_wasi,
                                                uint64_t fuel_limit,
                                                char **errmsg);

/** Lets `http_request` calls of this plug-in see response headers. */
void extism_plugin_allow_http_response_headers(ExtismPlugin *plugin);

/** Frees a message written to `errmsg`. */
void extism_plugin_new_error_free(char *err);

/** Frees a plug-in. Not while one of its calls runs. */
void extism_plugin_free(ExtismPlugin *plugin);

/** The plug-in's cancel handle, valid as long as the plug-in; NULL for a NULL plug-in. */
const ExtismCancelHandle *extism_plugin_cancel_handle(const ExtismPlugin *plugin);

/**
 * Stops the plug-in's running call (from any thread); it fails with an error. A cancel while
 * no call runs does nothing. False when the handle is NULL or the engine cannot cancel.
 */
bool extism_plugin_cancel(const ExtismCancelHandle *handle);

/**
 * Merges a JSON object of strings into the plug-in's config; a `null` value removes its key.
 * False (and the plug-in unchanged) when the JSON is not such an object.
 */
bool extism_plugin_config(ExtismPlugin *plugin, const uint8_t *json, ExtismSize json_size);

/** Whether the plug-in exports a callable function `func_name`. */
bool extism_plugin_function_exists(ExtismPlugin *plugin, const char *func_name);

/**
 * Calls `func_name` with `data_len` bytes of input. Returns 0 on success; otherwise the
 * plug-in's own return code or WASI exit code, 134 for a trap, a timeout or a cancel, and -1
 * for any other failure (running out of fuel, a missing function, a host function's error,
 * ...); extism_plugin_error then says what happened. Called from a host function on the
 * plug-in that is running it, it returns -1 and fails the running call too.
 */
int32_t extism_plugin_call(ExtismPlugin *plugin,
                           const char *func_name,
                           const uint8_t *data,
                           ExtismSize data_len);

/** extism_plugin_call, with `host_context` for extism_current_plugin_host_context. */
int32_t extism_plugin_call_with_host_context(ExtismPlugin *plugin,
                                             const char *func_name,
                                             const uint8_t *data,
                                             ExtismSize data_len,
                                             void *host_context);

/** Deprecated: extism_plugin_error. */
const char *extism_error(ExtismPlugin *plugin);

/**
 * The last call's error message, or NULL when it succeeded. Owned by the plug-in: valid
 * until its next call, extism_plugin_config or extism_plugin_reset.
 */
const char *extism_plugin_error(ExtismPlugin *plugin);

/** The length in bytes of the last call's output. */
ExtismSize extism_plugin_output_length(ExtismPlugin *plugin);

/** The last call's output, valid until the plug-in's next call. */
const uint8_t *extism_plugin_output_data(ExtismPlugin *plugin);

/**
 * Sends logs to `filename` (`stdout`, `stderr` or a file, appended to). `log_level` is a
 * level (`error`, `warn`, `info`, `debug`, `trace`) or a filter such as `extism=debug`.
 * Once per process; false after the first.
 */
bool extism_log_file(const char *filename, const char *log_level);

/** Buffers logs at `log_level` until extism_log_drain. Once per process, as extism_log_file. */
bool extism_log_custom(const char *log_level);

/** Hands each buffered log line to `handler`, oldest first, and empties the buffer. */
void extism_log_drain(ExtismLogDrainFunctionType handler);

/** Frees every block of the plug-in's kernel memory. */
bool extism_plugin_reset(ExtismPlugin *plugin);

/**
 * The version: the Extism API version implemented, with xtism's own version as build
 * metadata, e.g. "1.41.0+xtism.0.1.0".
 */
const char *extism_version(void);

/* xtism's additions. */

/**
 * extism_plugin_new on the engine called `engine` (one of xtism_engines()). NULL, with
 * `*errmsg` set, when that engine is not compiled in.
 */
ExtismPlugin *xtism_plugin_new_with_engine(const char *engine,
                                           const uint8_t *wasm,
                                           ExtismSize wasm_size,
                                           const ExtismFunction **functions,
                                           ExtismSize n_functions,
                                           bool with_wasi,
                                           char **errmsg);

/** The engines compiled in, comma-separated, the default first: e.g. "wasmtime,wasmi,wasmer". */
const char *xtism_engines(void);

#ifdef __cplusplus
}
#endif
