//! xtism-conformance: the plug-in corpus and the cross-engine conformance suite.
//!
//! `plugins/` holds real plug-ins: AssemblyScript built with the official PDK (`as/`), C
//! built with zig (`c/`), and hand-written WAT (`wat/`, assembled at run time) for the ABI
//! edge cases and the hostile corpus. The cases live in `src/cases/`, one module per subject;
//! each is a function marked `#[case]`, which registers it. `tests/suite.rs` runs every
//! case on every engine compiled in as `cargo test` trials, and `xtism conformance` runs
//! them as a report. [`TestServer`] is the local HTTP server the HTTP cases talk to.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

// `#[case]` names this crate by its path, from inside it too.
extern crate self as xtism_conformance;

mod case;
mod cases;
mod corpus;
mod helpers;
mod http_server;
mod repeat;

#[doc(hidden)]
pub use inventory;
pub use xtism_conformance_macros::case;

pub use case::{Case, Needs, Outcome, cases};
pub use corpus::{plugin, plugin_file};
pub use helpers::{builder, engines, expect_err};
pub use http_server::TestServer;
pub use repeat::{repetitions, set_repetitions};
