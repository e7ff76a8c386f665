//! Peak resident memory of live instances: `instances RUNTIME [COUNT]`.
//!
//! Builds `as/count_vowels.wasm` once on RUNTIME (`wasmtime`, `wasmi`, `wasmer`, or
//! `official` with the `official` feature), with the runtime's defaults (the JITs' compile
//! caches on, as the official runtime's is: run twice, and the second run loads the code
//! instead of running the compiler, whose code and heap would count in the peak), then
//! makes COUNT (default 1000) instances from it, calls `count_vowels("Hello, World!")` once on each so that each has run, and keeps
//! them all alive. It prints the process's peak resident memory (`VmHWM`, Linux) before
//! the instances and with them, in KiB, and the difference per instance. Run each runtime
//! in its own process: peak memory is a property of the whole process.
//!
//! ```sh
//! for r in wasmtime wasmi wasmer; do
//!   cargo run --release -p xtism-bench --bin instances -- $r 1000
//! done
//! cargo +nightly run --release -p xtism-bench --features official --bin instances -- official 1000
//! ```

use std::process::ExitCode;

use xtism_bench::plugins;

/// The process's peak resident memory in KiB (`VmHWM` of `/proc/self/status`).
fn peak_kib() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("reading /proc/self/status (Linux only): {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".to_owned())
}

/// Makes `count` live instances on `runtime`, each called once; returns them to keep alive.
fn instances(runtime: &str, count: usize) -> Result<Box<dyn std::any::Any>, String> {
    #[cfg(feature = "official")]
    if runtime == xtism_bench::official::NAME {
        use extism::{CompiledPlugin, Plugin, PluginBuilder};
        let compiled = CompiledPlugin::new(PluginBuilder::new(plugins::COUNT_VOWELS))
            .map_err(|e| e.to_string())?;
        let mut live = Vec::with_capacity(count);
        for _ in 0..count {
            let mut plugin = Plugin::new_from_compiled(&compiled).map_err(|e| e.to_string())?;
            let _: String = plugin
                .call("count_vowels", "Hello, World!")
                .map_err(|e| e.to_string())?;
            live.push(plugin);
        }
        return Ok(Box::new((compiled, live)));
    }
    let engine = xtism::engine_named(runtime).map_err(|e| e.to_string())?;
    let compiled = xtism::CompiledPlugin::new(
        xtism::PluginBuilder::new(plugins::COUNT_VOWELS).with_engine(engine),
    )
    .map_err(|e| e.to_string())?;
    let mut live = Vec::with_capacity(count);
    for _ in 0..count {
        let mut plugin: xtism::Plugin =
            xtism::Plugin::new_from_compiled(&compiled).map_err(|e| e.to_string())?;
        let _: String = plugin
            .call("count_vowels", "Hello, World!")
            .map_err(|e| e.to_string())?;
        live.push(plugin);
    }
    Ok(Box::new((compiled, live)))
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let runtime = args
        .next()
        .ok_or("usage: instances RUNTIME [COUNT] (RUNTIME: an engine, or official)")?;
    let count: usize = match args.next() {
        Some(n) => n
            .parse()
            .map_err(|_| format!("COUNT must be a number, not {n:?}"))?,
        None => 1000,
    };
    let before = peak_kib()?;
    let live = instances(&runtime, count)?;
    let with = peak_kib()?;
    drop(live);
    let per_instance = (with.saturating_sub(before)) as f64 / count.max(1) as f64;
    println!(
        "{runtime}: {count} instances, peak {with} KiB ({before} KiB before them; \
         {per_instance:.1} KiB each)"
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
