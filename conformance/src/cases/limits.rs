//! Limits: memory pages, fuel, timeouts, tables, cancellation, and host functions running at a deadline.

use super::prelude::*;

#[case]
fn alloc_stops_at_max_pages(engine: &'static str) {
    let mut p = builder(engine, &kernel())
        .with_memory_max(2)
        .build()
        .unwrap();
    let f = call_facts(&mut p, "alloc_until_full", &1024u64.to_le_bytes());
    // Two pages hold 128 KiB, less the header, the input and the facts block.
    assert!((100..128).contains(&f[0]), "{f:?}");
    // With a higher limit, the kernel memory grows past two pages.
    let mut q = builder(engine, &kernel())
        .with_memory_max(16)
        .build()
        .unwrap();
    let g = call_facts(&mut q, "alloc_until_full", &1024u64.to_le_bytes());
    assert!((900..1024).contains(&g[0]), "{g:?}");
    still_works(&mut p);
}

#[case]
fn limit_refusals_read_the_same_on_every_engine(engine: &'static str) {
    // Core words every refusal; an engine's own words around it would make the same plug-in
    // fail differently per engine.
    let refusal = |wat: &str, pages: u32| {
        let wasm = wat::parse_str(wat).unwrap();
        let err = builder(engine, &wasm)
            .with_memory_max(pages)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MemoryLimit, "{err}");
        err.to_string()
    };
    let run = r#"(func (export "run") (result i32) (i32.const 0))"#;
    assert_eq!(
        refusal(&format!("(module (memory 10) {run})"), 2),
        "memory limit reached: a linear memory of 10 pages is above the limit of 2 pages"
    );
    let seventeen = "(memory 1) ".repeat(17);
    assert_eq!(
        refusal(&format!("(module {seventeen} {run})"), 2),
        "memory limit reached: the plug-in needs 18 linear memories; the limit is 16"
    );
    let table =
        r#"(module (table 2000000 funcref) (func (export "run") (result i32) (i32.const 0)))"#;
    assert_eq!(
        refusal(table, 2),
        "memory limit reached: a table of 2000000 elements is above the limit of 1048576 elements"
    );
}

#[case]
fn memory_grow_respects_max_pages(engine: &'static str) {
    let mut p = builder(engine, &kernel())
        .with_memory_max(3)
        .build()
        .unwrap();
    assert_eq!(call_facts(&mut p, "grow", &1u64.to_le_bytes()), vec![1]);
    assert_eq!(call_facts(&mut p, "grow", &1u64.to_le_bytes()), vec![2]);
    assert_eq!(
        call_facts(&mut p, "grow", &1u64.to_le_bytes()),
        vec![u64::MAX]
    );
    let mut q = new_plugin(engine, &kernel());
    assert_eq!(call_facts(&mut q, "grow", &10u64.to_le_bytes()), vec![1]);
}

#[case]
fn input_larger_than_memory_limit(engine: &'static str) {
    let mut p = builder(engine, &kernel())
        .with_memory_max(1)
        .build()
        .unwrap();
    let big = vec![0u8; 100 * 1024];
    expect_err(p.call("echo", &big), ErrorKind::MemoryLimit, "does not fit");
    still_works(&mut p);
}

#[case(needs = fuel)]
fn fuel_limit(engine: &'static str) {
    if !caps(engine).fuel {
        let built = builder(engine, &kernel()).with_fuel_limit(100_000).build();
        return unsupported(built, "fuel limits");
    }
    let mut p = builder(engine, &kernel())
        .with_fuel_limit(100_000)
        .build()
        .unwrap();
    expect_err(p.call("spin", ""), ErrorKind::OutOfFuel, "fuel");
    still_works(&mut p);
    let used = p.fuel_consumed().expect("fuel is reported");
    // As in the official runtime, running out of fuel comes with code -1.
    let (_, code) = p
        .call_get_error_code::<&str, &[u8]>("spin", "")
        .unwrap_err();
    assert_eq!(code, -1);
    assert!(used > 0 && used < 100_000, "{used}");
    // A call that fails before its export runs used no fuel, whatever the last one used.
    expect_err(p.call("nope", ""), ErrorKind::FunctionNotFound, "nope");
    assert_eq!(p.fuel_consumed(), Some(0));
    // The budget is per call: a long call does not eat into the next one.
    for _ in 0..3 {
        still_works(&mut p);
    }
    // Start functions (every AssemblyScript plug-in has one) run before the first call on a
    // budget of their own, here as large as a call's.
    let wasm = plugin("as/count_vowels.wasm");
    let mut p = builder(engine, &wasm)
        .with_fuel_limit(10_000_000)
        .build()
        .unwrap();
    let out: String = p.call("count_vowels", "Hello, World!").unwrap();
    assert_eq!(out, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
}

/// A start function and `_initialize` that each burn the same loop as the export `burn`.
const TWO_INITIALIZERS: &str = r#"(module
  (func $burn (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 20000)))))
  (start $burn)
  (func (export "_initialize") (call $burn))
  (func (export "burn") (result i32) (call $burn) (i32.const 0))
  (func (export "run") (result i32) (i32.const 0)))"#;

#[case(needs = fuel)]
fn initialization_fuel_is_one_budget(engine: &'static str) {
    if !caps(engine).fuel {
        return;
    }
    // As in the official runtime, an initialization budget needs a call budget.
    let err = builder(engine, TWO_INITIALIZERS.as_bytes())
        .with_initialization_fuel_limit(1_000)
        .compile()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "an initialization fuel limit requires a call fuel limit"
    );
    // What one run of the loop costs on this engine, measured as a call.
    let mut p = builder(engine, TWO_INITIALIZERS.as_bytes())
        .with_fuel_limit(10_000_000)
        .build()
        .unwrap();
    let _: &[u8] = p.call("burn", "").unwrap();
    let one = p.fuel_consumed().expect("fuel is reported");
    assert!(one > 20_000, "{one}");
    // Two initializers of that cost: a budget for one and a half fails the first call
    // (the second initializer gets what the first left), one for two and a half does not.
    let with_budget = |budget: u64| {
        builder(engine, TWO_INITIALIZERS.as_bytes())
            .with_fuel_limit(10_000_000)
            .with_initialization_fuel_limit(budget)
            .build()
            .unwrap()
    };
    let mut short = with_budget(one * 3 / 2);
    expect_err(short.call("run", ""), ErrorKind::OutOfFuel, "fuel");
    let mut enough = with_budget(one * 5 / 2);
    let _: &[u8] = enough.call("run", "").unwrap();
    // Without one, initialization gets the call's budget.
    let mut small_calls = builder(engine, TWO_INITIALIZERS.as_bytes())
        .with_fuel_limit(one / 2)
        .build()
        .unwrap();
    expect_err(small_calls.call("run", ""), ErrorKind::OutOfFuel, "fuel");
}

#[case(needs = timeout)]
fn a_timeout_past_the_clock_is_no_deadline(engine: &'static str) {
    let built = builder(engine, &kernel())
        .with_timeout(std::time::Duration::MAX)
        .build();
    if !caps(engine).timeout {
        return unsupported(built, "timeouts");
    }
    let mut p = built.unwrap();
    still_works(&mut p);
}

#[case(needs = timeout)]
fn timeout_stops_infinite_loop(engine: &'static str) {
    if !caps(engine).timeout {
        let built = builder(engine, &kernel())
            .with_timeout(std::time::Duration::from_millis(100))
            .build();
        return unsupported(built, "timeouts");
    }
    let mut p = builder(engine, &kernel())
        .with_timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    for _ in 0..2 {
        let start = std::time::Instant::now();
        let err = expect_err(p.call("spin", ""), ErrorKind::Timeout, "100 ms");
        // A generous bound: the point is that the loop is stopped, not how fast.
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{err} after {:?}",
            start.elapsed()
        );
        still_works(&mut p);
        // The official runtime's code for a timeout: the trap's 134.
        let (err, code) = p
            .call_get_error_code::<&str, &[u8]>("spin", "")
            .unwrap_err();
        assert_eq!(
            (err.root_cause().to_string(), code),
            ("timeout".into(), 134)
        );
    }
}

#[case]
fn manifest_timeout_with_fuel(engine: &'static str) {
    let manifest =
        Manifest::new([Wasm::data(kernel())]).with_timeout(std::time::Duration::from_secs(30));
    let mut p = PluginBuilder::new(manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .with_fuel_limit(5_000_000)
        .build()
        .unwrap();
    // The fuel budget runs out long before the deadline, across several slices.
    expect_err(p.call("spin", ""), ErrorKind::OutOfFuel, "fuel");
    assert_eq!(p.fuel_consumed(), Some(5_000_000));
    still_works(&mut p);
}

#[case]
fn tables_are_bounded(engine: &'static str) {
    let err = builder(engine, &plugin("wat/table_bomb.wat"))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MemoryLimit, "{err}");
    let mut p = new_plugin(engine, &plugin("wat/tables.wat"));
    assert_eq!(call_facts(&mut p, "grow", &5u64.to_le_bytes()), vec![10]);
    let huge = 0x7fff_ffffu64.to_le_bytes();
    assert_eq!(call_facts(&mut p, "grow", &huge), vec![u64::MAX]);
    assert_eq!(call_facts(&mut p, "grow", &1u64.to_le_bytes()), vec![15]);
}

#[case(needs = cancel)]
fn cancel_from_another_thread(engine: &'static str) {
    use std::sync::atomic::{AtomicBool, Ordering};
    if !caps(engine).cancel {
        return unsupported(
            new_plugin(engine, &kernel()).cancel_handle().cancel(),
            "cancelling",
        );
    }
    // The timeout only keeps a broken cancel from hanging the suite.
    let mut p = builder(engine, &kernel())
        .with_timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let handle = p.cancel_handle();
    // A cancel while nothing runs does not touch the next call.
    handle.cancel().unwrap();
    still_works(&mut p);
    for _ in 0..2 {
        let done = Arc::new(AtomicBool::new(false));
        let canceller = {
            let (handle, done) = (handle.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::Acquire) {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    handle.cancel().unwrap();
                }
            })
        };
        expect_err(p.call("spin", ""), ErrorKind::Cancelled, "cancelled");
        done.store(true, Ordering::Release);
        canceller.join().unwrap();
        still_works(&mut p);
    }
    assert_eq!(handle.id, p.id);
    drop(p);
    // A handle outlives its plug-in; a cancel then does nothing.
    handle.cancel().unwrap();
}

#[case]
fn memory_bomb(engine: &'static str) {
    // A plug-in that grows its memory and allocates kernel blocks until refused stops at
    // max_pages in both memories, and the next call works.
    let mut p = builder(engine, &kernel())
        .with_memory_max(64)
        .build()
        .unwrap();
    let f = call_facts(&mut p, "bomb", b"");
    assert_eq!(f[0], 63, "plug-in memory grew from 1 to 64 pages, then -1");
    assert!(
        (50..64).contains(&f[1]),
        "64 KiB kernel blocks until alloc returned 0: {f:?}"
    );
    still_works(&mut p);
}

#[case]
fn host_functions_are_not_interrupted(engine: &'static str) {
    let finished = UserData::new(false);
    let wait = Function::new("wait", [], [], finished.clone(), |_, _, _, finished| {
        std::thread::sleep(std::time::Duration::from_millis(300));
        *finished.get()?.lock().unwrap() = true;
        Ok(())
    });
    let mut p = builder(engine, &plugin("wat/host_then_spin.wat"))
        .with_functions([wait])
        .with_timeout(std::time::Duration::from_millis(50))
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    expect_err(p.call("run", ""), ErrorKind::Timeout, "50 ms");
    assert!(start.elapsed() >= std::time::Duration::from_millis(300));
    assert!(
        *finished.get().unwrap().lock().unwrap(),
        "the host function ran to its end"
    );
}
