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

// `#[derive(ToBytes, FromBytes)]` (extism-convert's) reads this crate's manifest, finds the
// dependency on the package `extism` there (the optional official one, on or off) and
// writes `::extism::convert`; in the xtism build, `extism` names xtism, whose `convert` is
// the same crate. A port with xtism alone needs a line of `Cargo.toml` instead (see the
// README's "Porting from the official crate").
#[cfg(all(feature = "xtism", not(feature = "official")))]
extern crate xtism as extism;

pub mod program;
