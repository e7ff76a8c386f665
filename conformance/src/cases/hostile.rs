//! The hostile corpus: plug-ins in `plugins/wat/hostile/` that misbehave on purpose. Each
//! case attacks its plug-in with one call, which must end in an error of the documented
//! kind (or the documented 0) within the plug-in's timeout; then an ordinary call on the same
//! plug-in must return the right answer. `xtism conformance --repeat N` repeats every attack
//! N times on one plug-in while watching the host's peak memory.
//!
//! Every hostile plug-in exports `echo`, which outputs its input: the ordinary call.

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
    /// An error of this kind whose message contains the text.
    Error(ErrorKind, &'static str),
    /// Success with this output (the documented 0s: a handle that names no block reads as
    /// length 0, for instance).
    Output(&'static [u8]),
}

/// No options beyond the timeout.
fn plain(b: PluginBuilder<'_>) -> PluginBuilder<'_> {
    b
}

/// Runs `attack` [`crate::repetitions`] times on one plug-in, each followed by an
/// ordinary call.
fn attack(engine: &'static str, attack: Attack) {
    let wasm = plugin(attack.wat);
    let mut p = (attack.configure)(builder(engine, &wasm).with_timeout(TIMEOUT))
        .build()
        .unwrap_or_else(|e| panic!("{}: {e}", attack.wat));
    for round in 0..crate::repetitions() {
        let started = Instant::now();
        let result = p.call::<&[u8], &[u8]>(attack.export, attack.input);
        let took = started.elapsed();
        assert!(
            took < HANG,
            "{} ran {took:?} past its timeout",
            attack.export
        );
        match (&attack.expect, result) {
            (Expect::Error(kind, needle), Err(e)) => {
                assert_eq!(e.kind(), *kind, "round {round}: {e}");
                assert!(
                    e.to_string().contains(needle),
                    "round {round}: {e:?} lacks {needle:?}"
                );
            }
            (Expect::Output(want), Ok(out)) => {
                assert_eq!(out, *want, "round {round}");
            }
            (_, other) => panic!("round {round}: {} ended with {other:?}", attack.export),
        }
        let echo: &[u8] = p
            .call("echo", "still here")
            .unwrap_or_else(|e| panic!("round {round}: the call after the attack failed: {e}"));
        assert_eq!(echo, b"still here", "round {round}");
    }
}

#[case]
fn hostile_infinite_loop(engine: &'static str) {
    attack(
        engine,
        Attack {
            wat: "wat/hostile/infinite_loop.wat",
            export: "attack",
            input: b"",
            expect: Expect::Error(ErrorKind::Timeout, "timeout"),
            configure: plain,
        },
    );
}
