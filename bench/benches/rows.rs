//! Per-engine call and instantiation benchmarks (criterion).
//!
//! Run with `cargo bench -p xtism-bench`. Every engine compiled in gets the same cases:
//! `compile` (bytes to a CompiledPlugin), `instantiate` (a Plugin from a CompiledPlugin),
//! `echo_16b` (a call with a 16-byte input and output on a warm instance).

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use xtism::{CompiledPlugin, Plugin, PluginBuilder};

fn benches(c: &mut Criterion) {
    let wasm = xtism_bench::echo_plugin();
    for name in xtism::ENGINES {
        let engine = xtism::engine(name).unwrap();
        let mut group = c.benchmark_group(*name);
        group.bench_function("compile", |b| {
            b.iter(|| {
                CompiledPlugin::new(PluginBuilder::new(&wasm).with_engine(engine.clone())).unwrap()
            })
        });
        let compiled =
            CompiledPlugin::new(PluginBuilder::new(&wasm).with_engine(engine.clone())).unwrap();
        // Instances are dropped outside the timing, a batch at a time; a batch of 1000 keeps
        // the live linear memories under the kernel's map count (65530 mappings by default),
        // which criterion's automatic batches of fast instantiations overran on wasmer.
        group.bench_function("instantiate", |b| {
            b.iter_batched(
                || (),
                |()| Plugin::new_from_compiled(&compiled).unwrap(),
                BatchSize::NumIterations(1000),
            )
        });
        let mut plugin = Plugin::new_from_compiled(&compiled).unwrap();
        let input = [7u8; 16];
        group.bench_function("echo_16b", |b| {
            b.iter(|| {
                let out: &[u8] = plugin.call("echo", &input).unwrap();
                assert_eq!(out.len(), 16);
            })
        });
        group.finish();
    }
}

criterion_group!(calls, benches);
criterion_main!(calls);
