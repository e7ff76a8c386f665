//! A plug-in's life: start functions and initializers, reinstantiation of commands, compiled plug-ins, resets and pools.

use std::time::Duration;

use xtism::PoolBuilder;

use super::prelude::*;

#[case]
fn reactor_initializer_runs_once(engine: &'static str) {
    // `__wasm_call_ctors` (adds 100) is preferred to `_initialize` (adds 1).
    let mut p = new_plugin(engine, &plugin("wat/init.wat"));
    assert_eq!(call_facts(&mut p, "status", b""), vec![100, 1]);
    assert_eq!(call_facts(&mut p, "status", b""), vec![100, 2]);
}

#[case]
fn haskell_initializers(engine: &'static str) {
    // A Haskell reactor: `_initialize` then `hs_init`, each once.
    let mut p = new_plugin(engine, &plugin("wat/hs_init.wat"));
    assert_eq!(call_facts(&mut p, "status", b""), vec![1, 1]);
    assert_eq!(call_facts(&mut p, "status", b""), vec![1, 1]);
}

#[case]
fn command_is_reinstantiated(engine: &'static str) {
    let mut p = new_plugin(engine, &plugin("wat/command.wat"));
    for total in 1..=3 {
        assert_eq!(call_facts(&mut p, "_start", b""), vec![1, total]);
    }
}

/// The instance that follows `_start` has a new kernel memory, and its initializer gets
/// blocks inside it (see `wat/start_then_init.wat`).
#[case]
fn kernel_is_fresh_after_reinstantiation(engine: &'static str) {
    let mut p = new_plugin(engine, &plugin("wat/start_then_init.wat"));
    for _ in 0..2 {
        let _: &[u8] = p.call("_start", "").unwrap();
        let _: &[u8] = p.call("ok", "").unwrap();
    }
}

#[case]
fn compiled_plugin_many_instances(engine: &'static str) {
    let wasm = plugin("as/count_vowels.wasm");
    let compiled = CompiledPlugin::new(builder(engine, &wasm)).unwrap();
    assert!(compiled.function_exists("count_vowels"));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let compiled = compiled.clone();
            std::thread::spawn(move || {
                let mut p = Plugin::new_from_compiled(&compiled).unwrap();
                let mut last = String::new();
                for _ in 0..=i {
                    last = p.call("count_vowels", "aeiou").unwrap();
                }
                last
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let total = 5 * (i + 1);
        assert_eq!(
            t.join().unwrap(),
            format!(r#"{{"count":5,"total":{total},"vowels":"aeiouAEIOU"}}"#)
        );
    }
}

#[case]
fn plugin_reset_and_ids(engine: &'static str) {
    let mut p = new_plugin(engine, &kernel());
    let q = new_plugin(engine, &kernel());
    assert_ne!(p.id, q.id);
    still_works(&mut p);
    p.reset().unwrap();
    still_works(&mut p);
}

#[case]
fn start_function_runs_once_at_the_first_call(engine: &'static str) {
    let mut p = new_plugin(engine, &plugin("wat/start.wat"));
    assert!(
        !p.function_exists("__xtism_start"),
        "the deferred start is not an export"
    );
    expect_err(
        p.call("__xtism_start", ""),
        ErrorKind::FunctionNotFound,
        "__xtism_start",
    );
    assert_eq!(call_facts(&mut p, "status", b""), vec![1]);
    assert_eq!(call_facts(&mut p, "status", b""), vec![1]);
}

/// The first call of a plug-in whose guest code never returns before the export (a start
/// function, an initializer) stops at its timeout, again and again, and at its fuel budget.
/// Loading it runs no guest code, so it cannot hang.
fn assert_first_call_is_bounded(engine: &'static str, wasm: &[u8]) {
    let mut p = builder(engine, wasm)
        .with_timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    for _ in 0..2 {
        expect_err(p.call("run", ""), ErrorKind::Timeout, "100 ms");
    }
    let mut p = builder(engine, wasm)
        .with_fuel_limit(50_000)
        .build()
        .unwrap();
    expect_err(p.call("run", ""), ErrorKind::OutOfFuel, "fuel");
}

#[case]
fn start_function_is_bounded(engine: &'static str) {
    assert_first_call_is_bounded(engine, &plugin("wat/start_loop.wat"));
}

#[case]
fn start_function_host_error_is_reported(engine: &'static str) {
    let mut p = new_plugin(engine, &plugin("wat/start_bad_handle.wat"));
    expect_err(p.call("run", ""), ErrorKind::Guest, "config_get: 12345");
}

#[case]
fn initializer_is_bounded(engine: &'static str) {
    assert_first_call_is_bounded(engine, &plugin("wat/init_loop.wat"));
}

#[case]
fn initializer_of_the_wrong_type_is_skipped(engine: &'static str) {
    let mut p = new_plugin(engine, &plugin("wat/init_bad_type.wat"));
    for _ in 0..2 {
        let out: &[u8] = p.call("run", "").unwrap();
        assert!(out.is_empty());
    }
}

#[case]
fn pool_under_eight_threads(engine: &'static str) {
    let wasm = plugin("as/count_vowels.wasm");
    let pool = Pool::from_compiled(CompiledPlugin::new(builder(engine, &wasm)).unwrap(), 3);
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (pool, calls) = (pool.clone(), Arc::clone(&calls));
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let mut p = pool
                        .get(Duration::from_secs(60))
                        .unwrap()
                        .expect("an instance within a minute");
                    let Json(out): Json<serde_json::Value> = p.call("count_vowels", "aei").unwrap();
                    assert_eq!(out["count"], 3);
                    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 40);
    assert!(pool.count() <= 3, "{}", pool.count());
    // Every instance kept its own running total: together they counted all 40 calls.
    let mut total = 0;
    let held: Vec<_> = (0..pool.count())
        .map(|_| pool.get(Duration::ZERO).unwrap().unwrap())
        .collect();
    for mut p in held {
        let Json(out): Json<serde_json::Value> = p.call("count_vowels", "").unwrap();
        total += out["total"].as_u64().unwrap();
    }
    assert_eq!(total, 40 * 3);
    // A full pool makes a caller wait, then gives up.
    let small = Pool::from_compiled(CompiledPlugin::new(builder(engine, &wasm)).unwrap(), 1);
    let _held = small.get(Duration::ZERO).unwrap().unwrap();
    assert!(small.get(Duration::from_millis(50)).unwrap().is_none());
    assert!(
        small
            .with_plugin(Duration::ZERO, |_| Ok(()))
            .unwrap()
            .is_none()
    );
}

/// The official crate's pool test, ported by the `use` line: threads share a pool whose
/// instances come from a source closure, every call succeeds and the pool never makes more
/// than its maximum.
#[case]
fn pool_shared_by_ten_threads(engine: &'static str) {
    for max in 1..=3 {
        let wasm = plugin("as/count_vowels.wasm");
        let pool = PoolBuilder::new()
            .with_max_instances(max)
            .build(move || builder(engine, &wasm).build());
        let threads: Vec<_> = (0..10)
            .map(|i| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(i % 3 * 5));
                    let out: String = pool
                        .get(Duration::from_secs(60))
                        .unwrap()
                        .expect("an instance within a minute")
                        .call("count_vowels", "abc")
                        .unwrap();
                    assert!(out.contains(r#""count":1"#), "{out}");
                    assert!(pool.count() <= max, "{} > {max}", pool.count());
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!((1..=max).contains(&pool.count()), "{}", pool.count());
    }
}

/// `function_exists` answers from an instance and caches the answer, as the official pool
/// does; a pool made `from_compiled` answers without making one.
#[case]
fn pool_function_exists(engine: &'static str) {
    let wasm = plugin("as/count_vowels.wasm");
    // As the official test: a source that builds from a manifest.
    let manifest = Manifest::new([Wasm::data(wasm.clone())]);
    let pool = PoolBuilder::new().with_max_instances(1).build(move || {
        PluginBuilder::new(&manifest)
            .with_engine(xtism::engine_named(engine)?)
            .build()
    });
    let timeout = Duration::from_secs(1);
    assert!(pool.function_exists("count_vowels", timeout).unwrap());
    assert!(!pool.function_exists("not_existing", timeout).unwrap());
    assert_eq!(pool.count(), 1);
    // Cached: answered while the only instance is lent out.
    let held = pool.get(Duration::ZERO).unwrap().unwrap();
    assert!(
        pool.function_exists("count_vowels", Duration::ZERO)
            .unwrap()
    );
    assert!(
        !pool
            .function_exists("not_existing", Duration::ZERO)
            .unwrap()
    );
    // Not yet asked, and no instance in time: `false`, as the official pool says.
    assert!(!pool.function_exists("_start", Duration::ZERO).unwrap());
    drop(held);

    let compiled = Pool::from_compiled(CompiledPlugin::new(builder(engine, &wasm)).unwrap(), 1);
    assert!(
        compiled
            .function_exists("count_vowels", Duration::ZERO)
            .unwrap()
    );
    assert!(
        !compiled
            .function_exists("not_existing", Duration::ZERO)
            .unwrap()
    );
    assert_eq!(compiled.count(), 0);
}

/// A source that fails is the caller's error and leaves the pool as it was; the next `get`
/// tries the source again.
#[case]
fn pool_source_failure(engine: &'static str) {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let failing = Arc::clone(&fail);
    let pool = Pool::new_from_builder(
        move || {
            let kernel = kernel();
            let wasm: &[u8] = if failing.load(std::sync::atomic::Ordering::SeqCst) {
                b"not wasm"
            } else {
                &kernel
            };
            builder(engine, wasm).build()
        },
        PoolBuilder::new().with_max_instances(1),
    );
    assert!(pool.get(Duration::ZERO).is_err());
    assert!(pool.function_exists("echo", Duration::ZERO).is_err());
    assert_eq!(pool.count(), 0);
    fail.store(false, std::sync::atomic::Ordering::SeqCst);
    let echoed = pool
        .with_plugin(Duration::ZERO, |p| p.call::<_, String>("echo", "back"))
        .unwrap();
    assert_eq!(echoed.as_deref(), Some("back"));
    assert_eq!(pool.count(), 1);
}

/// An instance lent by a pool keeps working after every handle to the pool is gone, and is
/// then dropped instead of returned.
#[case]
fn pool_plugin_outlives_its_pool(engine: &'static str) {
    let pool = Pool::from_compiled(CompiledPlugin::new(builder(engine, &kernel())).unwrap(), 2);
    let mut p = pool.get(Duration::ZERO).unwrap().unwrap();
    let id = p.id();
    assert_eq!(id, p.id);
    assert!(format!("{p:?}").contains(&id.to_string()));
    drop(pool);
    still_works(&mut p);
    let out: String = p.call("echo", "owned").unwrap();
    assert_eq!(out, "owned");
}

/// `Pool::get(Duration::MAX)` waits for an instance for as long as it takes (the deadline
/// does not fit the clock, which once panicked).
#[case]
fn pool_get_without_a_deadline(engine: &'static str) {
    let pool = Pool::from_compiled(CompiledPlugin::new(builder(engine, &kernel())).unwrap(), 1);
    let held = pool.get(Duration::MAX).unwrap().unwrap();
    let giver = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
    });
    let mut p = pool.get(Duration::MAX).unwrap().unwrap();
    giver.join().unwrap();
    still_works(&mut p);
}
