//! Small helpers the cases share.

use std::sync::Arc;

use xtism::ErrorExt;

/// A builder for `wasm` on the engine called `engine`.
///
/// # Panics
///
/// If no engine of that name is compiled in.
pub fn builder<'a>(engine: &str, wasm: &'a [u8]) -> xtism::PluginBuilder<'a> {
    xtism::PluginBuilder::new(wasm)
        .with_engine(xtism::engine_named(engine).expect("a compiled-in engine"))
}

/// Checks that a call failed with an error of `kind` whose message contains `needle`, and
/// returns the error.
///
/// # Panics
///
/// If the call succeeded, or failed otherwise.
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
        .map(|name| {
            (
                *name,
                xtism::engine_named(name).expect("a compiled-in engine"),
            )
        })
        .collect()
}
