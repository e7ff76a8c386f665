//! A plain timing loop for `xtism bench`: medians of a few rounds, each of as many
//! iterations as fill a target time. (The criterion benchmarks use criterion's own.)

use std::time::Duration;

use crate::{BenchError, Workload};

/// How long to time a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Timed rounds; the result is their median.
    pub rounds: u32,
    /// The time one round aims at; a round runs at least one iteration, however long.
    pub round: Duration,
}

impl Budget {
    /// Five rounds of about 100 ms: around a second per row and runtime, more for an
    /// operation slower than 100 ms (a cold compile of a large module), which then runs
    /// once per round.
    pub const STANDARD: Budget = Budget {
        rounds: 5,
        round: Duration::from_millis(100),
    };

    /// One round of one iteration: checks that everything runs, measures nothing
    /// reliably.
    pub const QUICK: Budget = Budget {
        rounds: 1,
        round: Duration::ZERO,
    };
}

/// The median time of one iteration of `workload` over `budget.rounds` rounds.
///
/// First a calibration: one iteration (which also warms caches), then doubling counts
/// until a run takes a tenth of a round; the rounds then run as many iterations as the
/// calibration says fill `budget.round`.
///
/// # Errors
///
/// The workload's first error.
pub fn median(workload: &mut dyn Workload, budget: Budget) -> Result<Duration, BenchError> {
    let mut iterations: u64 = 1;
    let mut took = workload.run(iterations)?;
    while took < budget.round / 10 && iterations < 1 << 40 {
        iterations *= 2;
        took = workload.run(iterations)?;
    }
    let per_iteration = took.as_secs_f64() / iterations as f64;
    let per_round = if per_iteration > 0.0 {
        (budget.round.as_secs_f64() / per_iteration).floor() as u64
    } else {
        iterations
    }
    .max(1);
    let mut times = Vec::with_capacity(budget.rounds as usize);
    for _ in 0..budget.rounds.max(1) {
        let took = workload.run(per_round)?;
        times.push(took.as_secs_f64() / per_round as f64);
    }
    times.sort_by(f64::total_cmp);
    Ok(Duration::from_secs_f64(times[times.len() / 2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workload whose iterations take `each` of pretend time, counting its iterations.
    struct Fake {
        each: Duration,
        ran: u64,
    }

    impl Workload for Fake {
        fn run(&mut self, iterations: u64) -> Result<Duration, BenchError> {
            self.ran += iterations;
            Ok(self.each.mul_f64(iterations as f64))
        }
    }

    #[test]
    fn the_median_is_the_time_of_one_iteration() {
        let mut fake = Fake {
            each: Duration::from_micros(3),
            ran: 0,
        };
        let median = median(&mut fake, Budget::STANDARD).unwrap();
        assert!((median.as_secs_f64() - 3e-6).abs() < 1e-9, "{median:?}");
        // Five rounds of about 100 ms of 3 µs each, plus the calibration.
        assert!((150_000..200_000).contains(&fake.ran), "{}", fake.ran);
    }

    #[test]
    fn slow_iterations_run_once_per_round() {
        let mut fake = Fake {
            each: Duration::from_secs(2),
            ran: 0,
        };
        let median = median(&mut fake, Budget::STANDARD).unwrap();
        assert_eq!(median, Duration::from_secs(2));
        assert_eq!(fake.ran, 1 + 5);
    }

    #[test]
    fn quick_runs_two_iterations() {
        let mut fake = Fake {
            each: Duration::from_millis(1),
            ran: 0,
        };
        median(&mut fake, Budget::QUICK).unwrap();
        assert_eq!(fake.ran, 2);
    }

    #[test]
    fn errors_stop_the_timing() {
        struct Failing;
        impl Workload for Failing {
            fn run(&mut self, _: u64) -> Result<Duration, BenchError> {
                Err(BenchError::new("no"))
            }
        }
        assert_eq!(
            median(&mut Failing, Budget::QUICK).unwrap_err().message(),
            "no"
        );
    }
}
