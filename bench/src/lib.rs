//! xtism-bench: the benchmark rows of issue 9, on every engine compiled in and, with the
//! `official` feature, on the official `extism` crate.
//!
//! A [`Row`] says what one measure is: a plug-in, what is timed (create, instantiate or a
//! call), the function, the input and the host functions. [`standard_rows`] are the rows
//! of the comparison; [`plugin_rows`] measures a user's own plug-in the same way. A
//! [`Workload`] is a row made ready on one runtime ([`prepare`] for an xtism engine,
//! `official::prepare` for the official crate): [`Workload::run`] times a number of
//! iterations and leaves set-up and tear-down out of the time. A runtime that lacks what a
//! row measures (async calls, for `echo_16b_async`) refuses it in `prepare` with an error
//! for which [`BenchError::is_unsupported`] holds, so that the row shows no time there
//! rather than a made-up one. The criterion benchmarks in `benches/rows.rs` and the
//! `xtism bench` command both time these workloads, the command with the loop of
//! [`timing`].

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod inputs;
#[cfg(feature = "official")]
pub mod official;
pub mod plugins;
mod rows;
pub mod timing;
mod workload;
mod xtism_runtime;

pub use error::BenchError;
pub use rows::{CallMode, Expect, HostFunctions, Measure, Row, plugin_rows, standard_rows};
pub use workload::Workload;
#[cfg(feature = "wasmtime")]
pub use xtism_runtime::WASMTIME_POOL;
pub use xtism_runtime::prepare;
