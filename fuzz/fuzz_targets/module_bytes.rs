//! Module bytes from anywhere: compiled, linked and, when they get that far, called on one
//! of the three engines (the first byte picks it) under a timeout and a fuel budget. Any
//! error is fine; a panic, or a call running past its timeout, is a fault.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use xtism::{Manifest, PluginBuilder, Wasm};

/// A call's timeout; a call still running well after it is a hang.
const TIMEOUT: Duration = Duration::from_millis(200);

fuzz_target!(|data: &[u8]| {
    let Some((&pick, module)) = data.split_first() else {
        return;
    };
    let name = xtism::ENGINES[usize::from(pick) % xtism::ENGINES.len()];
    let engine = xtism::engine_named(name).expect("a compiled-in engine");
    // As a module, never as a manifest (which could name files or URLs).
    let manifest = Manifest::new([Wasm::data(module.to_vec())]);
    let built = PluginBuilder::new(manifest)
        .with_engine(engine)
        .with_timeout(TIMEOUT)
        .with_fuel_limit(100_000)
        .with_memory_max(32)
        // Every input is a new module: the compile cache would only fill the disk.
        .with_cache_disabled()
        .build();
    let Ok(mut plugin) = built else {
        return;
    };
    let exports: Vec<String> = plugin.functions().map(|(name, _)| name.to_owned()).collect();
    for export in exports.iter().take(4) {
        let started = Instant::now();
        let _ = plugin.call::<&[u8], &[u8]>(export, b"fuzz");
        let took = started.elapsed();
        assert!(took < TIMEOUT * 10, "{name}: {export} ran {took:?}");
    }
});
