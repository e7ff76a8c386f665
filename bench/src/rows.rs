//! The rows of the comparison: what each one measures, on which plug-in, with which input.
//!
//! Row ids are the names used everywhere: criterion's groups, the `xtism bench` table and
//! chart, the README.

use std::sync::Arc;

use crate::inputs::{self, MIB};
use crate::plugins;

/// What a row times. Every time is per operation, in the units the caller chooses (the
/// command prints microseconds).
#[derive(Debug, Clone)]
pub enum Measure {
    /// Compile and instantiate the plug-in from its bytes, with no compile cache (cold).
    Create,
    /// The same with the runtime's compile cache warm: on xtism's JIT engines a cache
    /// directory of the benchmark's own, filled before the timing; on wasmi (which keeps no
    /// cache) the same as [`Measure::Create`]; on the official runtime its default cache.
    CreateCached,
    /// Instantiate from a compiled plug-in (`Plugin::new_from_compiled`); up to 1000
    /// instances live at a time, dropped outside the timing.
    Instantiate,
    /// Call `function` with `input` on an instance that has been called before.
    Call {
        /// The export.
        function: String,
        /// The input bytes.
        input: Arc<[u8]>,
        /// What the output must be (checked once, before the timing).
        expect: Expect,
        /// `Plugin::call` or `Plugin::call_async` (the check before the timing calls the
        /// same way).
        mode: CallMode,
    },
}

/// How a [`Measure::Call`] calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallMode {
    /// `Plugin::call`.
    Sync,
    /// `Plugin::call_async`, its future driven to completion on the calling thread by a
    /// loop that polls it with a no-op waker until it is ready (a pending poll, the call
    /// yielding, is polled again at once). This times xtism's async machinery (wasmtime's
    /// fiber, wasmi's resumable call) and no executor's scheduling. Runtimes without async
    /// calls (wasmer, the official crate) refuse such a row
    /// ([`BenchError::is_unsupported`](crate::BenchError::is_unsupported)).
    Async,
}

/// What a call must output, checked once before it is timed so that every runtime is
/// seen doing the same work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Any output.
    Anything,
    /// The input, byte for byte (`echo`, `reflect`).
    Input,
    /// No output (`consume`).
    Nothing,
    /// `count_vowels`' JSON, starting with the input's count of `aeiouAEIOU`
    /// (`{"count":N,`; the running total that follows varies).
    VowelCount,
}

impl Expect {
    /// Whether `output` is what this expects of a call with `input`.
    pub fn accepts(self, input: &[u8], output: &[u8]) -> bool {
        match self {
            Expect::Anything => true,
            Expect::Input => output == input,
            Expect::Nothing => output.is_empty(),
            Expect::VowelCount => {
                let prefix = format!("{{\"count\":{},", inputs::vowels(input));
                output.starts_with(prefix.as_bytes())
            }
        }
    }
}

/// The host functions a row's plug-in imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostFunctions {
    /// None.
    None,
    /// `extism:host/user` `host_reflect : (i64) -> i64`, which reads the block it is
    /// given and returns a new block with the same bytes (one copy out, one copy in, as
    /// the official benchmark's `host_fn!` does).
    Reflect,
}

/// One measure of the comparison.
#[derive(Debug, Clone)]
pub struct Row {
    /// The row's id (`create`, `echo_16b`, ...).
    pub id: String,
    /// What it measures, in a few words.
    pub about: String,
    /// Where the plug-in comes from (a corpus path, or the user's file).
    pub plugin: String,
    /// The plug-in's bytes.
    pub wasm: Arc<[u8]>,
    /// What is timed.
    pub measure: Measure,
    /// The host functions the plug-in imports.
    pub host: HostFunctions,
    /// Whether the plug-in gets WASI.
    pub wasi: bool,
}

impl Row {
    /// A row on `plugin` (named `name`) without host functions or WASI.
    fn new(id: &str, about: &str, name: &str, wasm: &Arc<[u8]>, measure: Measure) -> Row {
        Row {
            id: id.to_owned(),
            about: about.to_owned(),
            plugin: name.to_owned(),
            wasm: Arc::clone(wasm),
            measure,
            host: HostFunctions::None,
            wasi: false,
        }
    }

    /// The row cut down for a quick check (criterion's test mode under `cargo test`, in a
    /// debug build): a call on at most the first KiB of its input, and `create` of the
    /// small count-vowels plug-in instead of a 2 MB one. Same plug-ins, functions and
    /// checks; the times mean nothing.
    pub fn scaled_down(self) -> Row {
        let wasm = if self.wasm.len() > 100_000 {
            plugins::COUNT_VOWELS.into()
        } else {
            self.wasm
        };
        let measure = match self.measure {
            Measure::Call {
                function,
                input,
                expect,
                mode,
            } => Measure::Call {
                function,
                input: input[..input.len().min(1024)].into(),
                expect,
                mode,
            },
            measure => measure,
        };
        Row {
            wasm,
            measure,
            ..self
        }
    }

    /// Whether the row calls with `Plugin::call_async` ([`CallMode::Async`]).
    pub fn calls_async(&self) -> bool {
        matches!(
            self.measure,
            Measure::Call {
                mode: CallMode::Async,
                ..
            }
        )
    }

    /// This row with the plug-in's host functions.
    fn with_host(self, host: HostFunctions) -> Row {
        Row { host, ..self }
    }
}

/// A call of `function` with `input` that must output `expect`.
fn call(function: &str, input: Vec<u8>, expect: Expect) -> Measure {
    Measure::Call {
        function: function.to_owned(),
        input: input.into(),
        expect,
        mode: CallMode::Sync,
    }
}

/// The same call made with `Plugin::call_async` ([`CallMode::Async`]).
fn call_async(function: &str, input: Vec<u8>, expect: Expect) -> Measure {
    Measure::Call {
        function: function.to_owned(),
        input: input.into(),
        expect,
        mode: CallMode::Async,
    }
}

/// The rows of the comparison, in the order of the issue's table:
///
/// | id | plug-in | measures |
/// |---|---|---|
/// | `create` | `as/count_vowels.wasm` | compile + instantiate from bytes, cache cold |
/// | `create_cached` | `as/count_vowels.wasm` | the same with the compile cache warm |
/// | `create_2mb` | `large.wasm` (2 MB) | the same for a 2 MB module |
/// | `instantiate` | `as/count_vowels.wasm` | a plug-in from a compiled plug-in |
/// | `count_vowels_13b` | `as/count_vowels.wasm` | `count_vowels("Hello, World!")` |
/// | `echo_16b` | `c/echo.wasm` | `echo` of 16 bytes |
/// | `echo_16b_async` | `c/echo.wasm` | the same with `call_async`, polled to completion (not on wasmer or the official crate) |
/// | `consume_1mib` | `c/consume.wasm` | reading 1 MiB of input, no output |
/// | `echo_1mib` | `c/echo.wasm` | `echo` of 1 MiB |
/// | `reflect_64kib` | `c/reflect.wasm` | 64 KiB to a host function and back out |
/// | `count_vowels_1mib` | `as/count_vowels.wasm` | counting vowels in 1 MiB of text (compute) |
pub fn standard_rows() -> Vec<Row> {
    let count_vowels: Arc<[u8]> = plugins::COUNT_VOWELS.into();
    let echo: Arc<[u8]> = plugins::ECHO.into();
    let consume: Arc<[u8]> = plugins::CONSUME.into();
    let reflect: Arc<[u8]> = plugins::REFLECT.into();
    let large: Arc<[u8]> = plugins::LARGE.into();
    const CV: &str = "as/count_vowels.wasm";

    vec![
        Row::new(
            "create",
            "compile + instantiate from bytes, no cache",
            CV,
            &count_vowels,
            Measure::Create,
        ),
        Row::new(
            "create_cached",
            "compile + instantiate from bytes, compile cache warm",
            CV,
            &count_vowels,
            Measure::CreateCached,
        ),
        Row::new(
            "create_2mb",
            "compile + instantiate a 2 MB plug-in, no cache",
            "large.wasm",
            &large,
            Measure::Create,
        ),
        Row::new(
            "instantiate",
            "instantiate from a compiled plug-in",
            CV,
            &count_vowels,
            Measure::Instantiate,
        ),
        Row::new(
            "count_vowels_13b",
            "count_vowels of \"Hello, World!\"",
            CV,
            &count_vowels,
            call(
                "count_vowels",
                b"Hello, World!".to_vec(),
                Expect::VowelCount,
            ),
        ),
        Row::new(
            "echo_16b",
            "echo of 16 bytes",
            "c/echo.wasm",
            &echo,
            call("echo", inputs::bytes(16), Expect::Input),
        ),
        Row::new(
            "echo_16b_async",
            "echo of 16 bytes with call_async, polled to completion",
            "c/echo.wasm",
            &echo,
            call_async("echo", inputs::bytes(16), Expect::Input),
        ),
        Row::new(
            "consume_1mib",
            "read 1 MiB of input, output nothing",
            "c/consume.wasm",
            &consume,
            call("consume", inputs::bytes(MIB), Expect::Nothing),
        ),
        Row::new(
            "echo_1mib",
            "echo of 1 MiB",
            "c/echo.wasm",
            &echo,
            call("echo", inputs::bytes(MIB), Expect::Input),
        ),
        Row::new(
            "reflect_64kib",
            "64 KiB through a host function and out",
            "c/reflect.wasm",
            &reflect,
            call("reflect", inputs::bytes(64 * 1024), Expect::Input),
        )
        .with_host(HostFunctions::Reflect),
        Row::new(
            "count_vowels_1mib",
            "count_vowels of 1 MiB of text (compute)",
            CV,
            &count_vowels,
            call("count_vowels", inputs::text(MIB), Expect::VowelCount),
        ),
    ]
}

/// The rows of a user's plug-in `name` (bytes `wasm`): `create`, `instantiate` and `call`
/// (of `function` with `input`, any output), with WASI when `wasi`.
pub fn plugin_rows(
    name: &str,
    wasm: Vec<u8>,
    function: &str,
    input: Vec<u8>,
    wasi: bool,
) -> Vec<Row> {
    let wasm: Arc<[u8]> = wasm.into();
    let call_about = format!("{function} with {} bytes of input", input.len());
    [
        Row::new(
            "create",
            "compile + instantiate from bytes, no cache",
            name,
            &wasm,
            Measure::Create,
        ),
        Row::new(
            "instantiate",
            "instantiate from a compiled plug-in",
            name,
            &wasm,
            Measure::Instantiate,
        ),
        Row::new(
            "call",
            &call_about,
            name,
            &wasm,
            call(function, input, Expect::Anything),
        ),
    ]
    .into_iter()
    .map(|row| Row { wasi, ..row })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_rows_have_the_issue_ids_in_order() {
        let ids: Vec<String> = standard_rows().into_iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [
                "create",
                "create_cached",
                "create_2mb",
                "instantiate",
                "count_vowels_13b",
                "echo_16b",
                "echo_16b_async",
                "consume_1mib",
                "echo_1mib",
                "reflect_64kib",
                "count_vowels_1mib"
            ]
        );
    }

    #[test]
    fn only_echo_16b_async_calls_async() {
        let rows = standard_rows();
        let asynchronous: Vec<&str> = rows
            .iter()
            .filter(|r| r.calls_async())
            .map(|r| r.id.as_str())
            .collect();
        assert_eq!(asynchronous, ["echo_16b_async"]);
    }

    #[test]
    fn the_large_plugin_is_about_2_mb() {
        assert!((1_900_000..2_300_000).contains(&plugins::LARGE.len()));
    }

    #[test]
    fn expectations() {
        let vowels = Expect::VowelCount;
        assert!(vowels.accepts(b"Hello, World!", b"{\"count\":3,\"total\":3}"));
        assert!(!vowels.accepts(b"Hello", b"{\"count\":3,"));
        assert!(Expect::Input.accepts(b"ab", b"ab"));
        assert!(!Expect::Input.accepts(b"ab", b"abc"));
        assert!(Expect::Nothing.accepts(b"ab", b""));
        assert!(Expect::Anything.accepts(b"", b"x"));
    }

    #[test]
    fn scaled_down_rows_are_small() {
        for row in standard_rows().into_iter().map(Row::scaled_down) {
            assert!(row.wasm.len() < 100_000, "{}", row.id);
            if let Measure::Call { input, .. } = &row.measure {
                assert!(input.len() <= 1024, "{}", row.id);
            }
        }
    }
}
