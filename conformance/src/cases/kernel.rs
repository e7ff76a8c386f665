//! Every kernel import at the ABI level (`wat/kernel.wat`): blocks, input, output, vars, config, errors, logs, and handles that name no block.

use super::prelude::*;

#[case]
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

#[case]
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

#[case]
fn kernel_tee_arguments(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let input = b"01234567";
    let first8 = u64::from_le_bytes(*input);
    assert_eq!(
        call_facts(&mut p, "tee_arguments", input),
        vec![7, 7, first8]
    );
}

#[case]
fn kernel_free_input_and_reset(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    assert_eq!(
        call_facts(&mut p, "free_input_and_reset", b"some input"),
        vec![0, 1]
    );
    still_works(&mut p);
}

#[case]
fn kernel_reset_and_getters(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    assert_eq!(call_facts(&mut p, "reset_and_getters", b"abc"), vec![0, 0]);
}

#[case]
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

#[case]
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

#[case]
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

#[case]
fn vars_disabled(engine: &'static str) {
    let mut p = builder(engine, &kernel()).with_var_max(0).build().unwrap();
    expect_err(p.call("count", ""), ErrorKind::Invalid, "vars are disabled");
    still_works(&mut p);
}

#[case]
fn manifest_var_limit(engine: &'static str) {
    let mut manifest = Manifest::new([Wasm::data(kernel())]);
    manifest.memory.max_var_bytes = Some(xtism::VAR_ENTRY_OVERHEAD + 8);
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap();
    let _: &[u8] = p.call("set_count_to_input", "abc").unwrap();
    expect_err(
        p.call("count", ""),
        ErrorKind::MemoryLimit,
        "max_var_bytes = 56",
    );
}

#[case]
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

#[case]
fn error_cleared_is_success(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let out: &[u8] = p.call("error_cleared", "ignored").unwrap();
    assert!(out.is_empty());
}

#[case]
fn error_with_bogus_handle(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let err = expect_err(
        p.call("fail_with_bogus_error", ""),
        ErrorKind::Plugin,
        "not an allocated block",
    );
    assert_eq!(err.plugin_code(), Some(3));
}

#[case]
fn trap_carries_guest_message(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    expect_err(p.call("trap", ""), ErrorKind::Trap, "unreachable");
    let err = expect_err(p.call("fail_then_trap", "why"), ErrorKind::Trap, "why");
    assert!(err.to_string().contains("unreachable"), "{err}");
    still_works(&mut p);
}

/// `call_get_error_code` pairs each failure with the official runtime's code: the plug-in's
/// own, 134 for a trap, -1 for a trap after an error message and for a call that could not
/// start. (Timeouts and fuel: `limits`; a host function's error: `host_functions`.)
#[case]
fn call_get_error_code(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let code = |p: &mut Plugin, name: &str, input: &str| {
        let (err, code) = p
            .call_get_error_code::<&str, &[u8]>(name, input)
            .unwrap_err();
        (err.to_string(), code)
    };
    let out: String = p.call_get_error_code("echo", "fine").unwrap();
    assert_eq!(out, "fine");
    assert_eq!(
        code(&mut p, "fail_with_input", "it broke"),
        ("it broke".into(), 7)
    );
    assert_eq!(code(&mut p, "fail_with_bogus_error", "").1, 3);
    let (text, trap) = code(&mut p, "trap", "");
    assert_eq!(trap, 134, "{text}");
    let (text, trap) = code(&mut p, "fail_then_trap", "why");
    assert_eq!(trap, -1, "{text}");
    assert_eq!(code(&mut p, "nope", "").1, -1);
    assert_eq!(code(&mut p, "takes_params", "").1, -1);
    // The output does not decode as asked.
    let bad = p.call_get_error_code::<&[u8], &str>("echo", &[0xff]);
    assert_eq!(bad.unwrap_err().1, -1);
    still_works(&mut p);
}

#[case]
fn void_export(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let out: String = p.call("void_echo", "nothing returned").unwrap();
    assert_eq!(out, "nothing returned");
}

#[case]
fn log_level(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let (f, logs) = capture_logs(|| call_facts(&mut p, "log", b"line of log"));
    assert_eq!(f, vec![0], "a TRACE subscriber makes the level trace (0)");
    assert_eq!(logs.matches("line of log").count(), 5, "{logs}");
}

/// Without the `http` feature every request is refused, naming its URL.
#[cfg(not(feature = "http"))]
#[case]
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

#[case]
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

#[case]
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

#[case]
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

#[case(needs = backtraces)]
fn trap_has_wasm_backtrace(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let backtraces = caps(engine).backtraces;
    match p.call::<&str, &[u8]>("trap", "").map_err(XtismError::from) {
        Err(XtismError::Trap {
            backtrace: Some(bt),
            ..
        }) if backtraces => assert!(!bt.is_empty()),
        // Without the capability a trap is still a trap, with its message and no frames.
        Err(XtismError::Trap {
            backtrace: None,
            message,
            ..
        }) if !backtraces => assert!(!message.is_empty()),
        other => panic!("expected a trap (backtraces: {backtraces}), got {other:?}"),
    }
}
