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
        .with_engine(xtism::engine(engine).unwrap())
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

#[case]
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
            Err(Error::new(std::io::Error::new(
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

#[case]
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
