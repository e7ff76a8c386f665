//! The hostile corpus: plug-ins in `plugins/wat/hostile/` that misbehave on purpose. Each
//! case attacks its plug-in with one call, which must end in an error of the documented
//! kind (or the documented 0) within the plug-in's timeout; then an ordinary call on the same
//! plug-in must return the right answer. `xtism conformance --repeat N` repeats every attack
//! N times on one plug-in while watching the host's peak memory.
//!
//! Every hostile plug-in exports `echo`, which outputs its input: the ordinary call. Each
//! expectation quotes where its outcome is documented.

use std::time::{Duration, Instant};

use super::prelude::*;

/// The timeout every hostile plug-in runs under.
const TIMEOUT: Duration = Duration::from_millis(250);

/// A call still running this long is a hang: the timeout plus the time an engine may take
/// to notice it on a loaded machine.
const HANG: Duration = Duration::from_secs(10);

/// One attack: which plug-in, which export with which input, and how it must end.
struct Attack {
    /// The plug-in, under `plugins/`.
    wat: &'static str,
    /// The export that attacks.
    export: &'static str,
    /// Its input.
    input: &'static [u8],
    /// How the call must end.
    expect: Expect,
    /// Options beyond the timeout (host functions, limits).
    configure: fn(PluginBuilder<'_>) -> PluginBuilder<'_>,
}

/// How an attack must end.
enum Expect {
    /// An error of this kind whose message contains every one of the texts.
    Error(ErrorKind, &'static [&'static str]),
    /// Success with this output (the documented 0s: a handle that names no block reads as
    /// length 0, for instance).
    Output(&'static [u8]),
    /// Success with this output read as little-endian u64s (the "facts" of `kernel.wat`).
    Facts(&'static [u64]),
}

/// No options beyond the timeout.
fn plain(b: PluginBuilder<'_>) -> PluginBuilder<'_> {
    b
}

/// Builds the attack's plug-in and runs [`assault`] on it.
fn attack(engine: &'static str, attack: Attack) {
    let wasm = plugin(attack.wat);
    let mut p = (attack.configure)(builder(engine, &wasm).with_timeout(TIMEOUT))
        .build()
        .unwrap_or_else(|e| panic!("{}: {e}", attack.wat));
    assault(&mut p, &attack);
}

/// Runs the attack [`crate::repetitions`] times on `p`, each followed by an ordinary call.
fn assault(p: &mut Plugin, attack: &Attack) {
    let name = format!("{} {}", attack.wat, attack.export);
    for round in 0..crate::repetitions() {
        let started = Instant::now();
        let result = p.call::<&[u8], &[u8]>(attack.export, attack.input);
        let took = started.elapsed();
        assert!(took < HANG, "{name} ran {took:?} past its timeout");
        match (&attack.expect, result) {
            (Expect::Error(kind, needles), Err(e)) => {
                assert_eq!(e.kind(), *kind, "{name}, round {round}: {e}");
                for needle in *needles {
                    assert!(
                        e.to_string().contains(needle),
                        "{name}, round {round}: {e:?} lacks {needle:?}"
                    );
                }
            }
            (Expect::Output(want), Ok(out)) => {
                assert_eq!(out, *want, "{name}, round {round}");
            }
            (Expect::Facts(want), Ok(out)) => {
                let facts: Vec<u64> = out
                    .chunks(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("facts are u64s")))
                    .collect();
                assert_eq!(facts, *want, "{name}, round {round}");
            }
            (_, other) => panic!("{name}, round {round}: ended with {other:?}"),
        }
        let echo: &[u8] = p.call("echo", "still here").unwrap_or_else(|e| {
            panic!("{name}, round {round}: the call after the attack failed: {e}")
        });
        assert_eq!(echo, b"still here", "{name}, round {round}");
    }
}

/// Runs every `(export, input, expect)` of `wat` as an attack, each on a fresh plug-in.
fn attacks(
    engine: &'static str,
    wat: &'static str,
    configure: fn(PluginBuilder<'_>) -> PluginBuilder<'_>,
    list: Vec<(&'static str, &'static [u8], Expect)>,
) {
    for (export, input, expect) in list {
        attack(
            engine,
            Attack {
                wat,
                export,
                input,
                expect,
                configure,
            },
        );
    }
}

/// A Guest error: "the guest handed the host something invalid (a bad handle, range or
/// string)" (`XtismError::Guest`).
fn guest(needles: &'static [&'static str]) -> Expect {
    Expect::Error(ErrorKind::Guest, needles)
}

/// A Trap whose message contains every one of the texts.
fn trap(needles: &'static [&'static str]) -> Expect {
    Expect::Error(ErrorKind::Trap, needles)
}

#[case]
fn hostile_infinite_loop(engine: &'static str) {
    attack(
        engine,
        Attack {
            wat: "wat/hostile/infinite_loop.wat",
            export: "attack",
            input: b"",
            // README, Limits: "the call stops with `Timeout`; the plug-in stays usable";
            // `XtismError::Timeout`: "the call timed out after {0} ms".
            expect: Expect::Error(ErrorKind::Timeout, &["timed out after 250 ms"]),
            configure: plain,
        },
    );
}

#[case]
fn hostile_lengths(engine: &'static str) {
    attack(
        engine,
        Attack {
            wat: "wat/hostile/lengths.wat",
            export: "attack",
            input: b"",
            // README, Differences: "`length(h)` is 0 for 0, for a freed block and for an
            // offset inside a block"; `kernel_blocks` facts 2-4, 11.
            expect: Expect::Facts(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 10]),
            configure: plain,
        },
    );
}

#[case]
fn hostile_double_free(engine: &'static str) {
    attack(
        engine,
        Attack {
            wat: "wat/hostile/double_free.wat",
            export: "attack",
            input: b"",
            // README, Differences: "`free` of those does nothing"; `Allocator::free`:
            // "Returns false (and changes nothing) when no block starts there".
            expect: Expect::Facts(&[1, 1, 111, 222, 16, 16, 1, 16]),
            configure: plain,
        },
    );
}

#[case]
fn hostile_loads_and_stores_out_of_bounds(engine: &'static str) {
    attack(
        engine,
        Attack {
            wat: "wat/hostile/loads_stores.wat",
            export: "attack",
            input: b"hostile",
            // README, Differences: "`load_*` and `input_load_*` out of bounds return 0 and
            // `store_*` out of bounds is ignored"; kernel.wat: "Bytes below 80 are the
            // header; guest stores there are ignored".
            expect: Expect::Facts(&[
                0xAB02_0304_0506_0708, // the last word of memory
                0xAB,                  // its last byte
                0xAB,                  // unchanged by a store straddling the end
                0,                     // loads straddling the end, past it, or wrapping
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                5, // unchanged by a store at 2^32 + its offset
                7, // the header: unchanged by stores
                1,
                1,
                7,  // and readable
                7,  // past any block: plain memory
                42, // a freed block: plain memory
                43,
            ]),
            configure: plain,
        },
    );
}

#[case]
fn hostile_fake_kernel_memory_export(engine: &'static str) {
    attack(
        engine,
        Attack {
            wat: "wat/hostile/fake_kernel_memory.wat",
            export: "attack",
            input: b"hostile",
            // core/src/merge.rs: "The plug-in's own code cannot name the kernel memory"; the
            // header "stays writable by the host alone". The fake header in the plug-in's
            // own memory changes nothing: the input is still 7 bytes, and echo still reads
            // the kernel's.
            expect: Expect::Facts(&[7]),
            configure: plain,
        },
    );
}

/// A plug-in that names a memory it does not have (the kernel memory's index once merged)
/// is refused, not merged into validity.
#[case]
fn hostile_kernel_memory_index(engine: &'static str) {
    let wasm = plugin("wat/hostile/kernel_memory_index.wat");
    let err = builder(engine, &wasm).build().unwrap_err();
    // core/src/merge.rs: "Only a valid module is merged".
    assert_eq!(err.kind(), ErrorKind::Compile, "{err}");
    assert!(err.to_string().contains("memory"), "{err}");
}

#[case]
fn hostile_input_load_past_the_input(engine: &'static str) {
    /// "23456789" as a little-endian u64.
    const DIGITS: u64 = u64::from_le_bytes(*b"23456789");
    attack(
        engine,
        Attack {
            wat: "wat/hostile/input_past_end.wat",
            export: "attack",
            input: b"0123456789",
            // README, Differences: "`input_load_*` out of bounds return 0"; kernel.wat:
            // "Input u64 at `off` when all 8 bytes lie inside the input, else 0"; state.rs:
            // "freeing the input block empties the input".
            expect: Expect::Facts(&[b'9' as u64, 0, 0, 0, 0, DIGITS, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            configure: plain,
        },
    );
}

#[case]
fn hostile_alloc_impossible_sizes(engine: &'static str) {
    attack(
        engine,
        Attack {
            wat: "wat/hostile/alloc_max.wat",
            export: "attack",
            input: b"",
            // `alloc_block`: "0 when `len` is 0 or the memory cannot grow that far (past 4 GiB";
            // `kernel_blocks` facts 14-15 (1 TiB and u64::MAX give 0).
            expect: Expect::Facts(&[0, 0, 0, 0, 0, 0, 0, 1, 8, 0]),
            configure: plain,
        },
    );
}

/// `memory.max_pages` of `alloc_exhaustion.wat`.
fn four_pages(b: PluginBuilder<'_>) -> PluginBuilder<'_> {
    b.with_memory_max(4)
}

/// What a growth past `memory.max_pages` fails the call with: `needles` name the limit.
fn budget_spent(needles: &'static [&'static str]) -> Expect {
    Expect::Error(ErrorKind::MemoryLimit, needles)
}

#[case]
fn hostile_alloc_until_exhausted(engine: &'static str) {
    // README, Limits: "`memory.max_pages` is one budget of growth ...; a growth past it
    // fails the call with `MemoryLimit`"; `alloc_block`: "0 when ... the memory cannot
    // grow that far (past 4 GiB ...)".
    attacks(
        engine,
        "wat/hostile/alloc_exhaustion.wat",
        four_pages,
        vec![
            (
                "attack",
                b"",
                budget_spent(&["memory.max_pages (4 pages) has"]),
            ),
            ("refill", b"", Expect::Facts(&[1, 0, 0, 1, 1])),
            (
                "too_big",
                b"",
                budget_spent(&["memory.max_pages (4 pages) has"]),
            ),
        ],
    );
}

#[case]
fn hostile_output_set_inside_memory(engine: &'static str) {
    // README, Differences: "`output_set` of a range outside kernel memory is a `Guest`
    // error"; inside it, `output_set` takes the range as it is (`output_set` in abi.rs
    // checks the range, not a block).
    attacks(
        engine,
        "wat/hostile/output_bounds.wat",
        plain,
        vec![
            ("past_block", b"", Expect::Output(&[b'x'; 300])),
            ("freed", b"", Expect::Output(b"freed!!!")),
            ("bogus_empty", b"", Expect::Output(b"")),
        ],
    );
}

#[case]
fn hostile_output_set_past_memory(engine: &'static str) {
    // README, Differences: "`output_set` of a range outside kernel memory is a `Guest`
    // error"; `bad_output` in `bogus_handles_are_guest_errors`.
    attacks(
        engine,
        "wat/hostile/output_bounds.wat",
        plain,
        vec![
            (
                "past_memory",
                b"",
                guest(&["output_set: 65536 bytes at", "lie outside kernel memory"]),
            ),
            (
                "huge_length",
                b"",
                guest(&[
                    "output_set: 18446744073709551615 bytes at",
                    "lie outside kernel memory",
                ]),
            ),
            (
                "wrapping",
                b"",
                guest(&["output_set: 2 bytes at 18446744073709551615 lie outside kernel memory"]),
            ),
        ],
    );
}

#[case]
fn hostile_error_set_bogus_handle(engine: &'static str) {
    // `call_outcome`: a non-zero code with an error handle that names no block is
    // "{name} returned exit code {code}; its error handle {handle} is not an allocated
    // block"; `error_with_bogus_handle`. A trap keeps its own message when the handle
    // names no message.
    let plugin_error = |needles| Expect::Error(ErrorKind::Plugin, needles);
    attacks(
        engine,
        "wat/hostile/error_set.wat",
        plain,
        vec![
            (
                "bogus",
                b"",
                plugin_error(&[
                    "bogus returned exit code 1",
                    "its error handle 999999 is not an allocated block",
                ]),
            ),
            (
                "freed",
                b"",
                plugin_error(&["freed returned exit code 2", "is not an allocated block"]),
            ),
            (
                "inside",
                b"",
                plugin_error(&["inside returned exit code 3", "is not an allocated block"]),
            ),
            (
                "max",
                b"",
                plugin_error(&[
                    "max returned exit code 4",
                    "its error handle 18446744073709551615 is not an allocated block",
                ]),
            ),
            ("bogus_trap", b"", trap(&["unreachable"])),
        ],
    );
}

#[case]
fn hostile_config_get_bad_handles(engine: &'static str) {
    // README, Differences: "A freed block or an offset inside a block handed to
    // `config_get`, `var_get`, `var_set`, `log_*` or `http_request` is a `Guest` error
    // naming the import"; `bad_handle`: "{import}: {offset} is not the start of an
    // allocated block".
    attacks(
        engine,
        "wat/hostile/config_get.wat",
        |b| b.with_config_key("greeting", "hello"),
        vec![
            (
                "bogus",
                b"",
                guest(&["config_get: 123456 is not the start of an allocated block"]),
            ),
            (
                "freed",
                b"",
                guest(&["config_get: ", "is not the start of an allocated block"]),
            ),
            (
                "inside",
                b"",
                guest(&["config_get: ", "is not the start of an allocated block"]),
            ),
            (
                "max",
                b"",
                guest(&["config_get: 18446744073709551615 is not the start of an allocated block"]),
            ),
        ],
    );
}

#[case]
fn hostile_var_get_bad_handles(engine: &'static str) {
    // README, Differences, as for config_get above.
    attacks(
        engine,
        "wat/hostile/var_get.wat",
        plain,
        vec![
            (
                "bogus",
                b"",
                guest(&["var_get: 123456 is not the start of an allocated block"]),
            ),
            (
                "freed",
                b"",
                guest(&["var_get: ", "is not the start of an allocated block"]),
            ),
            (
                "inside",
                b"",
                guest(&["var_get: ", "is not the start of an allocated block"]),
            ),
            (
                "max",
                b"",
                guest(&["var_get: 18446744073709551615 is not the start of an allocated block"]),
            ),
        ],
    );
}

#[case]
fn hostile_var_set_bad_handles(engine: &'static str) {
    // README, Differences, as for config_get above; `bad_var_value` in
    // `bogus_handles_are_guest_errors` ("var_set: 7").
    attacks(
        engine,
        "wat/hostile/var_set.wat",
        plain,
        vec![
            (
                "bogus_key",
                b"",
                guest(&["var_set: 123456 is not the start of an allocated block"]),
            ),
            (
                "freed_key",
                b"",
                guest(&["var_set: ", "is not the start of an allocated block"]),
            ),
            (
                "inside_key",
                b"",
                guest(&["var_set: ", "is not the start of an allocated block"]),
            ),
            (
                "max_key",
                b"",
                guest(&["var_set: 18446744073709551615 is not the start of an allocated block"]),
            ),
            (
                "bogus_value",
                b"",
                guest(&["var_set: 123456 is not the start of an allocated block"]),
            ),
            (
                "freed_value",
                b"",
                guest(&["var_set: ", "is not the start of an allocated block"]),
            ),
            (
                "inside_value",
                b"",
                guest(&["var_set: ", "is not the start of an allocated block"]),
            ),
            (
                "max_value",
                b"",
                guest(&["var_set: 18446744073709551615 is not the start of an allocated block"]),
            ),
        ],
    );
}

#[case]
fn hostile_keys_not_utf8(engine: &'static str) {
    // README: "Every guest-supplied handle, offset, length and string is checked: bad ones
    // give 0 or a clear `Guest` error"; `block_str`: "{import}: the block at {offset} is
    // not valid UTF-8"; `non_utf8_key` in `bogus_handles_are_guest_errors`.
    attacks(
        engine,
        "wat/hostile/non_utf8_keys.wat",
        |b| b.with_config_key("greeting", "hello"),
        vec![
            (
                "var_get",
                b"",
                guest(&["var_get: the block at", "is not valid UTF-8"]),
            ),
            (
                "var_set",
                b"",
                guest(&["var_set: the block at", "is not valid UTF-8"]),
            ),
            (
                "config_get",
                b"",
                guest(&["config_get: the block at", "is not valid UTF-8"]),
            ),
            (
                "var_set_overlong",
                b"",
                guest(&["var_set: the block at", "is not valid UTF-8"]),
            ),
        ],
    );
}

#[case]
fn hostile_log_bad_handles(engine: &'static str) {
    // README, Differences: a freed block handed to "`log_*` ... is a `Guest` error naming
    // the import"; `bad_log` in `bogus_handles_are_guest_errors`.
    attacks(
        engine,
        "wat/hostile/logs.wat",
        plain,
        vec![
            (
                "trace_bogus",
                b"",
                guest(&["log_trace: 123456 is not the start of an allocated block"]),
            ),
            (
                "trace_freed",
                b"",
                guest(&["log_trace: ", "is not the start of an allocated block"]),
            ),
            (
                "debug_bogus",
                b"",
                guest(&["log_debug: 123456 is not the start of an allocated block"]),
            ),
            (
                "debug_freed",
                b"",
                guest(&["log_debug: ", "is not the start of an allocated block"]),
            ),
            (
                "info_bogus",
                b"",
                guest(&["log_info: 123456 is not the start of an allocated block"]),
            ),
            (
                "info_freed",
                b"",
                guest(&["log_info: ", "is not the start of an allocated block"]),
            ),
            (
                "warn_bogus",
                b"",
                guest(&["log_warn: 123456 is not the start of an allocated block"]),
            ),
            (
                "warn_freed",
                b"",
                guest(&["log_warn: ", "is not the start of an allocated block"]),
            ),
            (
                "error_bogus",
                b"",
                guest(&["log_error: 123456 is not the start of an allocated block"]),
            ),
            (
                "error_freed",
                b"",
                guest(&["log_error: ", "is not the start of an allocated block"]),
            ),
        ],
    );
}

#[case]
fn hostile_http_request_bad_handles(engine: &'static str) {
    // README, Differences: a freed block handed to "`http_request` is a `Guest` error
    // naming the import"; README, HTTP differences: "a request JSON that does not parse,
    // or a bad body handle, is a `Guest` error".
    attacks(
        engine,
        "wat/hostile/http_request.wat",
        plain,
        vec![
            (
                "bogus_request",
                b"",
                guest(&["http_request: 123456 is not the start of an allocated block"]),
            ),
            (
                "freed_request",
                b"",
                guest(&["http_request: ", "is not the start of an allocated block"]),
            ),
            (
                "bogus_body",
                b"",
                guest(&["http_request (body): 123456 is not the start of an allocated block"]),
            ),
            (
                "freed_body",
                b"",
                guest(&[
                    "http_request (body): ",
                    "is not the start of an allocated block",
                ]),
            ),
            (
                "not_json",
                b"",
                guest(&["http_request: the request is not a JSON object"]),
            ),
        ],
    );
}

/// The var limit of `var_flood.wat`.
fn var_max(b: PluginBuilder<'_>) -> PluginBuilder<'_> {
    b.with_var_max(16384)
}

#[case]
fn hostile_var_flood(engine: &'static str) {
    // README, Limits: "`max_var_bytes`: total bytes of vars: each counts its key, its value
    // and 48 bytes"; `Vars::set`: "the variable store is full: setting var {key:?} would
    // hold {total} bytes, above max_var_bytes = {max_bytes}" (a MemoryLimit error);
    // `var_limit`.
    attacks(
        engine,
        "wat/hostile/var_flood.wat",
        var_max,
        vec![(
            "flood",
            b"",
            Expect::Error(
                ErrorKind::MemoryLimit,
                &[
                    "the variable store is full",
                    "would hold 16448 bytes, above max_var_bytes = 16384",
                ],
            ),
        )],
    );
}

/// The var limit of `var_copy_loop.wat`: room for its 4 MiB var.
fn eight_mib_of_vars(b: PluginBuilder<'_>) -> PluginBuilder<'_> {
    b.with_var_max(8 << 20)
}

#[case]
fn hostile_var_copy_loop(engine: &'static str) {
    // README, Limits: "the call stops with `Timeout`"; `unless_stopping` in abi.rs: kernel
    // imports that copy as many bytes as the guest asks stop a call past its deadline.
    attacks(
        engine,
        "wat/hostile/var_copy_loop.wat",
        eight_mib_of_vars,
        vec![(
            "attack",
            b"",
            Expect::Error(ErrorKind::Timeout, &["timed out after 250 ms"]),
        )],
    );
}

#[case]
fn hostile_var_larger_than_the_limit(engine: &'static str) {
    // As for the flood above.
    attacks(
        engine,
        "wat/hostile/var_flood.wat",
        var_max,
        vec![(
            "too_big",
            b"",
            Expect::Error(
                ErrorKind::MemoryLimit,
                &[
                    "setting var \"big\" would hold 16436 bytes",
                    "above max_var_bytes = 16384",
                ],
            ),
        )],
    );
}

#[case]
fn hostile_deep_recursion(engine: &'static str) {
    // Stack overflow is a Trap; backend-wasmtime's `trap_error`: the message is "the trap
    // alone, in the words of the spec tests ... so it reads the same on every engine".
    attacks(
        engine,
        "wat/hostile/deep_recursion.wat",
        plain,
        vec![
            ("attack", b"", trap(&["call stack exhausted"])),
            ("indirect", b"", trap(&["call stack exhausted"])),
            ("wide", b"", trap(&["call stack exhausted"])),
        ],
    );
}

#[case]
fn hostile_unreachable(engine: &'static str) {
    // `trap_carries_guest_message`: a Trap naming `unreachable`; README: "A plug-in stays
    // usable after any error".
    attacks(
        engine,
        "wat/hostile/unreachable.wat",
        plain,
        vec![
            ("attack", b"", trap(&["unreachable"])),
            ("deep", b"", trap(&["unreachable"])),
        ],
    );
}

#[case]
fn hostile_other_traps(engine: &'static str) {
    // As for deep recursion: the spec tests' wording on every engine.
    attacks(
        engine,
        "wat/hostile/traps.wat",
        plain,
        vec![
            ("out_of_bounds", b"", trap(&["out of bounds memory access"])),
            ("divide_by_zero", b"", trap(&["integer divide by zero"])),
            ("overflow", b"", trap(&["integer overflow"])),
            (
                "bad_conversion",
                b"",
                trap(&["invalid conversion to integer"]),
            ),
            ("null_entry", b"", trap(&["uninitialized element"])),
            ("wrong_type", b"", trap(&["indirect call type mismatch"])),
        ],
    );
}

/// `memory.max_pages` of `memory_bomb.wat`.
fn sixteen_pages(b: PluginBuilder<'_>) -> PluginBuilder<'_> {
    b.with_memory_max(16)
}

#[case]
fn hostile_memory_grow_bomb(engine: &'static str) {
    // README, Limits: "a growth past it fails the call with `MemoryLimit` ..., whatever the
    // plug-in does after it"; `memory_grow_past_max_pages_fails_the_call`.
    let spent = || budget_spent(&["memory.max_pages (16 pages) has"]);
    attacks(
        engine,
        "wat/hostile/memory_bomb.wat",
        sixteen_pages,
        vec![
            ("attack", b"", spent()),
            ("all_at_once", b"", spent()),
            ("ignore_refusal", b"", spent()),
            ("then_trap", b"", spent()),
            (
                "past_the_maximum",
                b"",
                Expect::Facts(&[u64::MAX, u64::MAX, 1]),
            ),
        ],
    );
}

#[case]
fn hostile_table_grow_bomb(engine: &'static str) {
    // README, Limits: "at most 2^20 elements per table"; `tables_are_bounded`: a growth
    // past the cap returns -1 and a later one within it works.
    attacks(
        engine,
        "wat/hostile/table_bomb.wat",
        plain,
        vec![
            (
                "attack",
                b"",
                Expect::Facts(&[1 << 20, u64::MAX, u64::MAX, u64::MAX, u64::MAX, 1, 1 << 20]),
            ),
            ("then_trap", b"", trap(&["unreachable"])),
        ],
    );
}

/// `describe(text) -> TEXT`: decodes its argument with `memory_get_val`.
fn describe() -> Function {
    Function::new(
        "describe",
        [PTR],
        [PTR],
        UserData::new(()),
        |plugin, inputs, outputs, _| {
            let text: String = plugin.memory_get_val(&inputs[0])?;
            plugin.memory_set_val(&mut outputs[0], text.to_uppercase())
        },
    )
}

/// `measure(text) -> chars`: `memory_length` of the offset, then `memory_str`.
fn measure() -> Function {
    Function::new(
        "measure",
        [PTR],
        [ValType::I64],
        UserData::new(()),
        |plugin, inputs, outputs, _| {
            let offset = inputs[0].unwrap_i64() as u64;
            let length = plugin.memory_length(offset)?;
            let text = plugin.memory_str(xtism::MemoryHandle { offset, length })?;
            outputs[0] = Val::I64(text.chars().count() as i64);
            Ok(())
        },
    )
}

/// The host functions of `host_wrong_handle.wat`; `shout` is the `host_fn!` of the
/// prelude, prefixing ">> ".
fn describe_measure_shout(b: PluginBuilder<'_>) -> PluginBuilder<'_> {
    let shout = Function::new(
        "shout",
        [PTR],
        [PTR],
        UserData::new(">> ".to_string()),
        shout,
    );
    b.with_functions([describe(), measure(), shout])
}

#[case]
fn hostile_host_function_wrong_handle(engine: &'static str) {
    // `CurrentPlugin::memory_get_val`: handle 0 is the empty block, another non-block is
    // "{val:?} is not a block handle"; `memory_length`: "{offset}
    // is not the start of an allocated block"; `memory_str`: "block is not UTF-8";
    // `__host_fn_arg`: "host_fn argument {index} ({val:?}) is not a block handle"; all
    // `XtismError::Guest`: "the guest handed the host something invalid (a bad handle, range or
    // string)". README, Differences: "handle 0 is the empty block everywhere a handle
    // names a block".
    attacks(
        engine,
        "wat/hostile/host_wrong_handle.wat",
        describe_measure_shout,
        vec![
            ("valid", b"shout", Expect::Output(b"SHOUT")),
            ("describe_zero", b"", Expect::Output(b"")),
            ("bogus", b"", guest(&["I64(123456) is not a block handle"])),
            ("freed", b"", guest(&["is not a block handle"])),
            ("inside", b"", guest(&["is not a block handle"])),
            (
                "measure_freed",
                b"",
                guest(&["is not the start of an allocated block"]),
            ),
            ("measure_not_utf8", b"", guest(&["block is not UTF-8"])),
            ("shout_empty", b"", Expect::Output(b">> ")),
            (
                "shout_bogus",
                b"",
                guest(&["host_fn argument 0 (I64(123456)) is not a block handle"]),
            ),
        ],
    );
}

#[case]
fn hostile_host_function_string_not_utf8(engine: &'static str) {
    // README: "Every guest-supplied handle, offset, length and string is checked: bad ones
    // give 0 or a clear `Guest` error"; `XtismError::Guest`: "the guest handed the host
    // something invalid (a bad handle, range or string)"; `memory_str` gives that error
    // for the same block (above).
    attacks(
        engine,
        "wat/hostile/host_wrong_handle.wat",
        describe_measure_shout,
        vec![("not_utf8", b"", guest(&["invalid utf-8"]))],
    );
}

#[case]
fn hostile_host_fn_macro_string_not_utf8(engine: &'static str) {
    // As above, for a `String` argument of a `host_fn!` function.
    attacks(
        engine,
        "wat/hostile/host_wrong_handle.wat",
        describe_measure_shout,
        vec![("shout_not_utf8", b"", guest(&["invalid utf-8"]))],
    );
}

/// How long `reenter` waits for an instance: well within the plug-in's timeout.
const REENTRY_WAIT: Duration = Duration::from_millis(50);

/// Runs `host_reentry.wat`'s attack on an instance of a pool of `max_instances` whose host
/// function `reenter` asks that same pool for an instance and calls `echo` on it.
fn reentry(engine: &'static str, max_instances: usize, input: &'static [u8], expect: Expect) {
    let slot: UserData<Option<Pool>> = UserData::new(None);
    let reenter = Function::new(
        "reenter",
        [PTR],
        [PTR],
        slot.clone(),
        |plugin, inputs, outputs, slot| {
            let input: String = plugin.memory_get_val(&inputs[0])?;
            let pool = slot.get()?.lock().unwrap().clone();
            let pool = pool.ok_or_else(|| Error::msg("no pool"))?;
            let Some(mut other) = pool.get(REENTRY_WAIT)? else {
                return Err(Error::msg(format!(
                    "no instance free after {REENTRY_WAIT:?}: the pool's only one runs this call"
                )));
            };
            let echoed: String = other.call("echo", input)?;
            plugin.memory_set_val(&mut outputs[0], echoed)
        },
    );
    let wasm = plugin("wat/hostile/host_reentry.wat");
    let compiled = CompiledPlugin::new(
        builder(engine, &wasm)
            .with_timeout(TIMEOUT)
            .with_functions([reenter]),
    )
    .unwrap();
    let pool = Pool::from_compiled(compiled, max_instances);
    *slot.get().unwrap().lock().unwrap() = Some(pool.clone());
    let mut p = pool.get(Duration::ZERO).unwrap().expect("an instance");
    assault(
        &mut p,
        &Attack {
            wat: "wat/hostile/host_reentry.wat",
            export: "attack",
            input,
            expect,
            configure: plain,
        },
    );
    drop(p);
    // The pool holds the function that holds the pool: break the cycle.
    slot.get().unwrap().lock().unwrap().take();
}

#[case]
fn hostile_host_function_reenters_its_plugin(engine: &'static str) {
    // README: `pool.get(timeout)` "waits for one to come back (`None` after `timeout`)";
    // "a host function's error is `XtismError::Host`"; and, for the C API, "a host function
    // calling back into the plug-in running it fails the call (libextism deadlocks)".
    reentry(
        engine,
        1,
        b"again",
        Expect::Error(
            ErrorKind::Host,
            &[
                "host function reenter failed",
                "no instance free after 50ms",
            ],
        ),
    );
}

#[case]
fn hostile_host_function_calls_another_instance(engine: &'static str) {
    // README: `pool.get` "makes a new one below the maximum"; a nested call on another
    // instance works like any call.
    reentry(engine, 2, b"nested", Expect::Output(b"nested"));
}

/// The host functions of `host_fails_midway.wat`.
fn failing_midway(b: PluginBuilder<'_>) -> PluginBuilder<'_> {
    let half_done = Function::new(
        "half_done",
        [PTR],
        [PTR],
        UserData::new(()),
        |plugin, inputs, outputs, _| {
            let text: String = plugin.memory_get_val(&inputs[0])?;
            plugin.memory_set_val(&mut outputs[0], text)?;
            plugin.memory_alloc(u64::MAX)?;
            Ok(())
        },
    );
    let wrong_type = Function::new(
        "wrong_type",
        [],
        [PTR],
        UserData::new(()),
        |_, _, outputs, _| {
            outputs[0] = Val::I32(1);
            Ok(())
        },
    );
    b.with_functions([half_done, wrong_type])
}

#[case]
fn hostile_host_function_fails_midway(engine: &'static str) {
    // `PluginState::fail`: "Records the error of a failing host call; the backend then
    // traps and core reports this error instead of the trap"; `memory_alloc`:
    // "[`XtismError::MemoryLimit`] when kernel memory has no room for it"; `Function::invoke`
    // reports a result of the wrong type as "returned a {} result where its signature
    // declares {ty}", a Host error naming the function.
    attacks(
        engine,
        "wat/hostile/host_fails_midway.wat",
        failing_midway,
        vec![
            (
                "attack",
                b"",
                Expect::Error(
                    ErrorKind::MemoryLimit,
                    &["no room for a block of 18446744073709551615 bytes in kernel memory"],
                ),
            ),
            (
                "wrong_type",
                b"",
                Expect::Error(
                    ErrorKind::Host,
                    &[
                        "host function wrong_type failed",
                        "returned a i32 result where its signature declares i64",
                    ],
                ),
            ),
        ],
    );
}
