//! Host functions: written in Wasm, in Rust (`Function::new`, `host_fn!`), with errors, host context and `v128` values.

use super::prelude::*;

#[case]
fn host_functions_written_in_wasm(engine: &'static str) {
    // A manifest module named `extism:host/user` provides the host functions the plug-in
    // imports from that namespace.
    let manifest = Manifest::new([
        Wasm::data(plugin("wat/host_user.wat")).with_name("extism:host/user"),
        Wasm::data(plugin("as/host_fn.wasm")).with_name("main"),
    ]);
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap();
    for name in ["Bob", "Alice"] {
        let out: String = p.call("call_host", name).unwrap();
        assert_eq!(out, format!("Wasm says hi to {name}!"));
    }
}

#[case]
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

#[case]
fn host_fn_macro(engine: &'static str) {
    let wasm = plugin("wat/host_functions.wat");
    let mut p = with_transform(
        engine,
        &wasm,
        Function::new(
            "transform",
            [PTR],
            [PTR],
            UserData::new(">> ".to_string()),
            shout,
        ),
    );
    let out: String = p.call("transform", "macro").unwrap();
    assert_eq!(out, ">> MACRO");
    // Borrowed (&str, &[u8]) and number arguments side by side.
    let out: String = p.call("join", "in").unwrap();
    assert_eq!(out, "in+xy+7");
}

/// The plug-in `wasm` built on `engine` with the corpus's host functions, `transform`
/// replaced by `transform`.
fn with_transform(engine: &'static str, wasm: &[u8], transform: Function) -> Plugin {
    let mut functions = host_function_set(false);
    functions[0] = transform;
    builder(engine, wasm)
        .with_functions(functions)
        .build()
        .unwrap()
}

#[case]
fn a_panicking_host_function_fails_the_call(engine: &'static str) {
    // A panic is the host function's error on every engine (unwinding through wasmi's
    // interpreter would abort the process), and the plug-in goes on.
    let wasm = plugin("wat/host_functions.wat");
    let mut p = with_transform(
        engine,
        &wasm,
        Function::new(
            "transform",
            [PTR],
            [PTR],
            UserData::new(()),
            |_, _, _, _| panic!("the host broke"),
        ),
    );
    let err = p.call::<&str, &str>("transform", "x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Host, "{err}");
    assert_eq!(err.root_cause().to_string(), "panicked: the host broke");
    assert!(err.to_string().contains("transform"), "{err}");
    let f = call_facts(&mut p, "numbers", b"");
    assert_eq!(f[1], 42);
}

#[case]
fn host_function_error(engine: &'static str) {
    let wasm = plugin("wat/host_functions.wat");
    let mut p = with_transform(
        engine,
        &wasm,
        Function::new("transform", [PTR], [PTR], UserData::new(()), refuse),
    );
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
    let mut p = with_transform(
        engine,
        &wasm,
        Function::new(
            "transform",
            [PTR],
            [PTR],
            UserData::new(()),
            |_, _, _, _| {
                Err(Error::new(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such thing",
                )))
            },
        ),
    );
    let err = p.call::<&str, &str>("transform", "x").unwrap_err();
    let io = err
        .host_error::<std::io::Error>()
        .expect("an io::Error inside");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[case]
fn another_plugins_error_is_the_host_functions(engine: &'static str) {
    // A host function that calls another plug-in and passes its failure on: the call
    // reports a host function error holding it, not the other plug-in's timeout as its own.
    let wasm = plugin("wat/host_functions.wat");
    let mut p = with_transform(
        engine,
        &wasm,
        Function::new(
            "transform",
            [PTR],
            [PTR],
            UserData::new(()),
            |_, _, _, _| Err(Error::from(XtismError::Timeout(5)).context("the inner plug-in")),
        ),
    );
    let err = p.call::<&str, &str>("transform", "x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Host, "{err:#}");
    assert!(err.to_string().contains("the inner plug-in"), "{err}");
    assert!(
        matches!(err.host_error::<XtismError>(), Some(XtismError::Timeout(5))),
        "{err:#}"
    );
    assert_eq!(err.root_cause().to_string(), "timeout");
    // What the host function says of the guest's handles stays the guest's fault.
    let mut p = with_transform(
        engine,
        &wasm,
        Function::new(
            "transform",
            [PTR],
            [PTR],
            UserData::new(()),
            |plugin: &mut CurrentPlugin, _: &[Val], _: &mut [Val], _: UserData<()>| {
                plugin.memory_length(3)?;
                Ok(())
            },
        ),
    );
    let err = p.call::<&str, &str>("transform", "x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Guest, "{err:#}");
}

#[case]
fn host_context(engine: &'static str) {
    struct Tally(u32);
    let wasm = plugin("wat/host_functions.wat");
    let mut p = with_transform(
        engine,
        &wasm,
        Function::new(
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
        ),
    );
    let out: String = p
        .call_with_host_context("transform", "call ", Tally(41))
        .unwrap();
    assert_eq!(out, "call 42");
    let err = p.call::<&str, &str>("transform", "no context").unwrap_err();
    assert!(err.to_string().contains("no host context"), "{err}");
}

#[case(needs = simd)]
fn v128_host_functions_need_simd(engine: &'static str) {
    let f = Function::new(
        "vec",
        [ValType::V128],
        [],
        UserData::new(()),
        |_, _, _, _| Ok(()),
    );
    let built = builder(engine, &kernel()).with_functions([f]).build();
    if caps(engine).simd {
        built.unwrap();
    } else {
        unsupported(built, "v128 values, which host function vec uses");
    }
}

/// A host function that sets the plug-in's error fails the call with that message as the
/// error's root cause, whether it then fails itself or returns, as in the official
/// runtime's `test_extism_error` (on the AssemblyScript PDK's `host_fn`).
#[case]
fn set_error_is_the_root_cause(engine: &'static str) {
    fn set_then_fail(
        plugin: &mut CurrentPlugin,
        _inputs: &[Val],
        _outputs: &mut [Val],
        _user_data: UserData<()>,
    ) -> Result<(), Error> {
        plugin.set_error("TEST")?;
        // What `anyhow::bail!("Error")` returns.
        Err(Error::msg("Error"))
    }
    fn set_then_return(
        plugin: &mut CurrentPlugin,
        inputs: &[Val],
        outputs: &mut [Val],
        _user_data: UserData<()>,
    ) -> Result<(), Error> {
        let (offset, length) = plugin.set_error("TEST")?;
        if offset == 0 || length != 4 || plugin.get_error() != Some("TEST") {
            return Err(Error::msg(format!("set_error gave ({offset}, {length})")));
        }
        outputs[0] = inputs[0];
        Ok(())
    }
    let wasm = plugin("as/host_fn.wasm");
    type HostFn = fn(&mut CurrentPlugin, &[Val], &mut [Val], UserData<()>) -> Result<(), Error>;
    let hello = |f: HostFn| Function::new("hello_world", [PTR], [PTR], UserData::new(()), f);

    let mut p = builder(engine, &wasm)
        .with_functions([hello(set_then_fail)])
        .build()
        .unwrap();
    let err = p.call::<&str, &str>("call_host", "Bob").unwrap_err();
    assert_eq!(err.root_cause().to_string(), "TEST", "{err:#}");
    assert_eq!(err.kind(), ErrorKind::Host, "{err:#}");
    assert!(format!("{err:#}").contains("Error"), "{err:#}");
    let (err, code) = p
        .call_get_error_code::<&str, &str>("call_host", "Bob")
        .unwrap_err();
    assert_eq!((err.root_cause().to_string(), code), ("TEST".into(), -1));

    let mut p = builder(engine, &wasm)
        .with_functions([hello(set_then_return)])
        .build()
        .unwrap();
    let err = p.call::<&str, &str>("call_host", "Bob").unwrap_err();
    assert_eq!(err.root_cause().to_string(), "TEST", "{err:#}");
    assert_eq!(err.kind(), ErrorKind::Plugin, "{err:#}");
    // The export returned 0: the official runtime pairs the message with that code.
    let (err, code) = p
        .call_get_error_code::<&str, &str>("call_host", "Bob")
        .unwrap_err();
    assert_eq!((err.root_cause().to_string(), code), ("TEST".into(), 0));
}

/// A plug-in that calls `hello_world` with its input and outputs the answer (`call_host`),
/// and sets var `k` to its input (`set_k`).
const HOST_AND_VAR: &str = r#"(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "length" (func $length (param i64) (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "var_set" (func $var_set (param i64 i64)))
  (import "extism:host/user" "hello_world" (func $hello (param i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "call_host") (result i32)
    (local $out i64)
    (local.set $out (call $hello (call $input_offset)))
    (call $output_set (local.get $out) (call $length (local.get $out)))
    (i32.const 0))
  (func (export "set_k") (result i32)
    (local $key i64)
    (local.set $key (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $key) (i32.const 107))
    (call $var_set (local.get $key) (call $input_offset))
    (i32.const 0)))"#;

/// What a host function does with the plug-in, by the command it gets as input.
fn inspect(plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val]) -> Result<(), Error> {
    let command: String = plugin.memory_get_val(&inputs[0])?;
    let answer = match command.as_str() {
        "id" => plugin.id().to_string(),
        "time" => match plugin.time_remaining() {
            Some(left) => format!("{}s", left.as_secs().div_ceil(10) * 10),
            None => "none".into(),
        },
        "vars" => {
            plugin.vars_mut().insert("host".into(), b"h".to_vec());
            let vars = plugin.vars();
            let k = vars
                .get("k")
                .map(|v| String::from_utf8_lossy(v).into_owned());
            format!("{:?} k={k:?}", vars.keys().collect::<Vec<_>>())
        }
        "fill" => {
            plugin.vars_mut().insert("big".into(), vec![0; 300]);
            "filled".into()
        }
        "shrink" => {
            plugin.vars_mut().remove("big");
            "shrunk".into()
        }
        "error" => {
            plugin.set_error("first")?;
            let set = plugin.get_error().map(str::to_owned);
            plugin.clear_error();
            format!("{set:?} then {:?}", plugin.get_error())
        }
        "memory" => {
            let handle = plugin.memory_new("hello")?;
            let read: String = plugin.memory_get(handle)?;
            plugin.memory_str_mut(handle)?.make_ascii_uppercase();
            plugin.memory_bytes_mut(handle)?[0] = b'J';
            let length = plugin.memory_length_unsafe(handle.offset())?;
            let inside = plugin.memory_length_unsafe(handle.offset() + 1)?;
            let now = plugin.memory_str(handle)?.to_owned();
            format!("{read} {now} {length} {inside}")
        }
        other => return Err(Error::msg(format!("unknown command {other}"))),
    };
    plugin.memory_set_val(&mut outputs[0], answer)
}

/// The official `CurrentPlugin` API beyond blocks: id, vars (and their cap), the error,
/// the time left, and the `_mut`/`memory_get`/`memory_length_unsafe` spellings.
#[case]
fn current_plugin_api(engine: &'static str) {
    let wasm = wat::parse_str(HOST_AND_VAR).unwrap();
    let function = || {
        Function::new(
            "hello_world",
            [PTR],
            [PTR],
            UserData::new(()),
            |plugin: &mut CurrentPlugin, inputs: &[Val], outputs: &mut [Val], _| {
                inspect(plugin, inputs, outputs)
            },
        )
    };
    // Each var counts 48 bytes beyond its key and value: "k" and "host" fit, "big" does not.
    let mut p = builder(engine, &wasm)
        .with_functions([function()])
        .with_var_max(200)
        .build()
        .unwrap();
    let ask = |p: &mut Plugin, command: &str| -> String { p.call("call_host", command).unwrap() };

    assert_eq!(ask(&mut p, "id"), p.id.to_string());
    let other = new_plugin(engine, &kernel());
    p.id = other.id;
    assert_eq!(
        ask(&mut p, "id"),
        other.id.to_string(),
        "the id follows the field"
    );
    assert_eq!(ask(&mut p, "time"), "none");
    assert_eq!(ask(&mut p, "error"), r#"Some("first") then None"#);
    assert_eq!(ask(&mut p, "memory"), "hello JELLO 5 0");

    assert_eq!(ask(&mut p, "vars"), r#"["host"] k=None"#);
    let _: &[u8] = p.call("set_k", "v1").unwrap();
    assert_eq!(ask(&mut p, "vars"), r#"["host", "k"] k=Some("v1")"#);
    // What the host stores is not refused, but the plug-in's var_set is while the vars
    // hold more than the cap; a removal still works.
    assert_eq!(ask(&mut p, "fill"), "filled");
    expect_err(
        p.call::<&str, &[u8]>("set_k", "v2"),
        ErrorKind::MemoryLimit,
        "max_var_bytes",
    );
    assert_eq!(ask(&mut p, "shrink"), "shrunk");
    let _: &[u8] = p.call("set_k", "v2").unwrap();
    assert_eq!(ask(&mut p, "vars"), r#"["host", "k"] k=Some("v2")"#);

    if caps(engine).timeout {
        let mut p = builder(engine, &wasm)
            .with_functions([function()])
            .with_timeout(std::time::Duration::from_secs(60))
            .build()
            .unwrap();
        assert_eq!(ask(&mut p, "time"), "60s");
    }
}
