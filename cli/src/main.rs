//! `xtism`: call Extism plug-ins and inspect them, on any WebAssembly engine compiled in.
//!
//! ```text
//! xtism call count_vowels.wasm count_vowels -i "Hello, World!"
//! xtism info count_vowels.wasm
//! xtism conformance --engine wasmi --filter kernel
//! xtism bench --engine wasmtime --engine wasmi --svg bench.svg
//! ```
//!
//! The command is a thin layer over the `xtism` crate: it turns its arguments into an
//! Extism manifest and a [`xtism::PluginBuilder`], runs the call and prints the output.
//! Errors go to stderr as one `error: ...` line naming the plug-in file; the exit code is
//! the plug-in's own code when the plug-in returned one, else 1 (2 for bad command-line
//! syntax, from clap).

#![forbid(unsafe_code)]

mod args;
#[cfg(feature = "bench")]
mod bench;
mod call;
#[cfg(feature = "bench")]
mod chart;
#[cfg(feature = "conformance")]
mod conformance;
#[cfg(any(feature = "conformance", feature = "bench"))]
mod engines;
mod error;
mod info;
mod load;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Call(args) => call::run(&args).map_err(|e| e.in_plugin(&args.source.file)),
        Command::Info(args) => info::run(&args).map_err(|e| e.in_plugin(&args.source.file)),
        #[cfg(feature = "conformance")]
        Command::Conformance(args) => conformance::run(&args),
        #[cfg(feature = "bench")]
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", err.one_line());
            ExitCode::from(err.exit_code())
        }
    }
}
