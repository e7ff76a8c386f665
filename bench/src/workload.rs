//! A row made ready on one runtime, to be timed.

use std::time::{Duration, Instant};

use crate::BenchError;

/// A [`Row`](crate::Row) prepared on one runtime: plug-in compiled or instantiated as the
/// row needs, its output checked once.
pub trait Workload {
    /// Does the row's operation `iterations` times and returns the time those operations
    /// took, without the set-up and tear-down around them (dropping instances, for
    /// example).
    ///
    /// # Errors
    ///
    /// The first operation that fails.
    fn run(&mut self, iterations: u64) -> Result<Duration, BenchError>;
}

/// How many instances an instantiation benchmark keeps alive at once: each holds linear
/// memories, and criterion's automatic batches of fast instantiations once overran the
/// kernel's map count (65530 mappings by default) on wasmer.
pub const INSTANCE_BATCH: u64 = 1000;

/// Times `iterations` runs of `make`, dropping each result outside the timing (`create`).
///
/// # Errors
///
/// The first run that fails.
pub(crate) fn time_each<T>(
    iterations: u64,
    mut make: impl FnMut() -> Result<T, BenchError>,
) -> Result<Duration, BenchError> {
    let mut took = Duration::ZERO;
    for _ in 0..iterations {
        let start = Instant::now();
        let made = make()?;
        took += start.elapsed();
        drop(made);
    }
    Ok(took)
}

/// Times `iterations` runs of `make` whose results stay alive [`INSTANCE_BATCH`] at a
/// time, each batch dropped outside the timing (`instantiate`).
///
/// # Errors
///
/// The first run that fails.
pub(crate) fn time_batched<T>(
    iterations: u64,
    mut make: impl FnMut() -> Result<T, BenchError>,
) -> Result<Duration, BenchError> {
    let mut took = Duration::ZERO;
    let mut left = iterations;
    while left > 0 {
        let batch = left.min(INSTANCE_BATCH);
        let mut live = Vec::with_capacity(usize::try_from(batch).unwrap_or(0));
        let start = Instant::now();
        for _ in 0..batch {
            live.push(make()?);
        }
        took += start.elapsed();
        drop(live);
        left -= batch;
    }
    Ok(took)
}

/// Times `iterations` runs of `op`, back to back (a call).
///
/// # Errors
///
/// The first run that fails.
pub(crate) fn time_all(
    iterations: u64,
    mut op: impl FnMut() -> Result<(), BenchError>,
) -> Result<Duration, BenchError> {
    let start = Instant::now();
    for _ in 0..iterations {
        op()?;
    }
    Ok(start.elapsed())
}
