//! xtism-conformance: the plug-in corpus and helpers for the cross-backend suite.
//!
//! `plugins/` holds real plug-ins: AssemblyScript built with the official PDK (`as/`), C
//! built with zig (`c/`), and hand-written WAT (`wat/`, assembled here at test time) for the
//! ABI edge cases. The suite in `tests/` runs every case on every engine compiled in.
//! [`TestServer`] is the local HTTP server the HTTP cases talk to.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod http_server;

use std::path::PathBuf;
use std::sync::Arc;

pub use http_server::TestServer;

/// The directory holding the plug-in corpus.
pub fn plugins_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugins")
}

/// The bytes of a plug-in of the corpus: `as/count_vowels.wasm`, `c/echo.wasm`, or a WAT
/// file such as `wat/kernel.wat`, assembled to Wasm.
pub fn plugin(path: &str) -> Vec<u8> {
    let full = plugins_dir().join(path);
    if path.ends_with(".wat") {
        wat::parse_file(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    } else {
        std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    }
}

/// A builder for `wasm` on the engine called `engine`.
pub fn builder<'a>(engine: &str, wasm: &'a [u8]) -> xtism::PluginBuilder<'a> {
    xtism::PluginBuilder::new(wasm)
        .with_engine(xtism::engine(engine).expect("a compiled-in engine"))
}

/// Checks that a call failed with an error of `kind` whose message contains `needle`, and
/// returns the error.
pub fn expect_err(
    result: Result<&[u8], xtism::Error>,
    kind: xtism::ErrorKind,
    needle: &str,
) -> xtism::Error {
    let err = result.expect_err("the call should fail");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(
        err.to_string().contains(needle),
        "{err:?} should mention {needle:?}"
    );
    err
}

/// The engines compiled into this build, by name.
pub fn engines() -> Vec<(&'static str, Arc<dyn xtism::Engine>)> {
    xtism::ENGINES
        .iter()
        .map(|name| (*name, xtism::engine(name).expect("a compiled-in engine")))
        .collect()
}

/// Runs one case on one engine, checking the outcome against `cannot`, the table of
/// (engine, case, why) expected to fail, in both directions: a listed case that passes
/// fails, and so does an unlisted case that fails.
pub fn run_case(
    cannot: &[(&str, &str, &str)],
    engine: &'static str,
    case: &str,
    f: fn(&'static str),
) {
    let listed = cannot.iter().find(|(e, c, _)| *e == engine && *c == case);
    let outcome = std::panic::catch_unwind(|| f(engine));
    match (outcome, listed) {
        (Ok(()), Some((_, _, why))) => {
            panic!("{engine}/{case} is listed in CANNOT ({why}) but passed: remove it")
        }
        (Err(panic), None) => std::panic::resume_unwind(panic),
        _ => {}
    }
}

/// Expands a list of cases (functions taking an engine name, each with optional
/// attributes such as `#[cfg(feature = "http")]`) into one test module per engine compiled
/// in, so a case runs alone as `cargo test -p xtism-conformance
/// wasmi::var_limit`. The first argument is the test file's table of cases an engine
/// cannot pass (see [`run_case`]).
#[macro_export]
macro_rules! suite {
    ($cannot:ident; $($(#[$attr:meta])* $case:ident),* $(,)?) => {
        #[cfg(feature = "wasmtime")]
        mod wasmtime {
            $( $(#[$attr])* #[test] fn $case() {
                $crate::run_case(super::$cannot, "wasmtime", stringify!($case), super::$case)
            } )*
        }
        #[cfg(feature = "wasmi")]
        mod wasmi {
            $( $(#[$attr])* #[test] fn $case() {
                $crate::run_case(super::$cannot, "wasmi", stringify!($case), super::$case)
            } )*
        }
        #[cfg(feature = "wasmer")]
        mod wasmer {
            $( $(#[$attr])* #[test] fn $case() {
                $crate::run_case(super::$cannot, "wasmer", stringify!($case), super::$case)
            } )*
        }
    };
}
