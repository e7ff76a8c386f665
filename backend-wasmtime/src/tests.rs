//! Tests of the whole engine, through core's plug-in API: interruption and the ticker, the
//! instance pool, and backtraces.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use xtism_core::engine::{Engine, TICK};
use xtism_core::{CompiledPlugin, NoDefaultEngine, Plugin, PluginBuilder, XtismError};

use crate::WasmtimeEngine;

/// A plug-in whose `spin` never returns and whose `run` returns at once.
const SPIN: &str = r#"(module
    (func (export "spin") (result i32) (loop (br 0)) (i32.const 0))
    (func (export "run") (result i32) (i32.const 0)))"#;

fn builder(engine: &Arc<WasmtimeEngine>, wasm: &[u8]) -> PluginBuilder<'static, NoDefaultEngine> {
    PluginBuilder::new(wasm.to_vec()).with_engine(Arc::clone(engine) as Arc<dyn Engine>)
}

#[test]
fn a_timeout_stops_the_call_within_a_few_ticks() {
    let engine = Arc::new(WasmtimeEngine::new());
    let wasm = wat::parse_str(SPIN).unwrap();
    let timeout = Duration::from_millis(30);
    let mut plugin: Plugin = builder(&engine, &wasm)
        .with_timeout(timeout)
        .build()
        .unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        let err = plugin.call::<&str, &[u8]>("spin", "").unwrap_err();
        let late = start.elapsed().saturating_sub(timeout);
        assert!(
            matches!(err.downcast_ref(), Some(XtismError::Timeout(30))),
            "{err}"
        );
        // The loop never ends by itself, so stopping at all is the timeout's doing. Ticks
        // are 1 ms, but how late a stop is on a loaded machine is a measurement for the
        // benchmarks; the bound here only tells a stop from a hang (215 ms was seen with
        // fuzzers running beside the tests).
        assert!(late < Duration::from_secs(5), "stopped {late:?} late");
        let _: &[u8] = plugin.call("run", "").unwrap();
    }
}

#[test]
fn the_ticker_parks_once_calls_are_done() {
    let engine = Arc::new(WasmtimeEngine::new());
    let wasm = wat::parse_str(SPIN).unwrap();
    let mut plugin: Plugin = builder(&engine, &wasm)
        .with_timeout(Duration::from_millis(5))
        .build()
        .unwrap();
    assert!(plugin.call::<&str, &[u8]>("spin", "").is_err());
    let start = Instant::now();
    while !engine.ticker.is_parked() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the ticker never parks"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let ticks = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&ticks);
    engine
        .ticker
        .add(move || {
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    std::thread::sleep(TICK * 20);
    assert_eq!(
        ticks.load(Ordering::Relaxed),
        0,
        "an idle engine does not tick"
    );
    let _: &[u8] = plugin.call("run", "").unwrap();
}

/// A plug-in with a memory of one page that `grow` grows by its input's length in pages
/// (returning the old size, or -1).
const GROW: &str = r#"(module
    (import "extism:host/env" "input_length" (func $len (result i64)))
    (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
    (import "extism:host/env" "store_u64" (func $store (param i64 i64)))
    (import "extism:host/env" "output_set" (func $out (param i64 i64)))
    (memory (export "memory") 1)
    (func (export "grow") (result i32) (local $at i64)
        (local.set $at (call $alloc (i64.const 8)))
        (call $store (local.get $at)
            (i64.extend_i32_u (memory.grow (i32.wrap_i64 (call $len)))))
        (call $out (local.get $at) (i64.const 4))
        (i32.const 0)))"#;

fn grow(plugin: &mut Plugin, pages: usize) -> i32 {
    let out: Vec<u8> = plugin.call("grow", vec![0u8; pages]).unwrap();
    i32::from_le_bytes(out.try_into().unwrap())
}

#[test]
fn an_instance_pool_refuses_past_its_slots_and_reuses_a_freed_one() {
    let engine = Arc::new(WasmtimeEngine::with_instance_pool(2));
    let wasm = wat::parse_str(GROW).unwrap();
    let compiled = CompiledPlugin::new(builder(&engine, &wasm)).unwrap();
    let mut live: Vec<Plugin> = (0..2)
        .map(|_| Plugin::new_from_compiled(&compiled).unwrap())
        .collect();
    let err = Plugin::<NoDefaultEngine>::new_from_compiled(&compiled).unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(XtismError::Engine(_))),
        "{err}"
    );
    assert!(err.to_string().contains("instance pool is full"), "{err}");
    for plugin in &mut live {
        assert_eq!(grow(plugin, 1), 1, "the live plug-ins still run");
    }
    drop(live.pop());
    let mut again: Plugin = Plugin::new_from_compiled(&compiled).unwrap();
    assert_eq!(
        grow(&mut again, 2),
        1,
        "a reused slot starts at the module's own size"
    );
}

#[test]
fn a_pool_beyond_the_address_space_is_an_error() {
    let engine = Arc::new(WasmtimeEngine::with_instance_pool(u32::MAX));
    let wasm = wat::parse_str(SPIN).unwrap();
    let err = builder(&engine, &wasm).build().unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(XtismError::Engine(_))),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("instance pool of 4294967295 slots"),
        "{err}"
    );
}

#[test]
fn limits_hold_on_an_instance_pool() {
    let engine = Arc::new(WasmtimeEngine::with_instance_pool(4));
    let wasm = wat::parse_str(GROW).unwrap();
    let mut capped: Plugin = builder(&engine, &wasm).with_memory_max(3).build().unwrap();
    assert_eq!(grow(&mut capped, 2), 1);
    assert_eq!(grow(&mut capped, 1), 3);
    let err = capped
        .call::<Vec<u8>, &[u8]>("grow", vec![0u8; 1])
        .unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(XtismError::MemoryLimit(_))),
        "past the budget, the call fails: {err}"
    );
    let spin = wat::parse_str(SPIN).unwrap();
    let mut plugin: Plugin = builder(&engine, &spin)
        .with_timeout(Duration::from_millis(20))
        .build()
        .unwrap();
    let err = plugin.call::<&str, &[u8]>("spin", "").unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(XtismError::Timeout(20))),
        "{err}"
    );
    let _: &[u8] = plugin.call("run", "").unwrap();
}

/// A plug-in whose export `run` calls the host function `wait`.
const CALLS_WAIT: &str = r#"(module
  (import "extism:host/user" "wait" (func $wait))
  (memory (export "memory") 1)
  (func (export "run") (result i32) (call $wait) (i32.const 0)))"#;

/// Pending once (waking itself), then ready: a host future that suspends the call once.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = Result<Vec<xtism_core::Val>, xtism_core::Error>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if self.0 {
            return std::task::Poll::Ready(Ok(Vec::new()));
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Polls `future` with a waker that does nothing until it is ready.
fn poll_until_ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[test]
fn async_calls_run_on_an_instance_pool() {
    let engine = Arc::new(WasmtimeEngine::with_instance_pool(2));
    let wasm = wat::parse_str(CALLS_WAIT).unwrap();
    let wait = xtism_core::Function::new_async(
        "wait",
        [],
        [],
        xtism_core::UserData::new(()),
        |_, _, _| YieldOnce(false),
    );
    let compiled = CompiledPlugin::new(builder(&engine, &wasm).with_functions([wait])).unwrap();
    let mut live: Vec<Plugin> = (0..2)
        .map(|_| Plugin::new_from_compiled(&compiled).unwrap())
        .collect();
    for plugin in &mut live {
        for _ in 0..3 {
            let out: Vec<u8> = poll_until_ready(plugin.call_async("run", "")).unwrap();
            assert!(out.is_empty());
        }
    }
}

#[test]
fn a_trap_names_the_module_in_its_backtrace() {
    let engine = Arc::new(WasmtimeEngine::new());
    let wasm = wat::parse_str(
        r#"(module (func $inner unreachable) (func (export "run") (result i32) (call $inner) (i32.const 0)))"#,
    )
    .unwrap();
    let mut plugin: Plugin = builder(&engine, &wasm).build().unwrap();
    match plugin
        .call::<&str, &[u8]>("run", "")
        .map_err(XtismError::from)
    {
        Err(XtismError::Trap {
            message,
            backtrace: Some(bt),
        }) => {
            assert_eq!(message, "wasm `unreachable` instruction executed");
            let lines: Vec<&str> = bt.lines().collect();
            assert_eq!(lines.len(), 2, "{bt}");
            assert!(lines[0].contains("main!inner"), "{bt}");
        }
        other => panic!("expected a trap with a backtrace, got {other:?}"),
    }
}
