//! Loading: manifests, module bytes and text, imports and exports, linked modules, URLs, the compile cache and debug options.

use super::prelude::*;

#[case]
fn function_not_found(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    assert!(p.function_exists("echo"));
    assert!(!p.function_exists("nope"));
    let functions: Vec<&str> = p.functions().map(|(name, _)| name).collect();
    assert!(functions.contains(&"echo"), "{functions:?}");
    // Each with its Extism signature.
    for (name, ty) in p.functions() {
        assert!(ty.params().is_empty(), "{name}: {ty}");
        let results: &[ValType] = if name == "void_echo" {
            &[]
        } else {
            &[ValType::I32]
        };
        assert_eq!(ty.results(), results, "{name}: {ty}");
    }
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

#[case]
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

#[case]
fn wrong_import_signature(engine: &'static str) {
    let err = builder(engine, &plugin("wat/bad_imports.wat"))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link);
    assert!(err.to_string().contains("extism:host/env::alloc"), "{err}");
    assert!(err.to_string().contains("func(i32) -> (i32)"), "{err}");
}

#[case]
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

#[case]
fn manifest_hash_mismatch(engine: &'static str) {
    let manifest = Manifest::new([Wasm::data(kernel()).with_hash("00".repeat(32))]);
    let err = PluginBuilder::new(manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Manifest);
    assert!(err.to_string().to_lowercase().contains("hash"), "{err}");
}

/// WAT text works as plug-in bytes and as a manifest module, as in the official runtime.
#[cfg(feature = "wat")]
#[case]
fn webassembly_text_wherever_wasm_goes(engine: &'static str) {
    use crate::plugin_file;
    let (_dir, path) = plugin_file("wat/math.wat");
    let math = std::fs::read(&path).unwrap();
    let (_dir2, uses_math) = plugin_file("wat/uses_math.wat");
    let uses_math = std::fs::read(uses_math).unwrap();
    let manifest = Manifest::new([
        Wasm::data(math).with_name("math"),
        Wasm::data(uses_math.clone()),
    ]);
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
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

/// A cap above 65,536 pages (more than a 32-bit memory has) is no cap, on every engine.
#[case]
fn max_pages_past_a_32_bit_memory_mean_no_cap(engine: &'static str) {
    let mut p = builder(engine, &plugin("as/count_vowels.wasm"))
        .with_memory_max(u32::MAX)
        .build()
        .unwrap();
    let out: String = p.call("count_vowels", "aeiou").unwrap();
    assert!(out.contains("\"count\":5"), "{out}");
}

#[case]
fn manifest_with_linked_module(engine: &'static str) {
    let manifest = Manifest::new([
        Wasm::data(plugin("wat/math.wat")).with_name("math"),
        Wasm::data(plugin("wat/uses_math.wat")),
    ]);
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap();
    let out: u64 = p.call("run", "abc").unwrap();
    assert_eq!(out, 1003);
}

/// A trap's backtrace names each module as the manifest does (`main` for the plug-in
/// itself), not as the module names itself, on every engine with backtraces.
#[case]
fn a_backtrace_names_modules_as_the_manifest_does(engine: &'static str) {
    let lib =
        wat::parse_str(r#"(module $own_name (func $fail (export "fail") unreachable))"#).unwrap();
    let main = wat::parse_str(
        r#"(module $another_name (import "lib" "fail" (func $fail))
             (func $run (export "run") (result i32) (call $fail) (i32.const 0)))"#,
    )
    .unwrap();
    let manifest = Manifest::new([Wasm::data(lib).with_name("lib"), Wasm::data(main)]);
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap();
    let backtraces = caps(engine).backtraces;
    match p.call::<&str, &[u8]>("run", "").map_err(XtismError::from) {
        Err(XtismError::Trap {
            backtrace: Some(bt),
            ..
        }) if backtraces => {
            let frames: Vec<&str> = bt.lines().collect();
            assert_eq!(frames.len(), 2, "{bt}");
            assert!(frames[0].contains("lib!fail"), "{bt}");
            assert!(frames[1].contains("main!run"), "{bt}");
        }
        Err(XtismError::Trap {
            backtrace: None, ..
        }) if !backtraces => {}
        other => panic!("expected a trap (backtraces: {backtraces}), got {other:?}"),
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

#[case]
fn manifest_from_url(engine: &'static str) {
    let wasm = plugin("as/count_vowels.wasm");
    let hash = xtism::manifest::sha256_hex(&wasm);
    let (url, server) = serve(wasm, 2);
    let manifest = Manifest::new([Wasm::url(format!("{url}/count_vowels.wasm")).with_hash(hash)]);
    let mut p = PluginBuilder::new(&manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap();
    let out: String = p.call("count_vowels", "Hello, World!").unwrap();
    assert_eq!(out, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
    // The same bytes under another hash are refused.
    let manifest = Manifest::new([Wasm::url(format!("{url}/x.wasm")).with_hash("ab".repeat(32))]);
    let err = PluginBuilder::new(&manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Manifest, "{err}");
    server.join().unwrap();
}

/// The compile cache: a second build loads the artifact (proven by swapping in another
/// module's artifact), a damaged artifact is compiled anew and replaced, a disabled cache
/// writes nothing. Engines without the capability refuse an explicit directory.
#[case(needs = compile_cache)]
fn compile_cache(engine: &'static str) {
    let root = std::env::temp_dir().join(format!("xtism-cache-{engine}-{}", std::process::id()));
    let (dir, other_dir) = (root.join("a"), root.join("b"));
    let wasm = plugin("as/count_vowels.wasm");
    let built = builder(engine, &wasm).with_cache_dir(&dir).build();
    if !caps(engine).compile_cache {
        return unsupported(built, "compilation cache");
    }
    let count = |p: &mut Plugin| -> String { p.call("count_vowels", "Hello, World!").unwrap() };
    assert_eq!(
        count(&mut built.unwrap()),
        r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#
    );
    let artifacts = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    let files = artifacts(&dir);
    assert_eq!(files.len(), 1, "one artifact: {files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(&format!("{engine}-")) && name.ends_with(".bin"),
        "{name}"
    );

    // Put the artifact of another module under count_vowels' name: the next build runs that
    // module, so it was loaded from the file and not compiled.
    builder(engine, &kernel())
        .with_cache_dir(&other_dir)
        .build()
        .unwrap();
    std::fs::copy(&artifacts(&other_dir)[0], &files[0]).unwrap();
    let p = builder(engine, &wasm).with_cache_dir(&dir).build().unwrap();
    assert!(!p.function_exists("count_vowels"), "loaded from the cache");
    assert!(p.function_exists("echo"));

    // A damaged file is compiled anew and replaced by a whole one.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&files[0], &bytes).unwrap();
    let mut p = builder(engine, &wasm).with_cache_dir(&dir).build().unwrap();
    assert_eq!(
        count(&mut p),
        r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#
    );
    assert_ne!(std::fs::read(&files[0]).unwrap(), bytes, "rewritten");
    assert_eq!(artifacts(&dir).len(), 1, "no temporary file is left");

    // Fuel metering compiles other code: another artifact.
    builder(engine, &wasm)
        .with_cache_dir(&dir)
        .with_fuel_limit(1_000_000)
        .build()
        .unwrap();
    assert_eq!(artifacts(&dir).len(), 2);

    // A directory that cannot be created never fails a build.
    let blocked = root.join("file");
    std::fs::write(&blocked, b"").unwrap();
    let mut p = builder(engine, &wasm)
        .with_cache_dir(blocked.join("sub"))
        .build()
        .unwrap();
    assert_eq!(
        count(&mut p),
        r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[case]
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
}

/// Debug info is honoured or refused, as the engine's capabilities say.
#[case(needs = debug_info)]
fn debug_info_is_honoured_or_refused(engine: &'static str) {
    let mut debug = DebugOptions::default();
    debug.debug_info = true;
    let built = builder(engine, &kernel()).with_debug_options(debug).build();
    if caps(engine).debug_info {
        let mut p = built.unwrap();
        still_works(&mut p);
    } else {
        unsupported(built, "debug info");
    }
}

/// A native profiler is supported or refused, as the engine's capabilities say.
#[case(needs = profiling)]
fn profiling_is_honoured_or_refused(engine: &'static str) {
    let mut debug = DebugOptions::default();
    debug.profiling = xtism::Profiling::Perf;
    let built = builder(engine, &kernel()).with_debug_options(debug).build();
    if caps(engine).profiling {
        let mut p = built.unwrap();
        still_works(&mut p);
    } else {
        unsupported(built, "profiling");
    }
}

/// Core dumps, as the engine's capabilities say. Where it has them: a call that traps
/// writes a Wasm core dump, and so does a call stopped at its timeout or by a host
/// function's error (as in the official runtime); a call that succeeds
/// or that the plug-in failed by itself writes nothing; a dump that cannot be written is a
/// warning and the call's own error stands; a module loaded from the compile cache dumps
/// too. Elsewhere the builder refuses them.
#[case(needs = coredump)]
fn coredump_is_written_or_refused(engine: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trap.coredump");
    let wasm = kernel();
    let built = builder(engine, &wasm).with_coredump(&path).build();
    if !caps(engine).coredump {
        return unsupported(built, "core dumps");
    }
    let mut p = built.unwrap();
    still_works(&mut p);
    expect_err(p.call("fail_with_input", "mine"), ErrorKind::Plugin, "mine");
    assert!(!path.exists(), "no core dump without a trap");

    let err = expect_err(p.call("trap", ""), ErrorKind::Trap, "unreachable");
    let trap = format!("{:?}", err.xtism_error());
    assert!(
        trap.contains("main!") && !trap.contains("coredump generated"),
        "a backtrace, without the dump's summary: {trap}"
    );
    assert_core_dump(&std::fs::read(&path).unwrap());
    std::fs::remove_file(&path).unwrap();
    still_works(&mut p);
    assert!(!path.exists(), "a good call after a trap writes nothing");

    // The second build loads the module the first left in the compile cache, and it dumps.
    let cache = dir.path().join("cache");
    let cached = || {
        builder(engine, &wasm)
            .with_cache_dir(&cache)
            .with_coredump(&path)
            .with_timeout(std::time::Duration::from_millis(50))
            .build()
            .unwrap()
    };
    drop(cached());
    let mut p = cached();
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        1,
        "one artifact"
    );
    expect_err(p.call("spin", ""), ErrorKind::Timeout, "50 ms");
    assert_core_dump(&std::fs::read(&path).unwrap());

    // A host function's error stops the plug-in where it called: that is dumped too.
    std::fs::remove_file(&path).unwrap();
    let mut functions = host_function_set(false);
    functions[0] = Function::new("transform", [PTR], [PTR], UserData::new(()), refuse);
    let mut p = builder(engine, &plugin("wat/host_functions.wat"))
        .with_functions(functions)
        .with_coredump(&path)
        .build()
        .unwrap();
    expect_err(
        p.call("transform", "12345"),
        ErrorKind::Host,
        "refusing 5 bytes",
    );
    assert_core_dump(&std::fs::read(&path).unwrap());

    // An unwritable path: a warning, and the trap is the error.
    let unwritable = dir.path().join("missing").join("trap.coredump");
    let mut p = builder(engine, &wasm)
        .with_coredump(&unwritable)
        .build()
        .unwrap();
    let (result, logs) = capture_logs(|| p.call::<&str, &[u8]>("trap", "").map(<[u8]>::to_vec));
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Trap, "{err}");
    assert!(
        logs.contains("WARN") && logs.contains("coredump to"),
        "a warning: {logs}"
    );
}

/// Checks that `dump` is a Wasm core dump: a Wasm module with the custom sections `core`
/// (the process) and `corestack` (the trapping thread's frames).
fn assert_core_dump(dump: &[u8]) {
    assert_eq!(
        dump.get(..8),
        Some(&b"\0asm\x01\0\0\0"[..]),
        "a Wasm module"
    );
    /// An unsigned LEB128 number at `*at`, moving past it.
    fn leb(bytes: &[u8], at: &mut usize) -> usize {
        let (mut n, mut shift) = (0, 0);
        loop {
            let byte = bytes[*at];
            *at += 1;
            n |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return n;
            }
            shift += 7;
        }
    }
    let mut custom = Vec::new();
    let mut at = 8;
    while at < dump.len() {
        let id = dump[at];
        at += 1;
        let size = leb(dump, &mut at);
        let end = at + size;
        if id == 0 {
            let mut name_at = at;
            let len = leb(dump, &mut name_at);
            custom.push(String::from_utf8_lossy(&dump[name_at..name_at + len]).into_owned());
        }
        at = end;
    }
    assert_eq!(at, dump.len(), "sections end with the file");
    for name in ["core", "corestack"] {
        assert!(
            custom.iter().any(|c| c == name),
            "no {name:?} in {custom:?}"
        );
    }
}
