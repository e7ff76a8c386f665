//! What the conformance suite does not reach: the shapes of guest code the injected
//! interruption check must stop (loops that store nothing, nested and consecutive loops,
//! recursion without loops, start functions of linked modules are not interrupted), and
//! the compile cache driven through core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use xtism_core::{Engine, ErrorExt, ErrorKind, Plugin, PluginBuilder};

fn engine() -> Arc<dyn Engine> {
    static ENGINE: std::sync::OnceLock<Arc<dyn Engine>> = std::sync::OnceLock::new();
    Arc::clone(ENGINE.get_or_init(|| Arc::new(xtism_wasmer::WasmerEngine::new())))
}

/// The export `run` of `wat` times out within a few ticks of its 100 ms deadline, twice.
fn stops_at_deadline(wat: &str) {
    let wasm = wat::parse_str(wat).unwrap();
    let mut p: Plugin = PluginBuilder::new(&wasm)
        .with_engine(engine())
        .with_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    for _ in 0..2 {
        let start = Instant::now();
        let err = p.call::<&str, &[u8]>("run", "").unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(took >= Duration::from_millis(100), "{took:?}");
        // Only tells a stop from a hang: typically ~1 ms late, but how late on a loaded
        // machine is a measurement for the benchmarks.
        assert!(took < Duration::from_secs(5), "{took:?}");
    }
}

#[test]
fn a_loop_that_stores_nothing_is_stopped() {
    stops_at_deadline(
        r#"(module (func (export "run") (result i32) (loop $l (br $l)) (i32.const 0)))"#,
    );
}

#[test]
fn a_loop_of_arithmetic_is_stopped() {
    stops_at_deadline(
        r#"(module (func (export "run") (result i32) (local $i i32)
            (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l))
            (i32.const 0)))"#,
    );
}

#[test]
fn nested_and_consecutive_loops_are_stopped() {
    stops_at_deadline(
        r#"(module (func (export "run") (result i32) (local $i i32)
            (loop $first
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $first (i32.lt_u (local.get $i) (i32.const 10))))
            (loop $outer (loop $inner (br $inner)) (br $outer))
            (i32.const 0)))"#,
    );
}

#[test]
fn recursion_without_loops_is_stopped() {
    // 2^64 calls, 64 deep: never ends, never overflows the stack.
    stops_at_deadline(
        r#"(module
            (func $f (param i32)
              (if (local.get 0) (then
                (call $f (i32.sub (local.get 0) (i32.const 1)))
                (call $f (i32.sub (local.get 0) (i32.const 1))))))
            (func (export "run") (result i32) (call $f (i32.const 64)) (i32.const 0)))"#,
    );
}

#[test]
fn a_loop_calling_the_kernel_is_stopped() {
    stops_at_deadline(
        r#"(module
            (import "extism:host/env" "input_length" (func $len (result i64)))
            (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
            (import "extism:host/env" "free" (func $free (param i64)))
            (func (export "run") (result i32)
              (loop $l (drop (call $len)) (call $free (call $alloc (i64.const 8))) (br $l))
              (i32.const 0)))"#,
    );
}

#[test]
fn the_compile_cache_serves_a_working_interruptible_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(
        r#"(module
            (import "extism:host/env" "input_offset" (func $in (result i64)))
            (import "extism:host/env" "input_length" (func $len (result i64)))
            (import "extism:host/env" "output_set" (func $out (param i64 i64)))
            (func (export "echo") (result i32) (call $out (call $in) (call $len)) (i32.const 0))
            (func (export "spin") (result i32) (loop $l (br $l)) (i32.const 0)))"#,
    )
    .unwrap();
    for round in 0..2 {
        let mut p: Plugin = PluginBuilder::new(&wasm)
            .with_engine(engine())
            .with_cache_dir(dir.path())
            .with_timeout(Duration::from_millis(50))
            .with_fuel_limit(1_000_000)
            .build()
            .unwrap();
        let out: &[u8] = p.call("echo", "hello").unwrap();
        assert_eq!(out, b"hello", "round {round}");
        let err = p.call::<&str, &[u8]>("spin", "").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfFuel, "round {round}: {err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
    let mut p: Plugin = PluginBuilder::new(&wasm)
        .with_engine(engine())
        .with_cache_dir(dir.path())
        .with_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let err = p.call::<&str, &[u8]>("spin", "").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "without fuel the code differs"
    );
}

const ECHO: &str = r#"(module
    (import "extism:host/env" "input_offset" (func $in (result i64)))
    (import "extism:host/env" "input_length" (func $len (result i64)))
    (import "extism:host/env" "output_set" (func $out (param i64 i64)))
    (func (export "echo") (result i32) (call $out (call $in) (call $len)) (i32.const 0))
    (func (export "spin") (result i32) (loop $l (br $l)) (i32.const 0)))"#;

#[test]
fn cancels_racing_with_short_calls_touch_only_those_calls() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let wasm = wat::parse_str(ECHO).unwrap();
    let mut p: Plugin = PluginBuilder::new(&wasm)
        .with_engine(engine())
        .build()
        .unwrap();
    let handle = p.cancel_handle();
    let done = Arc::new(AtomicBool::new(false));
    let canceller = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                handle.cancel().unwrap();
                std::thread::yield_now();
            }
        })
    };
    let (mut ok, mut cancelled) = (0, 0);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(300) {
        match p.call::<&str, &[u8]>("echo", "ab") {
            Ok(out) => {
                assert_eq!(out, b"ab");
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
                cancelled += 1;
            }
        }
    }
    // A spinning call is cancelled quickly.
    let spin = Instant::now();
    let err = p.call::<&str, &[u8]>("spin", "").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert!(
        spin.elapsed() < Duration::from_secs(5),
        "a cancel, not a hang"
    );
    done.store(true, Ordering::Release);
    canceller.join().unwrap();
    assert!(ok > 0, "{ok} ok, {cancelled} cancelled");
    for _ in 0..1000 {
        let out: &[u8] = p.call("echo", "cd").unwrap();
        assert_eq!(out, b"cd");
    }
}

#[test]
fn plugins_dropped_right_after_an_interruption_are_fine() {
    let wasm = wat::parse_str(ECHO).unwrap();
    let compiled = xtism_core::CompiledPlugin::new(
        PluginBuilder::<xtism_core::NoDefaultEngine>::new(&wasm)
            .with_engine(engine())
            .with_timeout(Duration::from_millis(2)),
    )
    .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let compiled = compiled.clone();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let mut p: Plugin = Plugin::new_from_compiled(&compiled).unwrap();
                    let err = p.call::<&str, &[u8]>("spin", "").unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
                    let out: &[u8] = p.call("echo", "x").unwrap();
                    assert_eq!(out, b"x");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn backtraces_name_the_module_and_function() {
    let wasm = wat::parse_str(
        r#"(module
            (func $inner (unreachable))
            (func (export "run") (result i32) (call $inner) (i32.const 0)))"#,
    )
    .unwrap();
    let mut p: Plugin = PluginBuilder::new(&wasm)
        .with_engine(engine())
        .build()
        .unwrap();
    match p
        .call::<&str, &[u8]>("run", "")
        .map_err(xtism_core::XtismError::from)
    {
        Err(xtism_core::XtismError::Trap {
            message,
            backtrace: Some(backtrace),
        }) => {
            assert_eq!(message, "wasm `unreachable` instruction executed");
            assert!(backtrace.contains("main!inner"), "{backtrace}");
            assert!(backtrace.lines().count() >= 2, "{backtrace}");
        }
        other => panic!("expected a trap with a backtrace, got {other:?}"),
    }
}
