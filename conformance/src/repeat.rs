//! How many times a hostile case repeats its attack on one plug-in: once in the test suite,
//! more under `xtism conformance --repeat N`, which watches the host's peak memory.

use std::sync::atomic::{AtomicUsize, Ordering};

static REPETITIONS: AtomicUsize = AtomicUsize::new(1);

/// How many times each hostile case attacks its plug-in (at least 1).
pub fn repetitions() -> usize {
    REPETITIONS.load(Ordering::Relaxed).max(1)
}

/// Sets [`repetitions`] for the cases run after this call.
pub fn set_repetitions(n: usize) {
    REPETITIONS.store(n.max(1), Ordering::Relaxed);
}
