//! The conformance suite: every case runs on every engine compiled in.
//!
//! Cases are plain functions taking an engine name; `suite!` lists them once and expands
//! the list into one module per engine, so a case is run alone as e.g.
//! `cargo test -p xtism-conformance wasmi::var_limit`. What an engine cannot do is listed in
//! [`CANNOT`], and that table is checked both ways: a listed case that passes fails. WASI
//! cases are in `wasi.rs`.

use std::sync::{Arc, Mutex};

use xtism::{
    CompiledPlugin, CurrentPlugin, DebugOptions, Error, ErrorKind, Function, Json, Manifest, PTR,
    Plugin, PluginBuilder, Pool, UserData, Val, ValType, host_fn, manifest::Wasm,
};
use xtism_conformance::{builder, expect_err, plugin, run_case};

#[cfg(feature = "http")]
#[path = "suite/http.rs"]
mod http;
#[cfg(feature = "http")]
use http::*;

/// (engine, case, why) for each case that is expected to fail on that engine.
const CANNOT: &[(&str, &str, &str)] = &[(
    "wasmi",
    "trap_has_wasm_backtrace",
    "wasmi does not record Wasm backtraces",
)];

xtism_conformance::suite!(
    CANNOT;
    count_vowels_keeps_a_running_total,
    count_vowels_reads_config,
    count_vowels_json_output,
    as_host_function,
    the_last_host_function_of_a_name_wins,
    as_plugin_error_then_more_calls,
    as_logging,
    c_constructors_run_once,
    c_echo_large_input,
    kernel_blocks,
    kernel_input,
    kernel_free_input_and_reset,
    kernel_reset_and_getters,
    kernel_config,
    kernel_vars_persist,
    var_limit,
    vars_disabled,
    manifest_var_limit,
    error_code_and_message,
    error_cleared_is_success,
    error_with_bogus_handle,
    trap_carries_guest_message,
    void_export,
    log_level,
    #[cfg(feature = "http")]
    http_get_and_post_with_headers,
    #[cfg(feature = "http")]
    http_status_codes_keep_body_and_headers,
    #[cfg(feature = "http")]
    http_response_headers_only_when_enabled,
    #[cfg(feature = "http")]
    http_large_body,
    #[cfg(feature = "http")]
    http_response_over_the_limit,
    #[cfg(feature = "http")]
    http_slow_response_times_out,
    #[cfg(feature = "http")]
    http_cancel_mid_request,
    #[cfg(feature = "http")]
    http_denied_host_is_never_contacted,
    #[cfg(feature = "http")]
    http_redirect_to_a_denied_host,
    #[cfg(feature = "http")]
    http_globs_and_star,
    #[cfg(feature = "http")]
    http_bad_requests_are_errors,
    #[cfg(feature = "http")]
    http_hostile_responses,
    #[cfg(feature = "http")]
    http_bodies_are_not_decompressed,
    #[cfg(not(feature = "http"))]
    http_needs_the_feature,
    bogus_handles_are_guest_errors,
    handle_zero_is_the_empty_block,
    alloc_stops_at_max_pages,
    memory_grow_respects_max_pages,
    max_pages_past_a_32_bit_memory_mean_no_cap,
    input_larger_than_memory_limit,
    function_not_found,
    missing_import_is_named,
    wrong_import_signature,
    malformed_wasm,
    #[cfg(feature = "wat")]
    webassembly_text_wherever_wasm_goes,
    manifest_hash_mismatch,
    manifest_with_linked_module,
    host_functions_written_in_wasm,
    user_host_functions,
    host_fn_macro,
    host_function_error,
    host_context,
    reactor_initializer_runs_once,
    haskell_initializers,
    command_is_reinstantiated,
    kernel_is_fresh_after_reinstantiation,
    compiled_plugin_many_instances,
    fuel_limit,
    timeout_stops_infinite_loop,
    manifest_timeout_with_fuel,
    plugin_reset_and_ids,
    debug_options,
    start_function_runs_once_at_the_first_call,
    start_function_is_bounded,
    start_function_host_error_is_reported,
    initializer_is_bounded,
    initializer_of_the_wrong_type_is_skipped,
    error_message_fails_even_with_code_zero,
    tables_are_bounded,
    trap_has_wasm_backtrace,
    v128_host_functions_need_simd,
    manifest_from_url,
    cancel_from_another_thread,
    pool_under_eight_threads,
    memory_bomb,
    host_functions_are_not_interrupted,
    compile_cache,
);

#[test]
fn the_cannot_table_is_checked_both_ways() {
    fn passes(_: &'static str) {}
    fn fails(_: &'static str) {
        panic!("expected failure");
    }
    let table: &[(&str, &str, &str)] = &[("e", "listed", "why")];
    // A listed case that fails, and an unlisted case that passes, are fine.
    run_case(table, "e", "listed", fails);
    run_case(table, "e", "other", passes);
    // A listed case that passes, and an unlisted case that fails, are failures.
    for (case, f) in [("listed", passes as fn(&'static str)), ("other", fails)] {
        let outcome = std::panic::catch_unwind(|| run_case(table, "e", case, f));
        assert!(outcome.is_err(), "{case}");
    }
}

// ---------------------------------------------------------------------------------------
// Helpers

fn new_plugin(engine: &str, wasm: &[u8]) -> Plugin {
    builder(engine, wasm).build().unwrap()
}

/// The u64 facts a `kernel.wat` export reports.
fn facts(out: &[u8]) -> Vec<u64> {
    assert_eq!(out.len() % 8, 0, "facts are u64s");
    out.chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn call_facts(plugin: &mut Plugin, name: &str, input: &[u8]) -> Vec<u64> {
    let out: &[u8] = plugin.call(name, input).unwrap();
    facts(out)
}

/// The plug-in still works: an echo call returns its input.
fn still_works(plugin: &mut Plugin) {
    let out: String = plugin.call("echo", "still here").unwrap();
    assert_eq!(out, "still here");
}

fn kernel() -> Vec<u8> {
    plugin("wat/kernel.wat")
}

// ---------------------------------------------------------------------------------------
// Plug-ins built with the official AssemblyScript PDK and with C

fn count_vowels_keeps_a_running_total(engine: &'static str) {
    let wasm = plugin("as/count_vowels.wasm");
    let mut p = new_plugin(engine, &wasm);
    let first: String = p.call("count_vowels", "Hello, World!").unwrap();
    assert_eq!(first, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
    let second: String = p.call("count_vowels", "Hello, World!").unwrap();
    assert_eq!(second, r#"{"count":3,"total":6,"vowels":"aeiouAEIOU"}"#);
    // A second instance has its own vars.
    let mut other = new_plugin(engine, &wasm);
    let fresh: String = other.call("count_vowels", "aaa").unwrap();
    assert_eq!(fresh, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
}

fn count_vowels_reads_config(engine: &'static str) {
    let wasm = plugin("as/count_vowels.wasm");
    let mut p = builder(engine, &wasm)
        .with_config_key("vowels", "lo")
        .build()
        .unwrap();
    let out: String = p.call("count_vowels", "Hello, World!").unwrap();
    assert_eq!(out, r#"{"count":5,"total":5,"vowels":"lo"}"#);
    p.update_config([("vowels", Some("W"))]).unwrap();
    let out: String = p.call("count_vowels", "Hello, World!").unwrap();
    assert_eq!(out, r#"{"count":1,"total":6,"vowels":"W"}"#);
    p.update_config([("vowels", None::<String>)]).unwrap();
    let out: String = p.call("count_vowels", "Hello, World!").unwrap();
    assert_eq!(out, r#"{"count":3,"total":9,"vowels":"aeiouAEIOU"}"#);
}

fn count_vowels_json_output(engine: &'static str) {
    #[derive(serde::Deserialize)]
    struct Count {
        count: u64,
        total: u64,
        vowels: String,
    }
    let manifest =
        Manifest::new([Wasm::data(plugin("as/count_vowels.wasm"))]).with_config_key("vowels", "o");
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine(engine).unwrap())
        .build()
        .unwrap();
    let Json(c): Json<Count> = p.call("count_vowels", "foo boo").unwrap();
    assert_eq!((c.count, c.total, c.vowels.as_str()), (4, 4, "o"));
}

fn as_host_function(engine: &'static str) {
    let wasm = plugin("as/host_fn.wasm");
    let seen = UserData::new(Vec::<String>::new());
    let f = Function::new(
        "hello_world",
        [PTR],
        [PTR],
        seen.clone(),
        |plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], seen| {
            let name: String = plugin.memory_get_val(&inputs[0])?;
            seen.get()?.lock().unwrap().push(name.clone());
            plugin.memory_set_val(&mut outputs[0], format!("Hi {name}"))
        },
    );
    let mut p = builder(engine, &wasm).with_functions([f]).build().unwrap();
    let out: String = p.call("call_host", "Bob").unwrap();
    assert_eq!(out, "Hi Bob!");
    let out: String = p.call("call_host", "Alice").unwrap();
    assert_eq!(out, "Hi Alice!");
    assert_eq!(*seen.get().unwrap().lock().unwrap(), vec!["Bob", "Alice"]);
}

/// Two host functions with one name: the last given is linked, as in the official runtime.
fn the_last_host_function_of_a_name_wins(engine: &'static str) {
    let greeter = |greeting: &'static str| {
        Function::new(
            "hello_world",
            [PTR],
            [PTR],
            UserData::new(()),
            move |plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], _| {
                let name: String = plugin.memory_get_val(&inputs[0])?;
                plugin.memory_set_val(&mut outputs[0], format!("{greeting} {name}"))
            },
        )
    };
    let wasm = plugin("as/host_fn.wasm");
    let mut p = builder(engine, &wasm)
        .with_functions([greeter("Hi"), greeter("Hello")])
        .build()
        .unwrap();
    let out: String = p.call("call_host", "Bob").unwrap();
    assert_eq!(out, "Hello Bob!");
}

fn as_plugin_error_then_more_calls(engine: &'static str) {
    let wasm = plugin("as/errors.wasm");
    let mut p = new_plugin(engine, &wasm);
    let err = p.call::<&str, &str>("fail", "boom").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Plugin);
    assert_eq!(err.plugin_code(), Some(1));
    assert_eq!(err.to_string(), "failed on purpose: boom");
    let out: String = p.call("var_roundtrip", "kept").unwrap();
    assert_eq!(out, "kept");
    let out: String = p.call("config_or_missing", "absent").unwrap();
    assert_eq!(out, "<missing>");
}

/// A tracing writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let result = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (result, text)
}

fn as_logging(engine: &'static str) {
    let wasm = plugin("as/errors.wasm");
    let mut p = new_plugin(engine, &wasm);
    let id = p.id;
    let (out, logs) = capture_logs(|| p.call::<&str, String>("log_all", "hello logs").unwrap());
    assert_eq!(out, "logged");
    for level in ["DEBUG", "INFO", "WARN", "ERROR"] {
        assert!(
            logs.lines()
                .any(|l| l.contains(level) && l.contains("hello logs")),
            "no {level} line in {logs}"
        );
    }
    assert!(
        logs.contains(&id.to_string()),
        "logs carry the plug-in id: {logs}"
    );
}

fn c_constructors_run_once(engine: &'static str) {
    let wasm = plugin("c/ctors.wasm");
    let mut p = new_plugin(engine, &wasm);
    for _ in 0..3 {
        let out: String = p.call("greet", "Bob").unwrap();
        assert_eq!(out, "Hello, Bob! ctors=1");
    }
}

fn c_echo_large_input(engine: &'static str) {
    let wasm = plugin("c/echo.wasm");
    let mut p = new_plugin(engine, &wasm);
    let input: Vec<u8> = (0..1024 * 1024 + 3).map(|i| (i * 7 % 251) as u8).collect();
    let out: Vec<u8> = p.call("echo", &input).unwrap();
    assert_eq!(out, input);
    let sum: String = p.call("sum_bytes", &input).unwrap();
    let expected: u64 = input.iter().map(|&b| u64::from(b)).sum();
    assert_eq!(sum, expected.to_string());
    let empty: Vec<u8> = p.call("echo", "").unwrap();
    assert!(empty.is_empty());
}

// ---------------------------------------------------------------------------------------
// Every kernel import, at the ABI level

fn kernel_blocks(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let f = call_facts(&mut p, "blocks", b"");
    assert_eq!(
        f,
        vec![
            10,
            10,
            0,
            0,
            0,
            0x0807060504030201,
            0xAB,
            0,
            0,
            1,
            1,
            0,
            0,
            1,
            0,
            0,
            10
        ]
    );
}

fn kernel_input(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let input = b"0123456789ab";
    let f = call_facts(&mut p, "input", input);
    let first8 = u64::from_le_bytes(input[..8].try_into().unwrap());
    assert_eq!(f, vec![12, u64::from(b'0'), 0, first8, 0, 0, 0, 12]);
    let out: Vec<u8> = p.call("echo", &input[..]).unwrap();
    assert_eq!(out, input);
    let out: Vec<u8> = p.call("echo_in_place", "in place").unwrap();
    assert_eq!(out, b"in place");
}

fn kernel_free_input_and_reset(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    assert_eq!(
        call_facts(&mut p, "free_input_and_reset", b"some input"),
        vec![0, 1]
    );
    still_works(&mut p);
}

fn kernel_reset_and_getters(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    assert_eq!(call_facts(&mut p, "reset_and_getters", b"abc"), vec![0, 0]);
}

fn kernel_config(engine: &'static str) {
    let mut p = builder(engine, &kernel())
        .with_config([("greeting", "hello"), ("empty", "")])
        .build()
        .unwrap();
    let out: String = p.call("config", "greeting").unwrap();
    assert_eq!(out, "hello");
    let out: String = p.call("config", "nope").unwrap();
    assert_eq!(out, "no value");
    let out: String = p.call("config", "empty").unwrap();
    assert_eq!(
        out, "no value",
        "an empty value gives a 0-length block, handle 0"
    );
    p.update_config([("nope", Some("now set"))]).unwrap();
    let out: String = p.call("config", "nope").unwrap();
    assert_eq!(out, "now set");
}

fn kernel_vars_persist(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    for n in 1..=3u64 {
        let out: u64 = p.call("count", "").unwrap();
        assert_eq!(out, n);
    }
    // Vars survive a failing call.
    assert!(p.call::<&str, &[u8]>("trap", "").is_err());
    let out: u64 = p.call("count", "").unwrap();
    assert_eq!(out, 4);
    let _: &[u8] = p.call("clear_count", "").unwrap();
    let out: u64 = p.call("count", "").unwrap();
    assert_eq!(out, 1);
}

fn var_limit(engine: &'static str) {
    // "count" (5 bytes) + value + the per-entry overhead must stay within the limit.
    let max = xtism::VAR_ENTRY_OVERHEAD + 16;
    let mut p = builder(engine, &kernel())
        .with_var_max(max)
        .build()
        .unwrap();
    let _: &[u8] = p.call("set_count_to_input", &[1u8; 11][..]).unwrap();
    expect_err(
        p.call("set_count_to_input", &[1u8; 12][..]),
        ErrorKind::MemoryLimit,
        "max_var_bytes",
    );
    // The old value is kept, and smaller values still fit.
    let _: &[u8] = p.call("clear_count", "").unwrap();
    let out: u64 = p.call("count", "").unwrap();
    assert_eq!(out, 1);
}

fn vars_disabled(engine: &'static str) {
    let mut p = builder(engine, &kernel()).with_var_max(0).build().unwrap();
    expect_err(p.call("count", ""), ErrorKind::Invalid, "vars are disabled");
    still_works(&mut p);
}

fn manifest_var_limit(engine: &'static str) {
    let mut manifest = Manifest::new([Wasm::data(kernel())]);
    manifest.memory.max_var_bytes = Some(xtism::VAR_ENTRY_OVERHEAD + 8);
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine(engine).unwrap())
        .build()
        .unwrap();
    let _: &[u8] = p.call("set_count_to_input", "abc").unwrap();
    expect_err(
        p.call("count", ""),
        ErrorKind::MemoryLimit,
        "max_var_bytes = 56",
    );
}

fn error_code_and_message(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let err = expect_err(
        p.call("fail_with_input", "it broke"),
        ErrorKind::Plugin,
        "it broke",
    );
    assert_eq!(err.plugin_code(), Some(7));
    assert_eq!(err.to_string(), "it broke");
    still_works(&mut p);
}

fn error_cleared_is_success(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let out: &[u8] = p.call("error_cleared", "ignored").unwrap();
    assert!(out.is_empty());
}

fn error_with_bogus_handle(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let err = expect_err(
        p.call("fail_with_bogus_error", ""),
        ErrorKind::Plugin,
        "not an allocated block",
    );
    assert_eq!(err.plugin_code(), Some(3));
}

fn trap_carries_guest_message(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    expect_err(p.call("trap", ""), ErrorKind::Trap, "unreachable");
    let err = expect_err(p.call("fail_then_trap", "why"), ErrorKind::Trap, "why");
    assert!(err.to_string().contains("unreachable"), "{err}");
    still_works(&mut p);
}

fn void_export(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let out: String = p.call("void_echo", "nothing returned").unwrap();
    assert_eq!(out, "nothing returned");
}

fn log_level(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let (f, logs) = capture_logs(|| call_facts(&mut p, "log", b"line of log"));
    assert_eq!(f, vec![0], "a TRACE subscriber makes the level trace (0)");
    assert_eq!(logs.matches("line of log").count(), 5, "{logs}");
}

/// Without the `http` feature every request is refused, naming its URL.
#[cfg(not(feature = "http"))]
fn http_needs_the_feature(engine: &'static str) {
    let mut p = builder(engine, &kernel())
        .with_allowed_host("*")
        .build()
        .unwrap();
    expect_err(
        p.call("http", r#"{"url":"http://127.0.0.1:1/"}"#),
        ErrorKind::Http,
        "HTTP request to http://127.0.0.1:1/ is not allowed: this build of xtism has no HTTP",
    );
    assert_eq!(call_facts(&mut p, "http_getters", b""), vec![0, 0]);
    still_works(&mut p);
}

fn bogus_handles_are_guest_errors(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    for (export, needle) in [
        (
            "bad_config_key",
            "config_get: 123456 is not the start of an allocated block",
        ),
        ("bad_var_key", "var_get"),
        ("bad_var_value", "var_set: 7"),
        ("bad_log", "log_info"),
        ("bad_output", "output_set"),
        ("non_utf8_key", "not valid UTF-8"),
    ] {
        expect_err(p.call(export, ""), ErrorKind::Guest, needle);
        still_works(&mut p);
    }
}

fn handle_zero_is_the_empty_block(engine: &'static str) {
    let wasm = plugin("wat/handle_zero.wat");
    let mut p = new_plugin(engine, &wasm);
    let (out, logs) = capture_logs(|| p.call::<&str, String>("run", "").unwrap());
    assert_eq!(out, "ok 0 0");
    assert_eq!(
        logs.lines().filter(|l| l.contains("INFO")).count(),
        1,
        "log_info(0) logs an empty message: {logs}"
    );
    // Config and vars of empty name are found through handle 0.
    let mut q = builder(engine, &wasm)
        .with_config_key("", "cfg")
        .build()
        .unwrap();
    let _: &[u8] = q.call("set_empty_var", "four").unwrap();
    let out: String = q.call("run", "").unwrap();
    assert_eq!(out, "ok 3 4");
}

fn alloc_stops_at_max_pages(engine: &'static str) {
    let mut p = builder(engine, &kernel())
        .with_memory_max(2)
        .build()
        .unwrap();
    let f = call_facts(&mut p, "alloc_until_full", &1024u64.to_le_bytes());
    // Two pages hold 128 KiB, less the header, the input and the facts block.
    assert!((100..128).contains(&f[0]), "{f:?}");
    // With a higher limit, the kernel memory grows past two pages.
    let mut q = builder(engine, &kernel())
        .with_memory_max(16)
        .build()
        .unwrap();
    let g = call_facts(&mut q, "alloc_until_full", &1024u64.to_le_bytes());
    assert!((900..1024).contains(&g[0]), "{g:?}");
    still_works(&mut p);
}

fn memory_grow_respects_max_pages(engine: &'static str) {
    let mut p = builder(engine, &kernel())
        .with_memory_max(3)
        .build()
        .unwrap();
    assert_eq!(call_facts(&mut p, "grow", &1u64.to_le_bytes()), vec![1]);
    assert_eq!(call_facts(&mut p, "grow", &1u64.to_le_bytes()), vec![2]);
    assert_eq!(
        call_facts(&mut p, "grow", &1u64.to_le_bytes()),
        vec![u64::MAX]
    );
    let mut q = new_plugin(engine, &kernel());
    assert_eq!(call_facts(&mut q, "grow", &10u64.to_le_bytes()), vec![1]);
}

fn input_larger_than_memory_limit(engine: &'static str) {
    let mut p = builder(engine, &kernel())
        .with_memory_max(1)
        .build()
        .unwrap();
    let big = vec![0u8; 100 * 1024];
    expect_err(p.call("echo", &big), ErrorKind::MemoryLimit, "does not fit");
    still_works(&mut p);
}

fn function_not_found(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    assert!(p.function_exists("echo"));
    assert!(!p.function_exists("nope"));
    let functions: Vec<&str> = p.functions().collect();
    assert!(functions.contains(&"echo"), "{functions:?}");
    assert!(functions.is_sorted(), "{functions:?}");
    for not_callable in ["nope", "takes_params", "returns_i64", "memory"] {
        assert!(!functions.contains(&not_callable), "{functions:?}");
    }
    assert!(
        functions.iter().all(|f| p.function_exists(f)),
        "{functions:?}"
    );
    expect_err(p.call("nope", ""), ErrorKind::FunctionNotFound, "nope");
    expect_err(
        p.call("takes_params", ""),
        ErrorKind::FunctionNotFound,
        "func(i32) -> (i32)",
    );
    expect_err(
        p.call("returns_i64", ""),
        ErrorKind::FunctionNotFound,
        "Extism exports",
    );
    still_works(&mut p);
}

fn missing_import_is_named(engine: &'static str) {
    let wasm = plugin("as/host_fn.wasm");
    let err = builder(engine, &wasm).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link);
    let text = err.to_string();
    assert!(text.contains("extism:host/user::hello_world"), "{text}");
    assert!(text.contains("func(i64) -> (i64)"), "{text}");
    // A host function of the wrong signature is refused too.
    let f = Function::new(
        "hello_world",
        [ValType::I32],
        [],
        UserData::new(()),
        |_, _, _, _| Ok(()),
    );
    let err = builder(engine, &wasm)
        .with_functions([f])
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the host provides func(i32) -> ()"),
        "{err}"
    );
}

fn wrong_import_signature(engine: &'static str) {
    let err = builder(engine, &plugin("wat/bad_imports.wat"))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link);
    assert!(err.to_string().contains("extism:host/env::alloc"), "{err}");
    assert!(err.to_string().contains("func(i32) -> (i32)"), "{err}");
}

fn malformed_wasm(engine: &'static str) {
    let err = builder(engine, b"\0asm\x01\0\0\0garbage")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Compile, "{err}");
    let err = builder(engine, &[0xff, 0xfe, 0x00]).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Compile, "{err}");
    // An export section of length 0 before a start section once panicked the host.
    let mut empty_exports = b"\0asm\x01\0\0\0".to_vec();
    empty_exports.extend_from_slice(&[1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 7, 0, 8, 1, 0]);
    empty_exports.extend_from_slice(&[10, 4, 1, 2, 0, 0x0b]);
    let err = builder(engine, &empty_exports).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Compile, "{err}");
    let err = builder(engine, b"{\"wasm\": [], \"bogus\": 1}")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Manifest, "{err}");
    assert!(err.to_string().contains("bogus"), "{err}");
}

fn manifest_hash_mismatch(engine: &'static str) {
    let manifest = Manifest::new([Wasm::data(kernel()).with_hash("00".repeat(32))]);
    let err = PluginBuilder::new(manifest)
        .with_engine(xtism::engine(engine).unwrap())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Manifest);
    assert!(err.to_string().to_lowercase().contains("hash"), "{err}");
}

/// WAT text works as plug-in bytes and as a manifest module, as in the official runtime.
#[cfg(feature = "wat")]
fn webassembly_text_wherever_wasm_goes(engine: &'static str) {
    let path = xtism_conformance::plugins_dir().join("wat/math.wat");
    let math = std::fs::read(&path).unwrap();
    let uses_math = std::fs::read(path.with_file_name("uses_math.wat")).unwrap();
    let manifest = Manifest::new([
        Wasm::data(math).with_name("math"),
        Wasm::data(uses_math.clone()),
    ]);
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine(engine).unwrap())
        .build()
        .unwrap();
    let out: u64 = p.call("run", "abc").unwrap();
    assert_eq!(out, 1003);
    // Alone, uses_math lacks its `math` module: the text assembled and reached the linker.
    let err = builder(engine, &uses_math).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link, "{err}");
    let err = builder(engine, b";; bad\n(module (func (i32.bogus)))")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Compile, "{err}");
    assert!(
        err.to_string().contains("invalid WebAssembly text"),
        "{err}"
    );
}

/// The instance that follows `_start` has a new kernel memory, and its initializer gets
/// blocks inside it (see `wat/start_then_init.wat`).
fn kernel_is_fresh_after_reinstantiation(engine: &'static str) {
    let mut p = new_plugin(engine, &plugin("wat/start_then_init.wat"));
    for _ in 0..2 {
        let _: &[u8] = p.call("_start", "").unwrap();
        let _: &[u8] = p.call("ok", "").unwrap();
    }
}

/// A cap above 65,536 pages (more than a 32-bit memory has) is no cap, on every engine.
fn max_pages_past_a_32_bit_memory_mean_no_cap(engine: &'static str) {
    let mut p = builder(engine, &plugin("as/count_vowels.wasm"))
        .with_memory_max(u32::MAX)
        .build()
        .unwrap();
    let out: String = p.call("count_vowels", "aeiou").unwrap();
    assert!(out.contains("\"count\":5"), "{out}");
}

fn manifest_with_linked_module(engine: &'static str) {
    let manifest = Manifest::new([
        Wasm::data(plugin("wat/math.wat")).with_name("math"),
        Wasm::data(plugin("wat/uses_math.wat")),
    ]);
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine(engine).unwrap())
        .build()
        .unwrap();
    let out: u64 = p.call("run", "abc").unwrap();
    assert_eq!(out, 1003);
}

fn host_functions_written_in_wasm(engine: &'static str) {
    // A manifest module named `extism:host/user` provides the host functions the plug-in
    // imports from that namespace.
    let manifest = Manifest::new([
        Wasm::data(plugin("wat/host_user.wat")).with_name("extism:host/user"),
        Wasm::data(plugin("as/host_fn.wasm")).with_name("main"),
    ]);
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine(engine).unwrap())
        .build()
        .unwrap();
    for name in ["Bob", "Alice"] {
        let out: String = p.call("call_host", name).unwrap();
        assert_eq!(out, format!("Wasm says hi to {name}!"));
    }
}

fn host_function_set(reads_plugin_memory: bool) -> Vec<Function> {
    let transform = Function::new(
        "transform",
        [PTR],
        [PTR],
        UserData::new(reads_plugin_memory),
        |plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], flag: UserData<bool>| {
            let handle = plugin.memory_from_val(&inputs[0]).ok_or("no input block")?;
            let mut text = plugin.memory_str(handle)?.to_uppercase();
            if *flag.get()?.lock().unwrap() {
                let own = plugin.plugin_memory().ok_or("no plug-in memory")?;
                text.push_str(&String::from_utf8_lossy(&own[..22]));
            }
            plugin.memory_set_val(&mut outputs[0], text)
        },
    );
    let mix = Function::new(
        "mix",
        [ValType::I32, ValType::I64, ValType::F32, ValType::F64],
        [ValType::F64],
        UserData::new(()),
        |_, inputs, outputs, _| {
            let sum = f64::from(inputs[0].unwrap_i32())
                + inputs[1].unwrap_i64() as f64
                + f64::from(inputs[2].unwrap_f32())
                + inputs[3].unwrap_f64();
            outputs[0] = Val::from(sum);
            Ok(())
        },
    );
    let twice = Function::new(
        "twice",
        [ValType::I32],
        [ValType::I32],
        UserData::new(()),
        |_, i, o, _| {
            o[0] = Val::I32(i[0].unwrap_i32() * 2);
            Ok(())
        },
    )
    .with_namespace("custom");
    let join = Function::new("join", [PTR, PTR, PTR], [PTR], UserData::new(()), join);
    vec![transform, mix, twice, join]
}

fn user_host_functions(engine: &'static str) {
    let wasm = plugin("wat/host_functions.wat");
    let mut p = builder(engine, &wasm)
        .with_functions(host_function_set(true))
        .build()
        .unwrap();
    let out: String = p.call("transform", "shout ").unwrap();
    assert_eq!(out, "SHOUT plug-in memory says hi");
    let f = call_facts(&mut p, "numbers", b"");
    assert_eq!(f64::from_bits(f[0]), 6.75);
    assert_eq!(f[1], 42);
}

host_fn!(shout(prefix: String; text: String) -> String {
    let prefix = prefix.get()?;
    let prefix = prefix.lock().unwrap();
    Ok(format!("{prefix}{}", text.to_uppercase()))
});

host_fn!(join(first: &str, second: &[u8], n: u64) -> String {
    Ok(format!("{first}+{}+{n}", String::from_utf8_lossy(second)))
});

host_fn!(refuse(input: Vec<u8>) -> String {
    Err(Error::msg(format!("refusing {} bytes", input.len())))
});

fn host_fn_macro(engine: &'static str) {
    let wasm = plugin("wat/host_functions.wat");
    let mut functions = host_function_set(false);
    functions[0] = Function::new(
        "transform",
        [PTR],
        [PTR],
        UserData::new(">> ".to_string()),
        shout,
    );
    let mut p = builder(engine, &wasm)
        .with_functions(functions)
        .build()
        .unwrap();
    let out: String = p.call("transform", "macro").unwrap();
    assert_eq!(out, ">> MACRO");
    // Borrowed (&str, &[u8]) and number arguments side by side.
    let out: String = p.call("join", "in").unwrap();
    assert_eq!(out, "in+xy+7");
}

fn host_function_error(engine: &'static str) {
    let wasm = plugin("wat/host_functions.wat");
    let mut functions = host_function_set(false);
    functions[0] = Function::new("transform", [PTR], [PTR], UserData::new(()), refuse);
    let mut p = builder(engine, &wasm)
        .with_functions(functions)
        .build()
        .unwrap();
    let err = p.call::<&str, &str>("transform", "12345").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Host, "{err}");
    assert_eq!(
        err.to_string(),
        "host function transform failed: refusing 5 bytes"
    );
    // The plug-in is still usable.
    let f = call_facts(&mut p, "numbers", b"");
    assert_eq!(f[1], 42);

    // A host function's own error type can be recovered.
    let mut functions = host_function_set(false);
    functions[0] = Function::new(
        "transform",
        [PTR],
        [PTR],
        UserData::new(()),
        |_, _, _, _| {
            Err(Error::host(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such thing",
            )))
        },
    );
    let mut p = builder(engine, &wasm)
        .with_functions(functions)
        .build()
        .unwrap();
    let err = p.call::<&str, &str>("transform", "x").unwrap_err();
    let io = err
        .host_error::<std::io::Error>()
        .expect("an io::Error inside");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

fn host_context(engine: &'static str) {
    struct Tally(u32);
    let wasm = plugin("wat/host_functions.wat");
    let mut functions = host_function_set(false);
    functions[0] = Function::new(
        "transform",
        [PTR],
        [PTR],
        UserData::new(()),
        |plugin, inputs, outputs, _| {
            let tally = plugin.host_context::<Tally>()?;
            tally.0 += 1;
            let n = tally.0;
            let text: String = plugin.memory_get_val(&inputs[0])?;
            plugin.memory_set_val(&mut outputs[0], format!("{text}{n}"))
        },
    );
    let mut p = builder(engine, &wasm)
        .with_functions(functions)
        .build()
        .unwrap();
    let out: String = p
        .call_with_host_context("transform", "call ", Tally(41))
        .unwrap();
    assert_eq!(out, "call 42");
    let err = p.call::<&str, &str>("transform", "no context").unwrap_err();
    assert!(err.to_string().contains("no host context"), "{err}");
}

fn reactor_initializer_runs_once(engine: &'static str) {
    // `__wasm_call_ctors` (adds 100) is preferred to `_initialize` (adds 1).
    let mut p = new_plugin(engine, &plugin("wat/init.wat"));
    assert_eq!(call_facts(&mut p, "status", b""), vec![100, 1]);
    assert_eq!(call_facts(&mut p, "status", b""), vec![100, 2]);
}

fn haskell_initializers(engine: &'static str) {
    // A Haskell reactor: `_initialize` then `hs_init`, each once.
    let mut p = new_plugin(engine, &plugin("wat/hs_init.wat"));
    assert_eq!(call_facts(&mut p, "status", b""), vec![1, 1]);
    assert_eq!(call_facts(&mut p, "status", b""), vec![1, 1]);
}

fn command_is_reinstantiated(engine: &'static str) {
    let mut p = new_plugin(engine, &plugin("wat/command.wat"));
    for total in 1..=3 {
        assert_eq!(call_facts(&mut p, "_start", b""), vec![1, total]);
    }
}

fn compiled_plugin_many_instances(engine: &'static str) {
    let wasm = plugin("as/count_vowels.wasm");
    let compiled = CompiledPlugin::new(builder(engine, &wasm)).unwrap();
    assert!(compiled.function_exists("count_vowels"));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let compiled = compiled.clone();
            std::thread::spawn(move || {
                let mut p = Plugin::new_from_compiled(&compiled).unwrap();
                let mut last = String::new();
                for _ in 0..=i {
                    last = p.call("count_vowels", "aeiou").unwrap();
                }
                last
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let total = 5 * (i + 1);
        assert_eq!(
            t.join().unwrap(),
            format!(r#"{{"count":5,"total":{total},"vowels":"aeiouAEIOU"}}"#)
        );
    }
}

fn fuel_limit(engine: &'static str) {
    let mut p = builder(engine, &kernel())
        .with_fuel_limit(100_000)
        .build()
        .unwrap();
    expect_err(p.call("spin", ""), ErrorKind::OutOfFuel, "fuel");
    still_works(&mut p);
    let used = p.fuel_consumed().expect("fuel is reported");
    assert!(used > 0 && used < 100_000, "{used}");
    // The budget is per call: a long call does not eat into the next one.
    for _ in 0..3 {
        still_works(&mut p);
    }
    // Start functions (every AssemblyScript plug-in has one) run outside the budget.
    let wasm = plugin("as/count_vowels.wasm");
    let mut p = builder(engine, &wasm)
        .with_fuel_limit(10_000_000)
        .build()
        .unwrap();
    let out: String = p.call("count_vowels", "Hello, World!").unwrap();
    assert_eq!(out, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
}

fn timeout_stops_infinite_loop(engine: &'static str) {
    let mut p = builder(engine, &kernel())
        .with_timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    for _ in 0..2 {
        let start = std::time::Instant::now();
        let err = expect_err(p.call("spin", ""), ErrorKind::Timeout, "100 ms");
        // A generous bound: the point is that the loop is stopped, not how fast.
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{err} after {:?}",
            start.elapsed()
        );
        still_works(&mut p);
    }
}

fn manifest_timeout_with_fuel(engine: &'static str) {
    let manifest =
        Manifest::new([Wasm::data(kernel())]).with_timeout(std::time::Duration::from_secs(30));
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine(engine).unwrap())
        .with_fuel_limit(5_000_000)
        .build()
        .unwrap();
    // The fuel budget runs out long before the deadline, across several slices.
    expect_err(p.call("spin", ""), ErrorKind::OutOfFuel, "fuel");
    assert_eq!(p.fuel_consumed(), Some(5_000_000));
    still_works(&mut p);
}

fn plugin_reset_and_ids(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let q = new_plugin(engine, &kernel());
    assert_ne!(p.id, q.id);
    still_works(&mut p);
    p.reset().unwrap();
    still_works(&mut p);
}

fn debug_options(engine: &'static str) {
    // A memory dump of the plug-in's own memory is written when a call fails.
    let dir = std::env::temp_dir().join(format!("xtism-memdump-{engine}-{}", std::process::id()));
    let mut debug = DebugOptions::default();
    debug.memdump = Some(dir.clone());
    let mut p = builder(engine, &kernel())
        .with_debug_options(debug)
        .build()
        .unwrap();
    still_works(&mut p);
    assert!(!dir.exists(), "no dump after a good call");
    assert!(p.call::<&str, &[u8]>("trap", "").is_err());
    let dump = std::fs::read(&dir).unwrap();
    std::fs::remove_file(&dir).unwrap();
    assert_eq!(dump.len(), 65536, "one page of plug-in memory");
    assert_eq!(&dump[..5], b"count", "the data segment is in the dump");

    // Debug info is honoured or refused, as the engine's capabilities say.
    let caps = xtism::engine(engine).unwrap().capabilities();
    let mut debug = DebugOptions::default();
    debug.debug_info = true;
    let built = builder(engine, &kernel()).with_debug_options(debug).build();
    match built {
        Ok(_) => assert!(caps.debug_info),
        Err(e) => {
            assert!(!caps.debug_info);
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
            assert!(e.to_string().contains("debug info"), "{e}");
        }
    }
}

fn start_function_runs_once_at_the_first_call(engine: &'static str) {
    let mut p = new_plugin(engine, &plugin("wat/start.wat"));
    assert!(
        !p.function_exists("__xtism_start"),
        "the deferred start is not an export"
    );
    expect_err(
        p.call("__xtism_start", ""),
        ErrorKind::FunctionNotFound,
        "__xtism_start",
    );
    assert_eq!(call_facts(&mut p, "status", b""), vec![1]);
    assert_eq!(call_facts(&mut p, "status", b""), vec![1]);
}

/// The first call of a plug-in whose guest code never returns before the export (a start
/// function, an initializer) stops at its timeout, again and again, and at its fuel budget.
/// Loading it runs no guest code, so it cannot hang.
fn assert_first_call_is_bounded(engine: &'static str, wasm: &[u8]) {
    let mut p = builder(engine, wasm)
        .with_timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    for _ in 0..2 {
        expect_err(p.call("run", ""), ErrorKind::Timeout, "100 ms");
    }
    let mut p = builder(engine, wasm)
        .with_fuel_limit(50_000)
        .build()
        .unwrap();
    expect_err(p.call("run", ""), ErrorKind::OutOfFuel, "fuel");
}

fn start_function_is_bounded(engine: &'static str) {
    assert_first_call_is_bounded(engine, &plugin("wat/start_loop.wat"));
}

fn start_function_host_error_is_reported(engine: &'static str) {
    let mut p = new_plugin(engine, &plugin("wat/start_bad_handle.wat"));
    expect_err(p.call("run", ""), ErrorKind::Guest, "config_get: 12345");
}

fn initializer_is_bounded(engine: &'static str) {
    assert_first_call_is_bounded(engine, &plugin("wat/init_loop.wat"));
}

fn initializer_of_the_wrong_type_is_skipped(engine: &'static str) {
    let mut p = new_plugin(engine, &plugin("wat/init_bad_type.wat"));
    for _ in 0..2 {
        let out: &[u8] = p.call("run", "").unwrap();
        assert!(out.is_empty());
    }
}

fn error_message_fails_even_with_code_zero(engine: &'static str) {
    let wat = br#"(module
        (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
        (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
        (import "extism:host/env" "error_set" (func $error_set (param i64)))
        (func (export "run") (result i32)
          (local $h i64)
          (local.set $h (call $alloc (i64.const 1)))
          (call $store_u8 (local.get $h) (i32.const 33))
          (call $error_set (local.get $h))
          (i32.const 0)))"#;
    let wasm = wat::parse_bytes(wat).unwrap();
    let mut p = new_plugin(engine, &wasm);
    let err = expect_err(p.call("run", ""), ErrorKind::Plugin, "!");
    assert_eq!(err.plugin_code(), Some(0));
}

fn tables_are_bounded(engine: &'static str) {
    let err = builder(engine, &plugin("wat/table_bomb.wat"))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MemoryLimit, "{err}");
    let mut p = new_plugin(engine, &plugin("wat/tables.wat"));
    assert_eq!(call_facts(&mut p, "grow", &5u64.to_le_bytes()), vec![10]);
    let huge = 0x7fff_ffffu64.to_le_bytes();
    assert_eq!(call_facts(&mut p, "grow", &huge), vec![u64::MAX]);
    assert_eq!(call_facts(&mut p, "grow", &1u64.to_le_bytes()), vec![15]);
}

fn trap_has_wasm_backtrace(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    match p.call::<&str, &[u8]>("trap", "") {
        Err(Error::Trap {
            backtrace: Some(bt),
            ..
        }) => assert!(!bt.is_empty()),
        other => panic!("expected a trap with a backtrace, got {other:?}"),
    }
}

fn v128_host_functions_need_simd(engine: &'static str) {
    let f = Function::new(
        "vec",
        [ValType::V128],
        [],
        UserData::new(()),
        |_, _, _, _| Ok(()),
    );
    let built = builder(engine, &kernel()).with_functions([f]).build();
    if xtism::engine(engine).unwrap().capabilities().simd {
        built.unwrap();
    } else {
        let err = built.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(
            err.to_string()
                .contains("v128 values, which host function vec uses"),
            "{err}"
        );
    }
}

/// Serves `body` to `requests` HTTP requests on 127.0.0.1, then stops; returns the base URL.
fn serve(body: Vec<u8>, requests: usize) -> (String, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&body).unwrap();
        }
    });
    (url, server)
}

fn manifest_from_url(engine: &'static str) {
    let wasm = plugin("as/count_vowels.wasm");
    let hash = xtism::manifest::sha256_hex(&wasm);
    let (url, server) = serve(wasm, 2);
    let manifest = Manifest::new([Wasm::url(format!("{url}/count_vowels.wasm")).with_hash(hash)]);
    let mut p = PluginBuilder::new(&manifest)
        .with_engine(xtism::engine(engine).unwrap())
        .build()
        .unwrap();
    let out: String = p.call("count_vowels", "Hello, World!").unwrap();
    assert_eq!(out, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
    // The same bytes under another hash are refused.
    let manifest = Manifest::new([Wasm::url(format!("{url}/x.wasm")).with_hash("ab".repeat(32))]);
    let err = PluginBuilder::new(&manifest)
        .with_engine(xtism::engine(engine).unwrap())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Manifest, "{err}");
    server.join().unwrap();
}

fn cancel_from_another_thread(engine: &'static str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    // The timeout only keeps a broken cancel from hanging the suite.
    let mut p = builder(engine, &kernel())
        .with_timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let handle = p.cancel_handle().unwrap();
    // A cancel while nothing runs does not touch the next call.
    handle.cancel();
    still_works(&mut p);
    for _ in 0..2 {
        let done = Arc::new(AtomicBool::new(false));
        let canceller = {
            let (handle, done) = (handle.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::Acquire) {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    handle.cancel();
                }
            })
        };
        expect_err(p.call("spin", ""), ErrorKind::Cancelled, "cancelled");
        done.store(true, Ordering::Release);
        canceller.join().unwrap();
        still_works(&mut p);
    }
}

fn pool_under_eight_threads(engine: &'static str) {
    let wasm = plugin("as/count_vowels.wasm");
    let pool = Pool::new(CompiledPlugin::new(builder(engine, &wasm)).unwrap(), 3);
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (pool, calls) = (pool.clone(), Arc::clone(&calls));
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let mut p = pool
                        .get(std::time::Duration::from_secs(60))
                        .unwrap()
                        .expect("an instance within a minute");
                    let Json(out): Json<serde_json::Value> = p.call("count_vowels", "aei").unwrap();
                    assert_eq!(out["count"], 3);
                    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 40);
    assert!(pool.instances() <= 3, "{}", pool.instances());
    // Every instance kept its own running total: together they counted all 40 calls.
    let mut total = 0;
    let held: Vec<_> = (0..pool.instances())
        .map(|_| pool.get(std::time::Duration::ZERO).unwrap().unwrap())
        .collect();
    for mut p in held {
        let Json(out): Json<serde_json::Value> = p.call("count_vowels", "").unwrap();
        total += out["total"].as_u64().unwrap();
    }
    assert_eq!(total, 40 * 3);
    // A full pool makes a caller wait, then gives up.
    let small = Pool::new(CompiledPlugin::new(builder(engine, &wasm)).unwrap(), 1);
    let _held = small.get(std::time::Duration::ZERO).unwrap().unwrap();
    assert!(
        small
            .get(std::time::Duration::from_millis(50))
            .unwrap()
            .is_none()
    );
}

fn memory_bomb(engine: &'static str) {
    // A plug-in that grows its memory and allocates kernel blocks until refused stops at
    // max_pages in both memories, and the next call works.
    let mut p = builder(engine, &kernel())
        .with_memory_max(64)
        .build()
        .unwrap();
    let f = call_facts(&mut p, "bomb", b"");
    assert_eq!(f[0], 63, "plug-in memory grew from 1 to 64 pages, then -1");
    assert!(
        (50..64).contains(&f[1]),
        "64 KiB kernel blocks until alloc returned 0: {f:?}"
    );
    still_works(&mut p);
}

fn host_functions_are_not_interrupted(engine: &'static str) {
    let finished = UserData::new(false);
    let wait = Function::new("wait", [], [], finished.clone(), |_, _, _, finished| {
        std::thread::sleep(std::time::Duration::from_millis(300));
        *finished.get()?.lock().unwrap() = true;
        Ok(())
    });
    let mut p = builder(engine, &plugin("wat/host_then_spin.wat"))
        .with_functions([wait])
        .with_timeout(std::time::Duration::from_millis(50))
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    expect_err(p.call("run", ""), ErrorKind::Timeout, "50 ms");
    assert!(start.elapsed() >= std::time::Duration::from_millis(300));
    assert!(
        *finished.get().unwrap().lock().unwrap(),
        "the host function ran to its end"
    );
}

fn compile_cache(engine: &'static str) {
    let dir = std::env::temp_dir().join(format!("xtism-cache-{engine}-{}", std::process::id()));
    let wasm = plugin("as/count_vowels.wasm");
    let caps = xtism::engine(engine).unwrap().capabilities();
    for _ in 0..2 {
        let built = builder(engine, &wasm).with_cache_dir(&dir).build();
        if !caps.compile_cache {
            let err = built.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
            assert!(err.to_string().contains("compilation cache"), "{err}");
            return;
        }
        let mut p = built.unwrap();
        let out: String = p.call("count_vowels", "Hello, World!").unwrap();
        assert_eq!(out, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
        assert!(
            std::fs::read_dir(&dir).unwrap().next().is_some(),
            "artifacts are kept"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// Across engines

/// One line per observation: outputs, error kinds and messages, host calls.
fn transcript(engine: &'static str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut record = |label: &str, result: Result<Vec<u8>, Error>| {
        lines.push(match result {
            Ok(out) => match std::str::from_utf8(&out) {
                Ok(text) => format!("{label} ok {text:?}"),
                Err(_) => format!("{label} ok bytes {}", out.escape_ascii()),
            },
            // Backtraces differ by engine (and wasmi has none); the message must not.
            Err(Error::Trap { message, .. }) => format!("{label} err Trap {message}"),
            Err(e) => format!("{label} err {:?} {e}", e.kind()),
        });
    };
    let wasm = plugin("as/count_vowels.wasm");
    let mut p = builder(engine, &wasm)
        .with_config_key("vowels", "eo")
        .build()
        .unwrap();
    for input in ["Hello, World!", "", "ééé"] {
        record("count_vowels", p.call("count_vowels", input));
    }
    let mut k = new_plugin(engine, &kernel());
    for export in [
        "blocks",
        "count",
        "count",
        "trap",
        "fail_with_input",
        "bad_config_key",
        "bad_var_value",
        "bad_output",
        "non_utf8_key",
        "http",
        "nope",
        "returns_i64",
        "count",
    ] {
        record(export, k.call(export, "input bytes"));
    }
    // HTTP against one server for every engine, so the URLs in the lines are the same.
    static SERVER: std::sync::OnceLock<xtism_conformance::TestServer> = std::sync::OnceLock::new();
    let server = SERVER.get_or_init(xtism_conformance::TestServer::start);
    let mut w = builder(engine, &plugin("as/http.wasm"))
        .with_allowed_host("127.0.0.1")
        .with_http_response_headers(true)
        .build()
        .unwrap();
    for path in ["/status/404", "/bytes/30", "/huge-header"] {
        record("http_get", w.call("http_get", server.url(path).as_str()));
    }
    let denied = format!(
        "http://localhost:{}/echo",
        server.authority().rsplit(':').next().unwrap()
    );
    record("http_get", w.call("http_get", denied.as_str()));
    let calls = UserData::new(Vec::<String>::new());
    let mut functions = host_function_set(false);
    functions[0] = Function::new(
        "transform",
        [PTR],
        [PTR],
        calls.clone(),
        |plugin, inputs, outputs, calls| {
            let text: String = plugin.memory_get_val(&inputs[0])?;
            calls.get()?.lock().unwrap().push(text.clone());
            plugin.memory_set_val(&mut outputs[0], text.chars().rev().collect::<String>())
        },
    );
    let mut h = builder(engine, &plugin("wat/host_functions.wat"))
        .with_functions(functions)
        .build()
        .unwrap();
    record("transform", h.call("transform", "abc"));
    record("numbers", h.call("numbers", ""));
    record("join", h.call("join", "j"));
    lines.push(format!(
        "host calls {:?}",
        calls.get().unwrap().lock().unwrap()
    ));
    lines
}

#[test]
fn engines_agree_on_a_transcript() {
    let engines = xtism_conformance::engines();
    let transcripts: Vec<(&str, Vec<String>)> = engines
        .iter()
        .map(|(name, _)| (*name, transcript(name)))
        .collect();
    let (first, reference) = &transcripts[0];
    assert!(reference.len() > 15, "{reference:#?}");
    assert_eq!(
        reference[0],
        r#"count_vowels ok "{\"count\":3,\"total\":3,\"vowels\":\"eo\"}""#
    );
    for (name, lines) in &transcripts[1..] {
        for (a, b) in reference.iter().zip(lines) {
            assert_eq!(a, b, "{first} and {name} disagree");
        }
        assert_eq!(reference.len(), lines.len(), "{first} and {name} disagree");
    }
}
