//! Plug-ins built with the official AssemblyScript PDK and with C (zig, wasi-libc).

use super::prelude::*;

#[case]
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

#[case]
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

#[case]
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
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap();
    let Json(c): Json<Count> = p.call("count_vowels", "foo boo").unwrap();
    assert_eq!((c.count, c.total, c.vowels.as_str()), (4, 4, "o"));
}

#[case]
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
#[case]
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

#[case]
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

#[case]
fn c_constructors_run_once(engine: &'static str) {
    let wasm = plugin("c/ctors.wasm");
    let mut p = new_plugin(engine, &wasm);
    for _ in 0..3 {
        let out: String = p.call("greet", "Bob").unwrap();
        assert_eq!(out, "Hello, Bob! ctors=1");
    }
}

#[case]
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
