//! xtism-port: issue 10's port test. [`program`] is written against the official `extism`
//! crate's API; only its `use` line names `xtism`. The same file builds against the official
//! crate with the `official` feature, where `xtism` names the `extism` crate (below), so
//! both runtimes compile one text:
//!
//! ```text
//! cargo run -p xtism-port                       # on xtism, the engine from XTISM_ENGINE
//! cargo +nightly run -p xtism-port --no-default-features --features official
//! ```
//!
//! `tests/engines.rs` runs the program once per engine compiled into xtism.

#[cfg(all(feature = "official", not(feature = "xtism")))]
extern crate extism as xtism;

pub mod program;
