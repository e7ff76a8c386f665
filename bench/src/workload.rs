//! A row made ready on one runtime, to be timed.

use std::time::Duration;

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
