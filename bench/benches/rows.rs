//! The rows of issue 9 on every engine compiled in, and on the official `extism` crate with
//! the `official` feature (criterion).
//!
//! ```text
//! cargo bench -p xtism-bench                          # xtism's engines
//! cargo +nightly bench -p xtism-bench --features official
//! cargo bench -p xtism-bench -- '^echo_16b/'          # one row (a regex)
//! cargo bench -p xtism-bench -- echo_16b              # echo_16b and echo_16b_async
//! ```
//!
//! Each row is a criterion group named by the row's id (see `xtism_bench::standard_rows`),
//! with one benchmark per runtime: `echo_16b/wasmtime`, ..., `echo_16b/official`. Criterion
//! times `Workload::run`, which leaves set-up and tear-down out. A runtime that cannot run
//! a row (async calls, for `echo_16b_async`, on wasmer and the official crate) has no
//! benchmark in that group, as `wasmtime-pool` has none outside `instantiate`; a line on
//! stderr says why. Under `cargo test` (criterion's test mode) every benchmark runs once,
//! and the rows whose data makes that slow in a debug build run on small data instead
//! (`Row::scaled_down`).

// criterion_group! defines an undocumented public function.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use xtism_bench::{BenchError, Measure, Row, Workload, standard_rows};

/// Whether criterion runs in test mode (`cargo test`): `cargo bench` passes `--bench`.
fn test_mode() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// The official crate's column, with the `official` feature.
#[cfg(feature = "official")]
const OFFICIAL: &[&str] = &[xtism_bench::official::NAME];
#[cfg(not(feature = "official"))]
const OFFICIAL: &[&str] = &[];

/// wasmtime with an instance pool, a column of the `instantiate` row only (calls run the
/// same code as on `wasmtime`).
#[cfg(feature = "wasmtime")]
const POOLED: &[&str] = &[xtism_bench::WASMTIME_POOL];
#[cfg(not(feature = "wasmtime"))]
const POOLED: &[&str] = &[];

/// The runtimes of `row`: every xtism engine compiled in, wasmtime with an instance pool
/// for `instantiate`, then the official crate.
fn runtimes(row: &Row) -> Vec<&'static str> {
    let pooled = match row.measure {
        Measure::Instantiate => POOLED,
        _ => &[],
    };
    xtism::ENGINES
        .iter()
        .chain(pooled)
        .chain(OFFICIAL)
        .copied()
        .collect()
}

/// `row` on the runtime called `name`.
fn prepare(row: &Row, name: &str) -> Result<Box<dyn Workload>, BenchError> {
    #[cfg(feature = "official")]
    if name == xtism_bench::official::NAME {
        return xtism_bench::official::prepare(row);
    }
    xtism_bench::prepare(row, name)
}

/// Whether an iteration of `row` takes milliseconds: a compile or 1 MiB of data.
fn slow(row: &Row) -> bool {
    match &row.measure {
        Measure::Create | Measure::CreateCached => true,
        Measure::Instantiate => false,
        Measure::Call { input, .. } => input.len() >= 64 * 1024,
    }
}

fn rows(c: &mut Criterion) {
    let test = test_mode();
    for row in standard_rows() {
        let row = if test { row.scaled_down() } else { row };
        let mut group = c.benchmark_group(&row.id);
        if slow(&row) {
            // Milliseconds to a second an iteration: ten samples of equal size, not
            // criterion's default 100 samples of growing size (5,050 iterations).
            group
                .sampling_mode(SamplingMode::Flat)
                .sample_size(10)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(3));
        }
        for name in runtimes(&row) {
            let mut workload = match prepare(&row, name) {
                Ok(workload) => workload,
                Err(err) if err.is_unsupported() => {
                    eprintln!("{}/{name}: not run: {err}", row.id);
                    continue;
                }
                Err(err) => panic!("{}/{name}: {err}", row.id),
            };
            group.bench_function(name, |b| {
                b.iter_custom(|iterations| {
                    workload
                        .run(iterations)
                        .unwrap_or_else(|err| panic!("{}/{name}: {err}", row.id))
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, rows);
criterion_main!(benches);
