//! `xtism conformance`: runs the conformance suite built into the command on the chosen
//! engines and prints one row per case and a column per engine, the failures, and
//! `N passed, N failed`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use xtism_conformance::{Case, Outcome};

use crate::args::ConformanceArgs;
use crate::error::CliError;

/// One case on one engine, and how it went.
struct Run {
    case: &'static Case,
    engine: &'static str,
    outcome: Outcome,
}

/// Runs the selected cases and prints the report.
///
/// # Errors
///
/// An unknown engine, a filter that selects no case, or any failed case.
pub fn run(args: &ConformanceArgs) -> Result<(), CliError> {
    let engines = crate::engines::selected(&args.engines)?;
    let cases: Vec<&'static Case> = xtism_conformance::cases()
        .into_iter()
        .filter(|c| {
            args.filter
                .as_ref()
                .is_none_or(|f| c.full_name().contains(f))
        })
        .collect();
    if cases.is_empty() {
        return Err(CliError::msg(format!(
            "no case matches --filter {:?}",
            args.filter.as_deref().unwrap_or_default()
        )));
    }
    let work: Vec<(&'static Case, &'static str)> = cases
        .iter()
        .flat_map(|case| engines.iter().map(move |engine| (*case, *engine)))
        .collect();
    let runs = match args.repeat {
        None => run_all(&work, workers()),
        Some(n) => {
            // One case at a time, so that the peak belongs to the attacks, not to how many
            // cases happened to overlap.
            run_all(&work, 1);
            let first = peak_memory();
            xtism_conformance::set_repetitions(usize::try_from(n).unwrap_or(usize::MAX));
            let runs = run_all(&work, 1);
            let last = peak_memory();
            println!(
                "peak resident memory: {} after one round, {} after {n} repetitions of each hostile attack",
                show(first),
                show(last)
            );
            runs
        }
    };
    print_report(&cases, &engines, &runs);
    let failed = runs.iter().filter(|r| r.outcome.failure.is_some()).count();
    println!("{} passed, {failed} failed", runs.len() - failed);
    if failed > 0 {
        return Err(CliError::msg(format!("{failed} conformance cases failed")));
    }
    Ok(())
}

/// As many workers as the machine has cores.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Runs every (case, engine) pair on `workers` threads; the runs come back in `work`'s
/// order.
fn run_all(work: &[(&'static Case, &'static str)], workers: usize) -> Vec<Run> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<Run>>> = Mutex::new(work.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(case, engine)) = work.get(index) else {
                        break;
                    };
                    let outcome = case.run_on(engine);
                    let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
                    done[index] = Some(Run {
                        case,
                        engine,
                        outcome,
                    });
                }
            });
        }
    });
    done.into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

/// The table (a row per case, a column per engine: `pass`/`FAIL` and the time), then one
/// line per failure, and a note for the cases that ran a capability's fallback.
fn print_report(cases: &[&'static Case], engines: &[&'static str], runs: &[Run]) {
    let width = cases
        .iter()
        .map(|c| c.full_name().len())
        .max()
        .unwrap_or(0)
        .max("case".len());
    let mut header = format!("{:width$}", "case");
    for engine in engines {
        header.push_str(&format!("  {engine:<15}"));
    }
    println!("{}", header.trim_end());
    let mut fallbacks = Vec::new();
    for case in cases {
        let mut row = format!("{:width$}", case.full_name());
        for engine in engines {
            let Some(run) = runs
                .iter()
                .find(|r| std::ptr::eq(r.case, *case) && r.engine == *engine)
            else {
                continue;
            };
            let fallback = case.fallback_on(engine);
            let verdict = match (&run.outcome.failure, fallback) {
                (Some(_), _) => "FAIL",
                (None, Some(capability)) => {
                    fallbacks.push(format!("{engine} has no {capability}"));
                    "pass*"
                }
                (None, None) => "pass",
            };
            row.push_str(&format!("  {verdict:<5} {:>9}", took(run.outcome.took)));
        }
        println!("{}", row.trim_end());
    }
    fallbacks.sort();
    fallbacks.dedup();
    if !fallbacks.is_empty() {
        println!(
            "* the engine lacks the capability, and the case checked its documented fallback ({})",
            fallbacks.join("; ")
        );
    }
    for run in runs {
        if let Some(why) = &run.outcome.failure {
            println!("FAIL {} {}: {why}", run.engine, run.case.full_name());
        }
    }
}

/// A duration as milliseconds with one decimal.
fn took(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The process's peak resident memory in bytes (`VmHWM` of `/proc/self/status`), where the
/// system reports it (Linux).
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A byte count in MiB, or `unknown`.
fn show(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "unknown".to_owned(),
        |b| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    )
}
