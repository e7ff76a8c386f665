//! Tests of the facade: the README examples run, and engines are chosen by name.

use std::path::Path;

use xtism::ErrorExt;

#[allow(dead_code, reason = "the example's main is not called here")]
#[path = "../examples/count_vowels.rs"]
mod example;

#[allow(dead_code, reason = "the example's main is not called here")]
#[path = "../examples/async_host.rs"]
mod async_example;

#[cfg(feature = "http")]
#[allow(dead_code, reason = "the example's main is not called here")]
#[path = "../examples/http_get.rs"]
mod http_example;

#[cfg(feature = "wasi")]
#[allow(dead_code, reason = "the example's main is not called here")]
#[path = "../examples/wasi_files.rs"]
mod wasi_example;

#[test]
fn readme_example_runs() {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/plugins");
    let (counted, greeted) = example::run(&plugins).unwrap();
    assert_eq!(counted, r#"{"count":3,"total":6,"vowels":"aeiou"}"#);
    assert_eq!(greeted, "Hi Bob!");
}

/// The README's async example: every call waits in the async host function, on one
/// thread, and each gets its own greeting.
#[test]
fn readme_async_example_runs() {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/plugins");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let greetings = runtime.block_on(async_example::run(&plugins, &["Ada", "Bob", "Cy"]));
    let engine = xtism::engine_named(xtism::ENGINES[0]).unwrap();
    if !engine.capabilities().async_calls {
        // A build whose default engine has no async calls (wasmer alone) refuses them.
        let err = greetings.unwrap_err();
        assert_eq!(err.kind(), xtism::ErrorKind::Unsupported, "{err}");
        return;
    }
    assert_eq!(greetings.unwrap(), ["Hi Ada!", "Hi Bob!", "Hi Cy!"]);
}

/// The README's HTTP example against a one-shot server on 127.0.0.1; a host it does not
/// allow is refused.
#[cfg(feature = "http")]
#[test]
fn readme_http_example_runs() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hello", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        let reply = "HTTP/1.1 418 X\r\nx-teapot: yes\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello";
        stream.write_all(reply.as_bytes()).unwrap();
    });
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/plugins");
    let out = http_example::fetch(&plugins, &url, "127.0.0.1").unwrap();
    assert!(out.starts_with(r#"{"status":418,"headers":{"#), "{out}");
    assert!(out.contains(r#""x-teapot":"yes""#), "{out}");
    assert!(out.ends_with(r#""body":"hello"}"#), "{out}");
    server.join().unwrap();
    let err = http_example::fetch(&plugins, &url, "example.com").unwrap_err();
    assert!(err.to_string().contains("is not allowed"), "{err}");
}

/// The README's WASI example reads a file of a mapped directory and captures stdout; a
/// path outside the mapping is refused.
#[cfg(feature = "wasi")]
#[test]
fn readme_wasi_example_runs() {
    let dir = std::env::temp_dir().join(format!("xtism-readme-wasi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello from the host").unwrap();
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/plugins");
    let (text, printed) = wasi_example::read_mapped(&plugins, &dir, "hello.txt").unwrap();
    assert_eq!(text, "hello from the host");
    assert_eq!(printed, b"printed by the plug-in\n");
    let err = wasi_example::read_mapped(&plugins, &dir, "../etc/passwd").unwrap_err();
    assert!(err.to_string().contains("open: errno"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn engines_by_name() {
    for name in xtism::ENGINES {
        assert_eq!(xtism::engine_named(name).unwrap().name(), *name);
    }
    let err = xtism::engine_named("nope").err().unwrap();
    assert_eq!(err.kind(), xtism::ErrorKind::Invalid);
    for name in xtism::ENGINES {
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn core_alone_needs_an_engine() {
    let err = xtism_core::PluginBuilder::<xtism_core::NoDefaultEngine>::new(&b"\0asm"[..])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no engine chosen"), "{err}");
}

#[test]
fn readme_shows_the_examples() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../README.md")).unwrap();
    // The facade's examples, and the conformance case the README shows as a model.
    let examples: Vec<String> = [
        "examples/count_vowels.rs",
        "examples/async_host.rs",
        "examples/http_get.rs",
        "examples/wasi_files.rs",
        "../conformance/src/cases/kernel.rs",
    ]
    .iter()
    .map(|path| std::fs::read_to_string(root.join(path)).unwrap())
    .collect();
    let blocks: Vec<&str> = readme
        .split("```rust\n")
        .skip(1)
        .map(|rest| &rest[..rest.find("```").unwrap()])
        .collect();
    assert!(blocks.len() >= 2, "the README shows both examples");
    for shown in blocks {
        assert!(
            examples.iter().any(|example| example.contains(shown)),
            "the README's Rust code must be a verbatim part of an example or of the case it shows:\n{shown}"
        );
    }
}
