//! Limits: memory pages, fuel, timeouts, tables, cancellation, and host functions running at a deadline.

use super::prelude::*;

/// The root cause a memory limit reads as, the official runtime's.
fn assert_oom(err: &Error) {
    assert_eq!(err.root_cause().to_string(), "oom", "{err:?}");
}

/// `wasm` on `engine` under `memory.max_pages` = `pages`.
fn budgeted(engine: &'static str, wasm: &[u8], pages: u32) -> Plugin {
    builder(engine, wasm)
        .with_memory_max(pages)
        .build()
        .unwrap()
}

/// The WAT modules `lib` (named `lib`) and `main` as one plug-in on `engine` under
/// `memory.max_pages` = `pages`.
fn linked(engine: &'static str, lib: &str, main: &str, pages: u32) -> Plugin {
    let module = |wat| wat::parse_str(wat).unwrap();
    let manifest = Manifest::new([
        Wasm::data(module(lib)).with_name("lib"),
        Wasm::data(module(main)),
    ])
    .with_memory_max(pages);
    PluginBuilder::new(manifest)
        .with_engine(xtism::engine_named(engine).unwrap())
        .build()
        .unwrap()
}

#[case]
fn alloc_past_max_pages_fails_the_call(engine: &'static str) {
    // `memory.max_pages` is a budget of growth: the kernel memory (1 page) may grow by 2.
    let mut p = budgeted(engine, &kernel(), 2);
    let size = 1024u64.to_le_bytes();
    let err = expect_err(
        p.call("alloc_until_full", &size[..]),
        ErrorKind::MemoryLimit,
        "memory.max_pages (2 pages) has 0 pages left",
    );
    assert_oom(&err);
    still_works(&mut p);
    // Growth is not given back: the next call fills the grown memory and is refused at once.
    expect_err(
        p.call("alloc_until_full", &size[..]),
        ErrorKind::MemoryLimit,
        "cannot grow by 1 page: memory.max_pages (2 pages) has 0 pages left",
    );
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
    let ten_pages = wat::parse_str(format!("(module (memory 10) {run})")).unwrap();
    let mut p = budgeted(engine, &ten_pages, 2);
    let err = p.call::<&str, &[u8]>("run", "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "memory limit reached: the main module's memories start with 10 pages, more than memory.max_pages (2)"
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
fn memory_grow_past_max_pages_fails_the_call(engine: &'static str) {
    let grow = |p: &mut Plugin, pages: u64| call_facts(p, "grow", &pages.to_le_bytes());
    let mut p = budgeted(engine, &kernel(), 3);
    // The memory starts with 1 page, which the budget does not count.
    assert_eq!(grow(&mut p, 1), vec![1]);
    assert_eq!(grow(&mut p, 2), vec![2]);
    let err = expect_err(
        p.call("grow", &1u64.to_le_bytes()[..]),
        ErrorKind::MemoryLimit,
        "a linear memory cannot grow by 1 page: memory.max_pages (3 pages) has 0 pages left",
    );
    assert_oom(&err);
    still_works(&mut p);
    assert_eq!(grow(&mut p, 0), vec![4]);
    // A growth past the memory's own maximum (4 GiB) is -1, as Wasm says, and costs nothing.
    let mut q = budgeted(engine, &kernel(), 3);
    assert_eq!(grow(&mut q, 0x1_0000), vec![u64::MAX]);
    assert_eq!(grow(&mut q, 3), vec![1]);
    let mut r = new_plugin(engine, &kernel());
    assert_eq!(grow(&mut r, 10), vec![1]);
}

#[case]
fn max_pages_is_one_budget_for_every_memory(engine: &'static str) {
    let mut p = budgeted(engine, &kernel(), 4);
    assert_eq!(call_facts(&mut p, "grow", &3u64.to_le_bytes()), vec![1]);
    // The plug-in's memory took 3 pages of the 4: the kernel's cannot take 2 more.
    let err = expect_err(
        p.call("echo", &vec![7u8; 150 * 1024][..]),
        ErrorKind::MemoryLimit,
        "the input (153600 bytes) does not fit in kernel memory: a linear memory cannot grow \
         by 2 pages: memory.max_pages (4 pages) has 1 page left",
    );
    assert_oom(&err);
    still_works(&mut p);
}

#[case]
fn max_pages_counts_growth_not_the_memory_a_plugin_starts_with(engine: &'static str) {
    // The official runtime's `test_memory_max`: a plug-in whose memory starts with 17 pages
    // (a Rust plug-in's usual) builds under 16 pages but every call fails, and runs under
    // 17, where the kernel memory still grows by 2 pages for a 128 KiB input.
    let wasm = wat::parse_str(
        r#"(module
             (memory (export "memory") 17)
             (func (export "run") (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let input = "a".repeat(65_536 * 2);
    let mut p = budgeted(engine, &wasm, 16);
    for _ in 0..2 {
        let err = expect_err(
            p.call("run", input.as_str()),
            ErrorKind::MemoryLimit,
            "start with 17 pages",
        );
        assert_oom(&err);
    }
    // What a host changes between calls succeeds, as there, and changes nothing.
    p.reset().unwrap();
    p.update_config([("a", Some("b"))]).unwrap();
    expect_err(
        p.call("run", ""),
        ErrorKind::MemoryLimit,
        "start with 17 pages",
    );
    let mut p = budgeted(engine, &wasm, 17);
    p.call::<&str, &[u8]>("run", &input).unwrap();
    // Only the main module's memories count: a linked module's may start with more.
    let main = r#"(module
                    (import "lib" "f" (func))
                    (memory (export "memory") 1)
                    (func (export "run") (result i32) (i32.const 0)))"#;
    let lib = r#"(module (memory 5) (func (export "f")))"#;
    let mut p = linked(engine, lib, main, 1);
    p.call::<&str, &[u8]>("run", "").unwrap();
}

#[case]
fn a_refused_growth_stops_a_plugin_that_ignores_it(engine: &'static str) {
    // No timeout: the refusal alone must end the call, also where the engine's
    // `memory.grow` answers -1 (wasmer: the check after it traps).
    let wasm = wat::parse_str(
        r#"(module
             (memory (export "memory") 1)
             (func (export "run") (result i32)
               (loop $forever (drop (memory.grow (i32.const 1))) (br $forever))
               (i32.const 0)))"#,
    )
    .unwrap();
    let mut p = budgeted(engine, &wasm, 8);
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = p.call::<&str, &[u8]>("run", "").map(<[u8]>::to_vec);
        done.send(result).unwrap();
    });
    let result = ended
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the call still runs after 30 s: the refusal did not stop it");
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MemoryLimit, "{err}");
    assert_oom(&err);
}

#[case]
fn a_refused_growth_stops_the_plugin_at_once(engine: &'static str) {
    // Nothing after the refused `memory.grow` runs, on every engine: the global stays 0.
    let wasm = wat::parse_str(
        r#"(module
             (memory (export "memory") 1)
             (global $after (mut i32) (i32.const 0))
             (func (export "grow") (result i32)
               (drop (memory.grow (i32.const 5)))
               (global.set $after (i32.const 1))
               (i32.const 0))
             (func (export "after") (result i32) (global.get $after)))"#,
    )
    .unwrap();
    let mut p = budgeted(engine, &wasm, 4);
    let err = expect_err(
        p.call("grow", ""),
        ErrorKind::MemoryLimit,
        "cannot grow by 5 pages",
    );
    assert_oom(&err);
    p.call::<&str, &[u8]>("after", "").unwrap();
}

#[case]
fn a_refused_growth_fails_initialization(engine: &'static str) {
    // A start function runs at the first call, under the same budget.
    let wasm = wat::parse_str(
        r#"(module
             (memory (export "memory") 1)
             (func $start (drop (memory.grow (i32.const 5))))
             (start $start)
             (func (export "run") (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let mut p = budgeted(engine, &wasm, 4);
    for _ in 0..2 {
        let err = expect_err(
            p.call("run", ""),
            ErrorKind::MemoryLimit,
            "has 4 pages left",
        );
        assert_oom(&err);
    }
    let mut q = budgeted(engine, &wasm, 5);
    q.call::<&str, &[u8]>("run", "").unwrap();
}

#[case]
fn a_large_growth_is_charged_once(engine: &'static str) {
    // 1025 pages take more fuel than one of wasmi's slices holds: wasmi refuses the growth,
    // refuels and runs it again, which must not charge the budget twice.
    let mut p = budgeted(engine, &kernel(), 1500);
    let grow = |p: &mut Plugin, pages: u64| call_facts(p, "grow", &pages.to_le_bytes());
    assert_eq!(grow(&mut p, 1025), vec![1]);
    assert_eq!(grow(&mut p, 475), vec![1026]);
    expect_err(
        p.call("grow", &1u64.to_le_bytes()[..]),
        ErrorKind::MemoryLimit,
        "has 0 pages left",
    );
    // Exactly a slice's worth of fuel, with no budget and no fuel limit: the call goes on.
    let mut q = new_plugin(engine, &kernel());
    assert_eq!(grow(&mut q, 1024), vec![1]);
}

#[case]
fn an_imported_memory_grows_as_its_exporter_allows(engine: &'static str) {
    // The importing module declares no maximum; the memory's is its exporter's, 4 pages.
    let lib = r#"(module (memory (export "mem") 1 4))"#;
    let main = r#"(module
                    (import "lib" "mem" (memory 1))
                    (func (export "past_max") (result i32) (memory.grow (i32.const 10)))
                    (func (export "within_max") (result i32)
                      (drop (memory.grow (i32.const 3)))
                      (i32.const 0)))"#;
    let build = |pages| linked(engine, lib, main, pages);
    // Past the exporter's maximum: -1, the export's code.
    let (_, code) = build(100)
        .call_get_error_code::<&str, &[u8]>("past_max", "")
        .unwrap_err();
    assert_eq!(code, -1);
    // Within it, past the budget: the memory limit.
    let err = expect_err(
        build(2).call("within_max", ""),
        ErrorKind::MemoryLimit,
        "cannot grow by 3 pages",
    );
    assert_oom(&err);
}

#[case(needs = fuel)]
fn a_call_needs_the_fuel_of_its_parts_and_no_more(engine: &'static str) {
    // Work, then a growth that wasmi charges by the byte (half a fuel slice there): given
    // what the two cost apart, together they fit, however the slices fall.
    let wasm = wat::parse_str(
        r#"(module
             (memory (export "memory") 1)
             (func $work (local $i i32)
               (loop $l
                 (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br_if $l (i32.lt_u (local.get $i) (i32.const 200000)))))
             (func (export "work") (result i32) (call $work) (i32.const 0))
             (func (export "grow") (result i32) (drop (memory.grow (i32.const 512))) (i32.const 0))
             (func (export "both") (result i32)
               (call $work)
               (drop (memory.grow (i32.const 512)))
               (i32.const 0)))"#,
    )
    .unwrap();
    if !caps(engine).fuel {
        let built = builder(engine, &wasm).with_fuel_limit(1).build();
        return unsupported(built, "fuel limits");
    }
    let cost = |export: &str, fuel: u64| {
        let mut p = builder(engine, &wasm)
            .with_fuel_limit(fuel)
            .build()
            .unwrap();
        let result = p.call::<&str, &[u8]>(export, "").map(|_| ());
        (result, p.fuel_consumed().unwrap())
    };
    let (work, work_fuel) = cost("work", u64::MAX / 2);
    let (grow, grow_fuel) = cost("grow", u64::MAX / 2);
    work.unwrap();
    grow.unwrap();
    let (both, both_fuel) = cost("both", work_fuel + grow_fuel + 1_000);
    both.unwrap();
    assert!(
        both_fuel <= work_fuel + grow_fuel + 1_000,
        "{both_fuel} > {work_fuel} + {grow_fuel}"
    );
}

#[case]
fn a_large_function_runs_with_no_fuel_limit(engine: &'static str) {
    // About 200 KB of code in one function: an engine that translated it at its first call
    // and charged the call for it (wasmi, lazily) could not pay from one fuel slice.
    let body = "(local.set $x (i64.add (local.get $x) (i64.const 1234567)))\n".repeat(20_000);
    let wasm = wat::parse_str(format!(
        r#"(module
             (memory (export "memory") 1)
             (func $big (local $x i64) {body})
             (func (export "run") (result i32) (call $big) (i32.const 0)))"#
    ))
    .unwrap();
    let mut p = new_plugin(engine, &wasm);
    for _ in 0..2 {
        p.call::<&str, &[u8]>("run", "").unwrap();
    }
}

#[case]
fn every_instance_gets_the_whole_budget(engine: &'static str) {
    // `_start` is followed by a fresh instance, whose growth counts from nothing again.
    let wasm = wat::parse_str(
        r#"(module
             (memory (export "memory") 1)
             (func (export "_start") (drop (memory.grow (i32.const 2))))
             (func (export "grow") (result i32) (memory.grow (i32.const 3))))"#,
    )
    .unwrap();
    let mut p = budgeted(engine, &wasm, 2);
    for _ in 0..3 {
        p.call::<&str, &[u8]>("_start", "").unwrap();
    }
    let err = expect_err(
        p.call("grow", ""),
        ErrorKind::MemoryLimit,
        "memory.max_pages (2 pages) has 2 pages left",
    );
    assert_oom(&err);
}

#[case]
fn input_larger_than_memory_limit(engine: &'static str) {
    let mut p = budgeted(engine, &kernel(), 1);
    // The kernel memory's first page and 1 more hold 128 KiB.
    let big = vec![0u8; 200 * 1024];
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
