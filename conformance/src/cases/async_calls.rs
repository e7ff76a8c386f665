//! Async calls (`Plugin::call_async`) and async host functions (`Function::new_async`,
//! `host_fn!(async ..)`): results, errors, limits, cancellation by dropping, and yielding
//! under a long loop. An engine without the `async_calls` capability refuses them, which
//! each case checks there instead (`runs_async`).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use xtism::AsyncCurrentPlugin;

use super::prelude::*;

/// `wat/async.wat` on `engine` with `fetch` as its `fetch` host function (and the corpus's
/// `shout`, sync), built by `configure`.
fn async_plugin(
    engine: &'static str,
    fetch: Function,
    configure: impl FnOnce(PluginBuilder) -> PluginBuilder,
) -> Plugin {
    configure(builder(engine, &plugin("wat/async.wat")).with_functions([fetch, sync_shout()]))
        .build()
        .unwrap()
}

/// The corpus's `shout`, with no prefix: a sync host function.
fn sync_shout() -> Function {
    Function::new("shout", [PTR], [PTR], UserData::new(String::new()), shout)
}

/// Runs `future` on a runtime of one thread, as an executor that a blocked call would stall.
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(future)
}

/// Whether `engine` runs async calls; if not, checks that it refuses them clearly.
fn runs_async(engine: &'static str) -> bool {
    if caps(engine).async_calls {
        return true;
    }
    let refused = builder(engine, &plugin("wat/async.wat"))
        .with_functions([fetch_after(Duration::ZERO), sync_shout()])
        .build();
    unsupported(refused, "async host functions");
    let mut p = new_plugin(engine, &plugin("c/echo.wasm"));
    unsupported(
        block_on(p.call_async::<&str, String>("echo", "x")),
        "async calls",
    );
    false
}

#[case(needs = async_calls)]
fn a_plugin_whose_memories_start_past_max_pages_fails_every_call(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    let wasm = wat::parse_str(
        r#"(module (memory (export "memory") 3) (func (export "run") (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let mut p = builder(engine, &wasm).with_memory_max(2).build().unwrap();
    let refused = |result: Result<String, Error>| {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MemoryLimit, "{err}");
        assert_eq!(err.root_cause().to_string(), "oom");
    };
    // A failed async initialization asks for a fresh instance; there is none to make.
    refused(block_on(p.call_async::<&str, String>("run", "")));
    refused(block_on(p.call_async::<&str, String>("run", "")));
    refused(p.call::<&str, String>("run", ""));
}

/// An async `fetch` that reads its input, sleeps `delay` on the executor's timer, and
/// answers `fetched <input>`.
fn fetch_after(delay: Duration) -> Function {
    Function::new_async(
        "fetch",
        [PTR],
        [PTR],
        UserData::new(delay),
        |plugin: AsyncCurrentPlugin, inputs: Vec<Val>, delay: UserData<Duration>| async move {
            let input: String = plugin.with(|p| p.memory_get_val(&inputs[0]))??;
            let delay = *delay.get()?.lock().unwrap();
            tokio::time::sleep(delay).await;
            let handle = plugin.with(|p| p.memory_new(format!("fetched {input}")))??;
            Ok(vec![plugin.with(|p| p.memory_to_val(handle))?])
        },
    )
}

host_fn!(async fetch_by_macro(prefix: String; input: String) -> String {
    tokio::time::sleep(Duration::from_millis(1)).await;
    let prefix = prefix.get()?.lock().unwrap().clone();
    Ok(format!("{prefix}{input}"))
});

/// An async `fetch` whose future never completes.
fn fetch_never() -> Function {
    Function::new_async("fetch", [PTR], [PTR], UserData::new(()), |_, _, _| {
        std::future::pending()
    })
}

#[case(needs = async_calls)]
fn async_host_functions_answer_the_guest(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    let mut p = async_plugin(engine, fetch_after(Duration::from_millis(2)), |b| b);
    block_on(async {
        let out: String = p.call_async("fetch", "a page").await.unwrap();
        assert_eq!(out, "fetched a page");
        // A sync host function after an async one, in the same call.
        let out: String = p.call_async("fetch_shout", "twice").await.unwrap();
        assert_eq!(out, "FETCHED TWICE");
        // A call that reaches no host function, with the same conversions as `call`.
        let out: Vec<u8> = p.call_async("echo", b"bytes".as_slice()).await.unwrap();
        assert_eq!(out, b"bytes");
        let missing = p.call_async::<&str, String>("nope", "").await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::FunctionNotFound, "{missing}");
    });
    // The `host_fn!` form.
    let by_macro = Function::new_async(
        "fetch",
        [PTR],
        [PTR],
        UserData::new("macro: ".to_string()),
        fetch_by_macro,
    );
    let mut p = async_plugin(engine, by_macro, |b| b);
    let out: String = block_on(p.call_async("fetch_shout", "hi")).unwrap();
    assert_eq!(out, "MACRO: HI");
}

#[case(needs = async_calls)]
fn a_plugin_with_async_host_functions_is_called_async(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    let mut p = async_plugin(engine, fetch_after(Duration::ZERO), |b| b);
    let err = p.call::<&str, String>("echo", "sync").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    assert_eq!(
        err.to_string(),
        "the plug-in imports the async host function \"fetch\": call it with `call_async`"
    );
    let out: String = block_on(p.call_async("fetch", "then async")).unwrap();
    assert_eq!(out, "fetched then async");
    // A plug-in without async host functions is called either way.
    let mut sync = new_plugin(engine, &plugin("c/echo.wasm"));
    let out: String = block_on(sync.call_async("echo", "async")).unwrap();
    assert_eq!(out, "async");
    let out: String = sync.call("echo", "sync").unwrap();
    assert_eq!(out, "sync");
}

#[case(needs = async_calls)]
fn the_first_async_call_initializes_the_guest(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    // Initializers run once, before the first call: here through the async call.
    let mut p = new_plugin(engine, &plugin("wat/init.wat"));
    block_on(async {
        for calls in 1..=2 {
            let out: Vec<u8> = p.call_async("status", "").await.unwrap();
            assert_eq!(super::facts(&out), [100, calls]);
        }
    });
    // A linked WASI reactor's `_initialize`, and WASI calls (sync host functions) on its
    // own memory.
    #[cfg(feature = "wasi")]
    {
        let stdout = xtism::OutputCapture::new();
        let manifest = Manifest::new([
            Wasm::data(plugin("c/wasi_lib.wasm")).with_name("wasi_lib"),
            Wasm::data(plugin("wat/uses_wasi_lib.wat")),
        ]);
        let mut p = PluginBuilder::new(manifest)
            .with_engine(xtism::engine_named(engine).unwrap())
            .with_wasi(true)
            .with_wasi_stdout(xtism::WasiOutput::Capture(stdout.clone()))
            .build()
            .unwrap();
        block_on(async {
            for _ in 0..2 {
                let out: String = p.call_async("run", "").await.unwrap();
                assert_eq!(out, "wrote=12 ctors=1");
            }
        });
        assert_eq!(stdout.contents(), b"lib says hi\nlib says hi\n");
    }
}

#[case(needs = async_calls)]
fn async_host_function_errors_fail_the_call(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    let failing = Function::new_async("fetch", [PTR], [PTR], UserData::new(()), |_, _, _| async {
        tokio::task::yield_now().await;
        Err::<Vec<Val>, Error>(Error::msg("the database is down"))
    });
    let mut p = async_plugin(engine, failing, |b| b);
    let err = block_on(p.call_async::<&str, String>("fetch", "x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Host, "{err}");
    assert_eq!(err.root_cause().to_string(), "the database is down");
    assert!(err.to_string().contains("fetch"), "{err}");
    let out: String = block_on(p.call_async("echo", "after an error")).unwrap();
    assert_eq!(out, "after an error");

    let panicking =
        Function::new_async("fetch", [PTR], [PTR], UserData::new(()), |_, _, _| async {
            tokio::task::yield_now().await;
            if true {
                panic!("the host future broke");
            }
            Ok(Vec::new())
        });
    let mut p = async_plugin(engine, panicking, |b| b);
    let err = block_on(p.call_async::<&str, String>("fetch", "x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Host, "{err}");
    assert_eq!(
        err.root_cause().to_string(),
        "panicked: the host future broke"
    );
    let out: String = block_on(p.call_async("echo", "after a panic")).unwrap();
    assert_eq!(out, "after a panic");

    // Results that do not match the signature.
    let wrong = Function::new_async("fetch", [PTR], [PTR], UserData::new(()), |_, _, _| async {
        Ok(vec![Val::I32(1), Val::I32(2)])
    });
    let mut p = async_plugin(engine, wrong, |b| b);
    let err = block_on(p.call_async::<&str, String>("fetch", "x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Host, "{err}");
    assert_eq!(
        err.root_cause().to_string(),
        "returned 2 results where its signature declares 1"
    );

    // A trap once the host function has returned.
    let mut p = async_plugin(engine, fetch_after(Duration::from_millis(1)), |b| b);
    let err = block_on(p.call_async::<&str, String>("fetch_then_trap", "x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Trap, "{err}");
    let out: String = block_on(p.call_async("fetch", "after a trap")).unwrap();
    assert_eq!(out, "fetched after a trap");
}

#[case(needs = async_calls)]
fn a_panic_before_the_future_fails_the_call(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    // The callback panics before it gives its future.
    let panicking = Function::new_async("fetch", [PTR], [PTR], UserData::new(()), |_, _, _| {
        if true {
            panic!("no future today");
        }
        async { Ok(Vec::new()) }
    });
    let mut p = async_plugin(engine, panicking, |b| b);
    let err = block_on(p.call_async::<&str, String>("fetch", "x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Host, "{err}");
    assert_eq!(err.root_cause().to_string(), "panicked: no future today");
    let out: String = block_on(p.call_async("echo", "after a panic")).unwrap();
    assert_eq!(out, "after a panic");
}

#[case(needs = async_calls)]
fn an_async_host_function_not_imported_leaves_sync_calls(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    // `c/echo.wasm` imports no host function: the async one given is not linked.
    let mut p = builder(engine, &plugin("c/echo.wasm"))
        .with_functions([fetch_after(Duration::ZERO)])
        .build()
        .unwrap();
    let out: String = p.call("echo", "sync").unwrap();
    assert_eq!(out, "sync");
}

/// A start function that calls `fetch` (async) once, and an export `g` that outputs how
/// many times the start function ran.
const START_THEN_FETCH: &str = r#"
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/user" "fetch" (func $fetch (param i64) (result i64)))
  (global $runs (mut i64) (i64.const 0))
  (func $start
    (global.set $runs (i64.add (global.get $runs) (i64.const 1)))
    (drop (call $fetch (i64.const 0))))
  (start $start)
  (func (export "g") (result i32)
    (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (global.get $runs))
    (call $output_set (local.get $h) (i64.const 8))
    (i32.const 0)))
"#;

#[case(needs = async_calls)]
fn a_call_dropped_while_initializing_gets_a_fresh_instance(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    // The first `fetch` waits long, the others not at all.
    let first = Arc::new(AtomicUsize::new(0));
    let fetch = Function::new_async(
        "fetch",
        [PTR],
        [PTR],
        UserData::new(first),
        |_, _, first: UserData<Arc<AtomicUsize>>| async move {
            let first = Arc::clone(&*first.get()?.lock().unwrap());
            if first.fetch_add(1, Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Ok(vec![Val::I64(0)])
        },
    );
    let mut p = builder(engine, START_THEN_FETCH.as_bytes())
        .with_functions([fetch])
        .build()
        .unwrap();
    block_on(async {
        // Dropped inside the start function.
        let dropped = tokio::time::timeout(
            Duration::from_millis(20),
            p.call_async::<&str, Vec<u8>>("g", ""),
        )
        .await;
        assert!(
            dropped.is_err(),
            "the first call waits in the start function"
        );
        // A fresh instance runs the start function once.
        let out: Vec<u8> = p.call_async("g", "").await.unwrap();
        assert_eq!(super::facts(&out), [1]);
    });
}

#[case(needs = async_calls)]
fn the_plugin_is_reached_only_from_its_host_calls_polls(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    // The future hands its plug-in to another task, which cannot reach it: the answer is
    // that task's error, as text.
    let elsewhere = Function::new_async(
        "fetch",
        [PTR],
        [PTR],
        UserData::new(()),
        |plugin: AsyncCurrentPlugin, _, _| async move {
            let other = tokio::spawn(async move { plugin.with(|p| p.id()).map(|_| ()) });
            let message = match other.await.unwrap() {
                Ok(()) => "reached".to_string(),
                Err(e) => e.to_string(),
            };
            let handle = plugin.with(|p| p.memory_new(message))??;
            Ok(vec![plugin.with(|p| p.memory_to_val(handle))?])
        },
    );
    let mut p = async_plugin(engine, elsewhere, |b| b);
    let out: String = block_on(p.call_async("fetch", "x")).unwrap();
    assert!(
        out.starts_with("the plug-in is reachable only from its async host function's future"),
        "{out}"
    );
}

#[case(needs = async_calls)]
fn async_calls_keep_their_timeout(engine: &'static str) {
    if !runs_async(engine) || !caps(engine).timeout {
        return;
    }
    let timeout = Duration::from_millis(200);
    let mut p = async_plugin(engine, fetch_never(), |b| b.with_timeout(timeout));
    block_on(async {
        // A host future that never completes ends at the deadline, and is dropped.
        let err = p
            .call_async::<&str, String>("fetch", "x")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        // A guest loop too.
        let err = p.call_async::<&str, String>("spin", "").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        let out: String = p.call_async("echo", "on time").await.unwrap();
        assert_eq!(out, "on time");
    });
}

#[case(needs = async_calls)]
fn async_calls_keep_their_fuel_limit(engine: &'static str) {
    if !runs_async(engine) || !caps(engine).fuel {
        return;
    }
    let mut p = async_plugin(engine, fetch_after(Duration::ZERO), |b| {
        b.with_fuel_limit(1_000_000)
    });
    block_on(async {
        let err = p.call_async::<&str, String>("spin", "").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::OutOfFuel, "{err}");
        let out: String = p.call_async("fetch", "fueled").await.unwrap();
        assert_eq!(out, "fetched fueled");
        assert!(p.fuel_consumed().is_some_and(|used| used > 0));
        let missing = p.call_async::<&str, String>("nope", "").await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::FunctionNotFound, "{missing}");
        assert_eq!(p.fuel_consumed(), Some(0));
    });
}

#[case(needs = async_calls)]
fn a_cancel_reaches_an_async_call(engine: &'static str) {
    if !runs_async(engine) || !caps(engine).cancel {
        return;
    }
    let mut p = async_plugin(engine, fetch_never(), |b| {
        b.with_timeout(Duration::from_secs(30))
    });
    let handle = p.cancel_handle();
    block_on(async {
        // Waiting on the host future, then looping in the guest.
        for name in ["fetch", "spin"] {
            let canceller = async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                handle.cancel().unwrap();
            };
            let (result, ()) = tokio::join!(p.call_async::<&str, String>(name, "x"), canceller);
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Cancelled, "{name}: {err}");
        }
        let out: String = p.call_async("echo", "not cancelled").await.unwrap();
        assert_eq!(out, "not cancelled");
    });
}

#[case(needs = async_calls)]
fn dropping_an_async_call_leaves_the_plugin_usable(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&dropped);
    // The host future notes that it was dropped before it completed.
    let fetch = Function::new_async(
        "fetch",
        [PTR],
        [PTR],
        UserData::new(counter),
        |_, _, counter: UserData<Arc<AtomicUsize>>| async move {
            let counter = Arc::clone(&*counter.get()?.lock().unwrap());
            let _note = DropNote(counter);
            std::future::pending::<()>().await;
            Ok(Vec::new())
        },
    );
    let mut p = async_plugin(engine, fetch, |b| b.with_timeout(Duration::from_secs(30)));
    block_on(async {
        for name in ["fetch", "spin"] {
            let call = p.call_async::<&str, String>(name, "x");
            let gone = tokio::time::timeout(Duration::from_millis(50), call).await;
            assert!(gone.is_err(), "{name} ended before it was dropped");
        }
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "the host future was dropped"
        );
        let out: String = p.call_async("echo", "after a drop").await.unwrap();
        assert_eq!(out, "after a drop");
    });
}

/// Counts its drop.
struct DropNote(Arc<AtomicUsize>);

impl Drop for DropNote {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[case(needs = async_calls)]
fn a_guest_in_a_loop_yields_to_other_tasks(engine: &'static str) {
    if !runs_async(engine) || !caps(engine).cancel {
        return;
    }
    // On a runtime of one thread, another task can run only if the looping guest yields:
    // that task cancels it. Without yields the call would run to its timeout instead.
    let mut p = async_plugin(engine, fetch_after(Duration::ZERO), |b| {
        b.with_timeout(Duration::from_secs(20))
            .with_async_yield_interval(Duration::from_millis(1))
    });
    let handle = p.cancel_handle();
    let err = block_on(async {
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            handle.cancel().unwrap();
        });
        let err = p.call_async::<&str, String>("spin", "").await.unwrap_err();
        canceller.await.unwrap();
        err
    });
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
}

#[case(needs = async_calls)]
fn a_pool_lends_to_tasks_without_blocking(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    // Ten tasks share two instances on one thread: a task waiting for an instance, or in
    // its host function, leaves the thread to the others.
    let compiled = builder(engine, &plugin("wat/async.wat"))
        .with_functions([fetch_after(Duration::from_millis(5)), sync_shout()])
        .compile()
        .unwrap();
    let pool: Pool = Pool::from_compiled(compiled, 2);
    let outputs = block_on(async {
        let calls: Vec<_> = (0..10)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut lent = pool.get_async(Duration::from_secs(30)).await?.unwrap();
                    lent.call_async::<String, String>("fetch", format!("page {i}"))
                        .await
                })
            })
            .collect();
        let mut outputs = Vec::new();
        for call in calls {
            outputs.push(call.await.unwrap());
        }
        outputs
    });
    for (i, out) in outputs.into_iter().enumerate() {
        assert_eq!(out.unwrap(), format!("fetched page {i}"));
    }
    assert_eq!(pool.count(), 2);
    // None free within the timeout: `None`, as `get`.
    block_on(async {
        let _a = pool.get_async(Duration::ZERO).await.unwrap().unwrap();
        let _b = pool.get_async(Duration::ZERO).await.unwrap().unwrap();
        assert!(
            pool.get_async(Duration::from_millis(20))
                .await
                .unwrap()
                .is_none()
        );
    });
}

#[case(needs = async_calls)]
fn a_thousand_async_calls_wait_together(engine: &'static str) {
    if !runs_async(engine) {
        return;
    }
    const CALLS: usize = 1000;
    // Each host call waits at a barrier of all the calls: they can only pass it together,
    // which a thread per call could not do on two threads. A timeout ends the test if they
    // do not.
    let waiting = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(tokio::sync::Barrier::new(CALLS));
    let state = (Arc::clone(&waiting), Arc::clone(&most), barrier);
    let fetch = Function::new_async(
        "fetch",
        [PTR],
        [PTR],
        UserData::new(state),
        |plugin: AsyncCurrentPlugin, _, state: UserData<_>| async move {
            let (waiting, most, barrier): (
                Arc<AtomicUsize>,
                Arc<AtomicUsize>,
                Arc<tokio::sync::Barrier>,
            ) = state.get()?.lock().unwrap().clone();
            let now = waiting.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            barrier.wait().await;
            waiting.fetch_sub(1, Ordering::SeqCst);
            let handle = plugin.with(|p| p.memory_new("passed"))??;
            Ok(vec![plugin.with(|p| p.memory_to_val(handle))?])
        },
    );
    let compiled = builder(engine, &plugin("wat/async.wat"))
        .with_functions([fetch, sync_shout()])
        .with_timeout(Duration::from_secs(120))
        .compile()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let outputs = runtime.block_on(async {
        let calls: Vec<_> = (0..CALLS)
            .map(|_| {
                let mut p = Plugin::new_from_compiled(&compiled).unwrap();
                tokio::spawn(async move { p.call_async::<&str, String>("fetch", "").await })
            })
            .collect();
        let mut outputs = Vec::with_capacity(CALLS);
        for call in calls {
            outputs.push(call.await.unwrap());
        }
        outputs
    });
    for out in outputs {
        assert_eq!(out.unwrap(), "passed");
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        CALLS,
        "calls waiting in the host at once"
    );
    assert_eq!(waiting.load(Ordering::SeqCst), 0);
}
