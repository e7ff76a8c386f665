//! WASI preview 1 on every engine: the C plug-ins of the corpus (built with zig against
//! wasi-libc) and hostile WAT. File cases check the files on disk, not only what the
//! plug-in reports.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{builder, case, expect_err, plugin, plugin_file};
use xtism::{
    ErrorExt, ErrorKind, Manifest, OutputCapture, Plugin, PluginBuilder, WasiOutput, manifest::Wasm,
};

/// The WASI reactor of the corpus with `dir` mapped at `/sb` (read-only with `ro`).
fn wasi_plugin(engine: &str, dir: &Path, ro: bool) -> Plugin {
    let host = format!("{}{}", if ro { "ro:" } else { "" }, dir.display());
    builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .with_allowed_path(host, "/sb")
        .build()
        .unwrap()
}

fn call(p: &mut Plugin, export: &str, input: &str) -> String {
    p.call::<&str, String>(export, input)
        .unwrap_or_else(|e| panic!("{export}({input:?}): {e}"))
}

/// The errno a plug-in export failed with (`"<call>: errno N"`).
fn errno(p: &mut Plugin, export: &str, input: &str) -> String {
    let err = p
        .call::<&str, &[u8]>(export, input)
        .expect_err("the call should fail");
    assert_eq!(err.kind(), ErrorKind::Plugin, "{err}");
    err.to_string()
}

fn sandbox() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "Hello, WASI!").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    dir
}

#[case]
fn wasi_output_is_discarded_or_captured(engine: &'static str) {
    let (stdout, stderr) = (OutputCapture::new(), OutputCapture::new());
    let mut p = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .with_wasi_stdout(WasiOutput::Capture(stdout.clone()))
        .with_wasi_stderr(WasiOutput::Capture(stderr.clone()))
        .build()
        .unwrap();
    assert_eq!(call(&mut p, "write_stdio", "hi"), "ok");
    assert_eq!(call(&mut p, "write_stdio", "again"), "ok");
    assert_eq!(stdout.take(), b"hi\nagain\n");
    assert_eq!(stderr.contents(), b"err: hi\nerr: again\n");
    assert!(stdout.contents().is_empty(), "take empties the buffer");
    // Discarded output is still written successfully from the guest's point of view.
    let mut quiet = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .with_wasi_stdout(WasiOutput::Discard)
        .build()
        .unwrap();
    assert_eq!(call(&mut quiet, "write_stdio", "into the void"), "ok");
}

#[case]
fn wasi_files_under_an_allowed_path(engine: &'static str) {
    let dir = sandbox();
    let root = dir.path();
    let mut p = wasi_plugin(engine, root, false);
    assert_eq!(call(&mut p, "read_file", "/sb/hello.txt"), "Hello, WASI!");
    assert_eq!(
        call(&mut p, "write_file", "/sb/new.txt\nline1\n"),
        "wrote 6"
    );
    assert_eq!(call(&mut p, "append_file", "/sb/new.txt\nline2"), "wrote 5");
    assert_eq!(
        std::fs::read_to_string(root.join("new.txt")).unwrap(),
        "line1\nline2"
    );
    assert_eq!(call(&mut p, "file_size", "/sb/new.txt"), "11 file");
    assert!(call(&mut p, "file_size", "/sb/sub").ends_with(" dir"));
    assert_eq!(call(&mut p, "list_dir", "/sb"), "hello.txt\nnew.txt\nsub");
    assert_eq!(call(&mut p, "seek_tell", "/sb/hello.txt"), "llo@5");
    assert_eq!(call(&mut p, "fd_info", "/sb/hello.txt"), "12");
    assert_eq!(call(&mut p, "make_dir", "/sb/made"), "ok");
    assert!(root.join("made").is_dir());
    assert_eq!(errno(&mut p, "make_dir", "/sb/made"), "mkdir: errno 20");
    assert_eq!(
        call(&mut p, "rename_path", "/sb/new.txt\n/sb/made/moved.txt"),
        "ok"
    );
    assert!(!root.join("new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("made/moved.txt")).unwrap(),
        "line1\nline2"
    );
    assert_eq!(errno(&mut p, "remove_dir", "/sb/made"), "rmdir: errno 55");
    assert_eq!(call(&mut p, "remove_file", "/sb/made/moved.txt"), "ok");
    assert_eq!(call(&mut p, "remove_dir", "/sb/made"), "ok");
    assert!(!root.join("made").exists());
    assert_eq!(errno(&mut p, "read_file", "/sb/gone.txt"), "open: errno 44");
}

#[case]
fn wasi_read_only_path_refuses_changes(engine: &'static str) {
    let dir = sandbox();
    let root = dir.path();
    std::fs::write(root.join("sub/inner.txt"), "inner").unwrap();
    let mut p = wasi_plugin(engine, root, true);
    assert_eq!(call(&mut p, "read_file", "/sb/hello.txt"), "Hello, WASI!");
    assert_eq!(call(&mut p, "read_file", "/sb/sub/inner.txt"), "inner");
    assert_eq!(call(&mut p, "list_dir", "/sb"), "hello.txt\nsub");
    // ENOTSUP (58) for every change, as in the official runtime; nothing changes on disk,
    // in the mapped directory or in its subdirectories.
    for (export, input, call_name) in [
        ("write_file", "/sb/hello.txt\noverwritten", "open"),
        ("write_file", "/sb/created.txt\nx", "open"),
        ("append_file", "/sb/sub/inner.txt\nmore", "open"),
        ("write_file", "/sb/sub/created.txt\nx", "open"),
        ("make_dir", "/sb/made", "mkdir"),
        ("make_dir", "/sb/sub/made", "mkdir"),
        ("remove_file", "/sb/hello.txt", "unlink"),
        ("remove_dir", "/sb/sub", "rmdir"),
        ("rename_path", "/sb/hello.txt\n/sb/renamed.txt", "rename"),
    ] {
        assert_eq!(
            errno(&mut p, export, input),
            format!("{call_name}: errno 58"),
            "{export} {input:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(root.join("hello.txt")).unwrap(),
        "Hello, WASI!"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("sub/inner.txt")).unwrap(),
        "inner"
    );
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["hello.txt", "sub"]);
    assert_eq!(std::fs::read_dir(root.join("sub")).unwrap().count(), 1);

    // A rename from a writable mapping into a read-only one is refused too.
    let writable = sandbox();
    let mut both = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .with_allowed_path(writable.path().display().to_string(), "/rw")
        .with_allowed_path(format!("ro:{}", root.display()), "/ro")
        .build()
        .unwrap();
    assert_eq!(
        errno(&mut both, "rename_path", "/rw/hello.txt\n/ro/smuggled.txt"),
        "rename: errno 58"
    );
    assert!(!root.join("smuggled.txt").exists());
    assert!(writable.path().join("hello.txt").exists());
}

#[case]
fn wasi_escapes_are_refused(engine: &'static str) {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret.txt"), "top secret").unwrap();
    let root = outer.path().join("sandbox");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "Hello, WASI!").unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret.txt"), root.join("link")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", root.join("rel_link")).unwrap();
    std::os::unix::fs::symlink(outer.path(), root.join("dir_link")).unwrap();
    let mut p = wasi_plugin(engine, &root, false);
    // Reads that leave the mapped directory: `..`, symlinks (absolute or relative, to a file
    // or a directory) and paths under no mapping.
    for path in [
        "/sb/../secret.txt",
        "/sb/sub/../../secret.txt",
        "/sb/link",
        "/sb/rel_link",
        "/sb/dir_link/secret.txt",
    ] {
        let err = errno(&mut p, "read_file", path);
        assert!(err.starts_with("open: errno "), "{path}: {err}");
    }
    assert_eq!(
        errno(
            &mut p,
            "read_file",
            &format!("{}/secret.txt", outer.path().display())
        ),
        "open: errno 44",
        "a path under no mapping is not found"
    );
    // Writes that would leave it: nothing appears outside, the secret is unchanged.
    for input in [
        "/sb/../escaped.txt\nx",
        "/sb/dir_link/escaped.txt\nx",
        "/sb/link\noverwritten",
        "/sb/rel_link\noverwritten",
    ] {
        let err = errno(&mut p, "write_file", input);
        assert!(err.starts_with("open: errno "), "{input:?}: {err}");
    }
    assert_eq!(
        errno(&mut p, "make_dir", "/sb/../escaped"),
        "mkdir: errno 63"
    );
    // Plug-ins may not make symlinks at all (EPERM), even harmless ones.
    assert_eq!(
        errno(&mut p, "make_symlink", "hello.txt\n/sb/alias"),
        "symlink: errno 63"
    );
    assert_eq!(
        errno(&mut p, "make_symlink", "/etc/passwd\n/sb/passwd"),
        "symlink: errno 63"
    );
    assert!(!root.join("alias").exists() && !root.join("passwd").exists());
    assert_eq!(
        std::fs::read_to_string(outer.path().join("secret.txt")).unwrap(),
        "top secret"
    );
    let mut outside: Vec<String> = std::fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    outside.sort();
    assert_eq!(outside, ["sandbox", "secret.txt"]);
    // The host keeps serving the plug-in.
    assert_eq!(call(&mut p, "read_file", "/sb/hello.txt"), "Hello, WASI!");
}

#[case]
fn wasi_read_only_holds_against_descriptor_tricks(engine: &'static str) {
    let rw = sandbox();
    let ro = sandbox();
    let fifo = rw.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let hello = ro.path().join("hello.txt");
    let mtime = || std::fs::metadata(&hello).unwrap().modified().unwrap();
    let before = mtime();
    let mut p = builder(engine, &plugin("wat/wasi_sandbox.wat"))
        .with_wasi(true)
        .with_allowed_path(rw.path().display().to_string(), "/rw")
        .with_allowed_path(format!("ro:{}", ro.path().display()), "/ro")
        .with_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // ENOTSUP (58) for each: opening with APPEND, setting times through a read-only
    // descriptor, a hard link out of the mapping; a FIFO does not open (and does not block).
    for export in [
        "append_then_truncate",
        "read_then_set_times",
        "link_out_of_read_only",
        "open_fifo",
    ] {
        let errno: u64 = p
            .call(export, "")
            .unwrap_or_else(|e| panic!("{export}: {e}"));
        assert_eq!(errno, 58, "{export}");
    }
    assert_eq!(std::fs::read_to_string(&hello).unwrap(), "Hello, WASI!");
    assert_eq!(mtime(), before);
    assert!(!rw.path().join("linked.txt").exists());
}

#[case]
fn wasi_long_host_calls_stop_at_the_timeout(engine: &'static str) {
    // Long WASI calls in a short loop: the call stops when the host call that passed the
    // deadline returns (wasmi, which checks the deadline between fuel slices, too).
    let mut p = builder(engine, &plugin("wat/wasi_sandbox.wat"))
        .with_wasi(true)
        .with_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let start = Instant::now();
    expect_err(
        p.call::<&str, &[u8]>("random_forever", ""),
        ErrorKind::Timeout,
        "200 ms",
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

#[case]
fn wasi_single_file_mapping(engine: &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.txt");
    std::fs::write(&config, "key=value").unwrap();
    std::fs::write(dir.path().join("sibling.txt"), "not mapped").unwrap();
    let log = dir.path().join("out.log");
    std::fs::write(&log, "").unwrap();
    let mut p = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .with_allowed_path(format!("ro:{}", config.display()), "/etc/app/config.txt")
        .with_allowed_path(log.display().to_string(), "/etc/app/app.log")
        .build()
        .unwrap();
    assert_eq!(
        call(&mut p, "read_file", "/etc/app/config.txt"),
        "key=value"
    );
    assert_eq!(call(&mut p, "list_dir", "/etc/app"), "app.log\nconfig.txt");
    assert_eq!(call(&mut p, "file_size", "/etc/app/config.txt"), "9 file");
    assert_eq!(
        errno(&mut p, "read_file", "/etc/app/sibling.txt"),
        "open: errno 44"
    );
    assert_eq!(
        errno(&mut p, "write_file", "/etc/app/config.txt\nchanged"),
        "open: errno 58"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "key=value");
    assert_eq!(
        call(&mut p, "append_file", "/etc/app/app.log\nentry"),
        "wrote 5"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "entry");
    assert_eq!(
        errno(&mut p, "write_file", "/etc/app/new.txt\nx"),
        "open: errno 44"
    );
    assert_eq!(
        errno(&mut p, "remove_file", "/etc/app/app.log"),
        "unlink: errno 63"
    );
    assert!(log.exists());
}

#[case]
fn wasi_allowed_paths_from_a_manifest(engine: &'static str) {
    // The official manifest form: host paths (`ro:` for read-only) to guest paths.
    let dir = sandbox();
    let (_wasm_dir, wasm) = plugin_file("c/wasi.wasm");
    let json = serde_json::json!({
        "wasm": [{"path": wasm}],
        "allowed_paths": {format!("ro:{}", dir.path().display()): "/m"},
    })
    .to_string();
    let mut p = builder(engine, json.as_bytes())
        .with_wasi(true)
        .build()
        .unwrap();
    assert_eq!(call(&mut p, "read_file", "/m/hello.txt"), "Hello, WASI!");
    assert_eq!(errno(&mut p, "write_file", "/m/x\ny"), "open: errno 58");
    assert!(!dir.path().join("x").exists());
}

#[case]
fn wasi_clocks_and_random(engine: &'static str) {
    let mut p = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .build()
        .unwrap();
    let read = |p: &mut Plugin| -> Vec<u64> {
        call(p, "clocks", "")
            .split(' ')
            .map(|kv| kv.split_once('=').unwrap().1.parse().unwrap())
            .collect()
    };
    let first = read(&mut p);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        first[0].abs_diff(now) < 60_000_000_000,
        "realtime {first:?} vs {now}"
    );
    std::thread::sleep(Duration::from_millis(2));
    let second = read(&mut p);
    assert!(
        second[1] > first[1],
        "monotonic goes forward: {first:?} {second:?}"
    );
    assert!(first[2] >= 1, "a resolution is reported: {first:?}");
    let a: Vec<u8> = p.call("random_bytes", "64").unwrap();
    let b: Vec<u8> = p.call("random_bytes", "64").unwrap();
    assert_eq!((a.len(), b.len()), (64, 64));
    assert_ne!(a, b);
    assert_ne!(a, vec![0; 64]);
}

#[case]
fn wasi_args_env_and_stdin_are_empty(engine: &'static str) {
    let mut p = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .with_config_key("SECRET", "not an environment variable")
        .build()
        .unwrap();
    assert_eq!(call(&mut p, "args_env", ""), "argc=0");
    assert_eq!(call(&mut p, "read_stdin", ""), "");
    assert_eq!(call(&mut p, "ctor_count", ""), "ctors=1");
}

#[case]
fn wasi_proc_exit_codes(engine: &'static str) {
    let mut p = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .build()
        .unwrap();
    let err = expect_err(
        p.call::<&str, &[u8]>("exit_with", "7"),
        ErrorKind::Plugin,
        "exit_with exited with code 7",
    );
    assert_eq!(err.plugin_code(), Some(7));
    // proc_exit(0) is success, as in the official runtime.
    let out: &[u8] = p.call("exit_with", "0").unwrap();
    assert!(out.is_empty());
    // The instance that exited is replaced: constructors ran once in the fresh one.
    assert_eq!(call(&mut p, "ctor_count", ""), "ctors=1");
    let err = expect_err(
        p.call::<&str, &[u8]>("exit_with", "255"),
        ErrorKind::Plugin,
        "255",
    );
    assert_eq!(err.plugin_code(), Some(255));
}

#[case]
fn wasi_sleep_stops_at_the_timeout(engine: &'static str) {
    let mut p = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .with_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    assert_eq!(call(&mut p, "sleep_ms", "5"), "slept");
    let start = Instant::now();
    expect_err(
        p.call::<&str, &[u8]>("sleep_ms", "3600000"),
        ErrorKind::Timeout,
        "100 ms",
    );
    // An hour's sleep ends at the deadline (the bound leaves room for a loaded machine).
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(call(&mut p, "ctor_count", ""), "ctors=1");
    assert_eq!(call(&mut p, "sleep_ms", "1"), "slept");
}

#[case]
fn wasi_sleep_is_cancelled(engine: &'static str) {
    let mut p = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .build()
        .unwrap();
    let handle = p.cancel_handle();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        handle.cancel().unwrap();
    });
    let start = Instant::now();
    expect_err(
        p.call::<&str, &[u8]>("sleep_ms", "3600000"),
        ErrorKind::Cancelled,
        "cancelled",
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    canceller.join().unwrap();
    assert_eq!(call(&mut p, "sleep_ms", "1"), "slept");
}

#[case]
fn wasi_command_is_reinstantiated(engine: &'static str) {
    let stdout = OutputCapture::new();
    let mut p = builder(engine, &plugin("c/wasi_command.wasm"))
        .with_wasi(true)
        .with_wasi_stdout(WasiOutput::Capture(stdout.clone()))
        .build()
        .unwrap();
    // Each `_start` runs in a fresh instance: its call counter is always 1.
    for _ in 0..2 {
        assert_eq!(call(&mut p, "_start", ""), "command ran 1");
    }
    let err = expect_err(
        p.call::<&str, &[u8]>("_start", "3"),
        ErrorKind::Plugin,
        "exited with code 3",
    );
    assert_eq!(err.plugin_code(), Some(3));
    assert_eq!(call(&mut p, "_start", "0"), "command ran 1");
    assert_eq!(stdout.contents(), b"hello from main\n".repeat(4));
}

#[case]
fn wasi_command_and_reactor(engine: &'static str) {
    // `_initialize` runs once, then the exports run on the same instance; `_start` is an
    // ordinary export that re-instantiates afterwards (the official runtime refuses such
    // a module).
    let mut p = builder(engine, &plugin("c/wasi_both.wasm"))
        .with_wasi(true)
        .build()
        .unwrap();
    assert_eq!(call(&mut p, "count", ""), "ctors=1 calls=1");
    assert_eq!(call(&mut p, "count", ""), "ctors=1 calls=2");
    assert_eq!(call(&mut p, "_start", ""), "start ran");
    assert_eq!(call(&mut p, "count", ""), "ctors=1 calls=1");
}

#[case]
fn wasi_needs_to_be_enabled(engine: &'static str) {
    let err = builder(engine, &plugin("c/wasi.wasm")).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Link, "{err}");
    let text = err.to_string();
    assert!(text.contains("wasi_snapshot_preview1::"), "{text}");
    assert!(text.contains("with_wasi(true)"), "{text}");
    // A mapping that does not exist fails the build, naming the path.
    let err = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .with_allowed_path("/nonexistent/xtism-path", "/data")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert!(err.to_string().contains("/nonexistent/xtism-path"), "{err}");
    // A plug-in without WASI imports builds with WASI on, and runs as before.
    let mut p = builder(engine, &plugin("c/echo.wasm"))
        .with_wasi(true)
        .build()
        .unwrap();
    assert_eq!(call(&mut p, "echo", "no WASI needed"), "no WASI needed");
}

#[case]
fn wasi_linked_library_module(engine: &'static str) {
    // A WASI reactor linked as a dependency: its `_initialize` runs once at the first call,
    // and its WASI calls work on its own memory.
    let stdout = OutputCapture::new();
    let manifest = Manifest::new([
        Wasm::data(plugin("c/wasi_lib.wasm")).with_name("wasi_lib"),
        Wasm::data(plugin("wat/uses_wasi_lib.wat")),
    ]);
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .with_wasi(true)
        .with_wasi_stdout(WasiOutput::Capture(stdout.clone()))
        .build()
        .unwrap();
    assert_eq!(call(&mut p, "run", ""), "wrote=12 ctors=1");
    assert_eq!(call(&mut p, "run", ""), "wrote=12 ctors=1");
    assert_eq!(stdout.contents(), b"lib says hi\nlib says hi\n");
}

#[case]
fn wasi_hostile_arguments(engine: &'static str) {
    let dir = sandbox();
    let mut p = builder(engine, &plugin("wat/wasi_hostile.wat"))
        .with_wasi(true)
        .with_allowed_path(dir.path().display().to_string(), "/sb")
        .build()
        .unwrap();
    // wasi-common traps on a pointer outside the plug-in's memory (a `Guest` error naming
    // the function, as wasmtime's WASI does) and answers other bad arguments with an errno:
    // EBADF (8) for a bad fd, EILSEQ (25) for a path that is not UTF-8, EINVAL (28) for an
    // empty poll. The plug-in can be called again after each.
    for (export, expected) in [
        ("iovec_outside", "Guest fd_write:"),
        ("iovs_outside", "Guest fd_write:"),
        ("result_outside", "Guest fd_write:"),
        ("read_straddling", "Guest fd_read:"),
        ("random_outside", "Guest random_get:"),
        ("random_huge", "Guest random_get:"),
        ("path_not_utf8", "errno 25"),
        ("path_huge", "Guest path_open:"),
        ("bad_fd", "errno 8"),
        ("poll_nothing", "errno 28"),
        ("poll_huge", "Guest poll_oneoff:"),
        ("readdir_cookie", "errno 0"),
    ] {
        let outcome = match p.call::<&str, u64>(export, "") {
            Ok(errno) => format!("errno {errno}"),
            Err(e) => format!("{:?} {e}", e.kind()),
        };
        assert!(outcome.starts_with(expected), "{export}: {outcome}");
        if expected.starts_with("Guest") {
            assert!(
                outcome.contains("Pointer out of bounds"),
                "{export}: {outcome}"
            );
        }
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "nothing was created"
    );
}

#[case]
fn wasi_without_memory_export(engine: &'static str) {
    // WASI calls from a module without memory see an empty memory: every pointer is out of
    // bounds.
    let wasm = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
            (func (export "run") (result i32) (call $r (i32.const 0) (i32.const 8))))"#,
    )
    .unwrap();
    let mut p = builder(engine, &wasm).with_wasi(true).build().unwrap();
    for _ in 0..2 {
        expect_err(
            p.call::<&str, &[u8]>("run", ""),
            ErrorKind::Guest,
            "random_get: Pointer out of bounds",
        );
    }
}

#[case]
fn wasi_exit_while_initializing(engine: &'static str) {
    // An initializer that exits fails the first call with its code, and the next call
    // starts over from a fresh instance.
    let wasm = wat::parse_str(
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (func (export "_initialize") (call $exit (i32.const 3)))
            (func (export "run") (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let mut p = builder(engine, &wasm).with_wasi(true).build().unwrap();
    for _ in 0..2 {
        let err = expect_err(
            p.call::<&str, &[u8]>("run", ""),
            ErrorKind::Plugin,
            "_initialize exited with code 3 while initializing",
        );
        assert_eq!(err.plugin_code(), Some(3));
    }
}

#[case]
fn linked_module_start_is_bounded(engine: &'static str) {
    // The start function of a linked module runs at the first call, under its timeout, not
    // inside Plugin::new.
    let manifest = Manifest::new([
        Wasm::data(plugin("wat/start_loop.wat")).with_name("looper"),
        Wasm::data(plugin("wat/kernel.wat")),
    ])
    .with_timeout(Duration::from_millis(100));
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap();
    expect_err(
        p.call::<&str, &[u8]>("echo", "x"),
        ErrorKind::Timeout,
        "100 ms",
    );
}

/// One line per observation of a fixed sequence of WASI calls, for the golden transcript.
pub(super) fn wasi_transcript(engine: &'static str) -> Vec<String> {
    let dir = sandbox();
    let stdout = OutputCapture::new();
    let mut p = builder(engine, &plugin("c/wasi.wasm"))
        .with_wasi(true)
        .with_allowed_path(dir.path().display().to_string(), "/sb")
        .with_wasi_stdout(WasiOutput::Capture(stdout.clone()))
        .build()
        .unwrap();
    let mut lines = Vec::new();
    for (export, input) in [
        ("ctor_count", ""),
        ("write_stdio", "transcript"),
        ("read_file", "/sb/hello.txt"),
        ("write_file", "/sb/t.txt\nabc"),
        ("append_file", "/sb/t.txt\ndef"),
        ("seek_tell", "/sb/t.txt"),
        ("list_dir", "/sb"),
        ("file_size", "/sb/t.txt"),
        ("rename_path", "/sb/t.txt\n/sb/sub/t.txt"),
        ("list_dir", "/sb/sub"),
        ("read_file", "/sb/../etc/passwd"),
        ("make_symlink", "t.txt\n/sb/l"),
        ("remove_dir", "/sb/sub"),
        ("remove_file", "/sb/sub/t.txt"),
        ("args_env", ""),
        ("read_stdin", ""),
        ("exit_with", "9"),
        ("ctor_count", ""),
    ] {
        lines.push(match p.call::<&str, Vec<u8>>(export, input) {
            Ok(out) => format!("{export} ok {}", out.escape_ascii()),
            Err(e) => format!("{export} err {:?} {e}", e.kind()),
        });
    }
    lines.push(format!("stdout {}", stdout.contents().escape_ascii()));
    let mut hostile = builder(engine, &plugin("wat/wasi_hostile.wat"))
        .with_wasi(true)
        .with_allowed_path(dir.path().display().to_string(), "/sb")
        .build()
        .unwrap();
    for export in ["iovec_outside", "path_not_utf8", "bad_fd", "poll_nothing"] {
        lines.push(match hostile.call::<&str, u64>(export, "") {
            Ok(errno) => format!("{export} errno {errno}"),
            Err(e) => format!("{export} err {:?} {e}", e.kind()),
        });
    }
    lines
}
