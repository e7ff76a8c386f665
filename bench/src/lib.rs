//! xtism-bench: benchmarks of xtism on every engine compiled in.
//!
//! `cargo bench -p xtism-bench` runs the criterion benchmarks in `benches/`: compiling a
//! plug-in, instantiating it from a [`xtism::CompiledPlugin`], and a small echo call.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// The plug-in the call benchmarks use: `c/echo.wasm` (export `echo`) from the corpus.
pub fn echo_plugin() -> Vec<u8> {
    xtism_conformance::plugin("c/echo.wasm")
}
