//! One module on every engine: wasm-smith makes a valid module from the input that may
//! import the `extism:host/env` functions and exports two `() -> i32` functions and one
//! `() -> ()`, and every engine of the build compiles it, instantiates it and calls each of
//! its Extism exports in the same order with the same input and limits, then calls the
//! first one again (vars are not visible through the API; that last call reads them).
//!
//! The module terminates by itself (wasm-smith's fuel counter in a global traps when it
//! runs out) and computes the same thing on every engine: no NaN payloads (canonicalized),
//! no threads, no SIMD (wasmi has none), and only features all three engines have (no
//! memory64, multi-memory, exceptions, GC, tail calls, extended constants or newer
//! proposals). Resource caps are core's (`ResourceLimits`, `max_pages`), the same for
//! every engine, so a module refused for its size must be refused by all of them.
//!
//! A fault is any difference between engines: one builds the plug-in and another does not,
//! or fails with another kind of error; a call that succeeds on one with output bytes the
//! other does not give; errors of different kinds; a trap in other words (the backends give
//! a trap's message in the spec's words on every engine), a plug-in error (`error_set`, a
//! non-zero code) or a guest error with a different message; a different list of callable
//! exports.
//! A call that times out, or that exhausts an engine's call stack, cannot be compared (both
//! depend on the machine and the engine's stack layout): the comparison stops there.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use wasm_smith::{Config, Module};
use xtism::{Error, ErrorExt, ErrorKind, Manifest, Plugin, PluginBuilder, Wasm, XtismError};

/// Every `extism:host/env` import but `http_request` (no network in a fuzzer), with the
/// signatures of core's `abi.rs`.
const IMPORTS: &str = r#"(module
  (import "extism:host/env" "alloc" (func (param i64) (result i64)))
  (import "extism:host/env" "free" (func (param i64)))
  (import "extism:host/env" "length" (func (param i64) (result i64)))
  (import "extism:host/env" "length_unsafe" (func (param i64) (result i64)))
  (import "extism:host/env" "load_u8" (func (param i64) (result i32)))
  (import "extism:host/env" "load_u64" (func (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func (param i64 i32)))
  (import "extism:host/env" "store_u64" (func (param i64 i64)))
  (import "extism:host/env" "input_length" (func (result i64)))
  (import "extism:host/env" "input_offset" (func (result i64)))
  (import "extism:host/env" "input_load_u8" (func (param i64) (result i32)))
  (import "extism:host/env" "input_load_u64" (func (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func (param i64 i64)))
  (import "extism:host/env" "output_length" (func (result i64)))
  (import "extism:host/env" "output_offset" (func (result i64)))
  (import "extism:host/env" "error_set" (func (param i64)))
  (import "extism:host/env" "error_get" (func (result i64)))
  (import "extism:host/env" "reset" (func))
  (import "extism:host/env" "memory_bytes" (func (result i64)))
  (import "extism:host/env" "config_get" (func (param i64) (result i64)))
  (import "extism:host/env" "var_get" (func (param i64) (result i64)))
  (import "extism:host/env" "var_set" (func (param i64 i64)))
  (import "extism:host/env" "log_info" (func (param i64)))
  (import "extism:host/env" "log_error" (func (param i64)))
  (import "extism:host/env" "get_log_level" (func (result i32)))
  (import "extism:host/env" "http_status_code" (func (result i32)))
  (import "extism:host/env" "http_headers" (func (result i64)))
)"#;

/// The exports every module has.
const EXPORTS: &str = r#"(module
  (func (export "one") (result i32) unreachable)
  (func (export "two") (result i32) unreachable)
  (func (export "three") unreachable)
)"#;

/// Iterations of loops and calls the module may run in all (its fuel global), few enough
/// that recursion stays far below every engine's stack limit.
const FUEL: u32 = 1000;
/// `memory.max_pages`; wasm-smith makes memories of up to `MEMORY_PAGES_GENERATED` pages,
/// so some are refused for their size, and growth past the budget fails the call.
const MAX_PAGES: u32 = 16;
const MEMORY_PAGES_GENERATED: u64 = 20;
/// A call's timeout: generous, a call that reaches it is not compared.
const TIMEOUT: Duration = Duration::from_secs(2);

fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("the fuzzer's own WAT parses")
}

/// A wasm-smith configuration from the input (swarm testing), narrowed to what every engine
/// runs the same.
fn config(u: &mut Unstructured) -> Result<Config> {
    static SHAPES: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    let (imports, exports) = SHAPES.get_or_init(|| (wat(IMPORTS), wat(EXPORTS)));
    let mut config: Config = u.arbitrary()?;
    config.available_imports = Some(imports.clone());
    config.exports = Some(exports.clone());
    config.module_shape = None;
    config.canonicalize_nans = true;
    config.allow_invalid_funcs = false;
    config.threads_enabled = false;
    config.shared_everything_threads_enabled = false;
    config.acquire_release_atomics_enabled = false;
    config.simd_enabled = false;
    config.relaxed_simd_enabled = false;
    config.memory64_enabled = false;
    config.exceptions_enabled = false;
    config.gc_enabled = false;
    config.custom_descriptors_enabled = false;
    config.multibyte_array_access_enabled = false;
    config.tail_call_enabled = false;
    config.extended_const_enabled = false;
    config.wide_arithmetic_enabled = false;
    config.custom_page_sizes_enabled = false;
    config.compact_imports_enabled = false;
    config.max_memories = config.max_memories.min(1);
    config.max_memory32_bytes = config
        .max_memory32_bytes
        .min(MEMORY_PAGES_GENERATED * 65_536);
    // Core allows 64 tables of 2^20 elements; fewer and smaller keep a run fast.
    config.max_tables = config.max_tables.min(4);
    config.max_table_elements = config.max_table_elements.min(10_000);
    Ok(config)
}

/// What one call came to, in the terms compared across engines.
#[derive(Debug, PartialEq)]
enum Outcome {
    Output(Vec<u8>),
    /// A plug-in error: its code and message.
    Plugin(i32, String),
    /// A guest error (bad handle, range or string): core's message.
    Guest(String),
    /// A trap: its message (with the guest's `error_set` message, when it set one).
    Trap(String),
    /// Any other error: its kind (engine errors are worded by engines).
    Failed(ErrorKind),
    /// Not comparable: a timeout or an exhausted call stack.
    Unknown(String),
}

fn outcome(result: std::result::Result<Vec<u8>, Error>) -> Outcome {
    match result.map_err(XtismError::from) {
        Ok(output) => Outcome::Output(output),
        Err(XtismError::Plugin { code, message }) => Outcome::Plugin(code, message),
        Err(XtismError::Guest(message)) => Outcome::Guest(message),
        Err(e @ XtismError::Timeout(_)) => Outcome::Unknown(e.to_string()),
        Err(XtismError::Trap { message, .. }) if message.contains("stack") => {
            Outcome::Unknown(message)
        }
        Err(XtismError::Trap { message, .. }) => Outcome::Trap(message),
        Err(e) => Outcome::Failed(e.kind()),
    }
}

/// Everything one engine did with the module.
#[derive(Debug)]
struct Run {
    engine: &'static str,
    /// The build's error, if it failed (and its message, for the report).
    build: Option<(ErrorKind, String)>,
    functions: Vec<String>,
    calls: Vec<(String, Outcome)>,
}

fn run(engine: &'static str, wasm: &[u8], input: &[u8]) -> Run {
    let built = PluginBuilder::new(Manifest::new([Wasm::data(wasm.to_vec())]))
        .with_engine(xtism::engine_named(engine).expect("a compiled-in engine"))
        .with_timeout(TIMEOUT)
        .with_memory_max(MAX_PAGES)
        .with_var_max(4096)
        .with_config_key("k", "v")
        // Every input is a new module: the compile cache would only fill the disk.
        .with_cache_disabled()
        .build();
    let mut plugin: Plugin = match built {
        Ok(plugin) => plugin,
        Err(e) => {
            return Run {
                engine,
                build: Some((e.kind(), e.to_string())),
                functions: Vec::new(),
                calls: Vec::new(),
            };
        }
    };
    let functions: Vec<String> = plugin.functions().map(|(name, _)| name.to_owned()).collect();
    let mut calls = Vec::new();
    // Each export in order, then the first again: it sees the vars the others left.
    for name in functions.iter().chain(functions.first()) {
        let result = outcome(plugin.call::<&[u8], Vec<u8>>(name, input));
        let stop = matches!(result, Outcome::Unknown(_));
        calls.push((name.clone(), result));
        if stop {
            break;
        }
    }
    Run {
        engine,
        build: None,
        functions,
        calls,
    }
}

fn compare(wasm: &[u8], a: &Run, b: &Run) {
    let (x, y) = (a.engine, b.engine);
    let module = || format!("module of {} bytes", wasm.len());
    match (&a.build, &b.build) {
        (None, None) => {}
        (Some((ka, ma)), Some((kb, mb))) => {
            assert_eq!(
                ka,
                kb,
                "build fails differently: {x}: {ma}; {y}: {mb}; {}",
                module()
            );
            return;
        }
        (Some((_, m)), None) | (None, Some((_, m))) => {
            let failed = if a.build.is_some() { x } else { y };
            panic!(
                "only {failed} fails to build the plug-in: {m}; {}",
                module()
            );
        }
    }
    assert_eq!(a.functions, b.functions, "callable exports on {x} and {y}");
    for ((name, oa), (_, ob)) in a.calls.iter().zip(&b.calls) {
        if matches!(oa, Outcome::Unknown(_)) || matches!(ob, Outcome::Unknown(_)) {
            return;
        }
        assert_eq!(oa, ob, "{name}: {x} and {y} differ; {}", module());
    }
    assert_eq!(a.calls.len(), b.calls.len(), "calls made on {x} and {y}");
}

fn module(u: &mut Unstructured) -> Result<Vec<u8>> {
    let config = config(u)?;
    let mut module = Module::new(config, u)?;
    module
        .ensure_termination(FUEL)
        .map_err(|_| libfuzzer_sys::arbitrary::Error::IncorrectFormat)?;
    Ok(module.to_bytes())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(len) = u.int_in_range(0..=64usize) else {
        return;
    };
    let Ok(input) = u.bytes(len).map(<[u8]>::to_vec) else {
        return;
    };
    let Ok(wasm) = module(&mut u) else {
        return;
    };
    // For a reproducer: the module as a file (`wasm-tools print` reads it).
    if let Some(path) = std::env::var_os("XTISM_FUZZ_DUMP") {
        std::fs::write(path, &wasm).expect("the dump is written");
    }
    let runs: Vec<Run> = xtism::ENGINES
        .iter()
        .map(|engine| run(engine, &wasm, &input))
        .collect();
    for pair in runs.windows(2) {
        compare(&wasm, &pair[0], &pair[1]);
    }
});
