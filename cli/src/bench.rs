//! `xtism bench`: times the benchmark rows (or a user's plug-in) on the chosen engines and
//! prints one row per measure, one column per engine: the median time and the ratio to the
//! fastest engine of the row. Optionally draws the same as an SVG bar chart.
//!
//! The rows and what each one times come from the `xtism-bench` library, which the
//! criterion benchmarks share; the timing is its plain loop (`xtism_bench::timing`).

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use xtism_bench::timing::{self, Budget};
use xtism_bench::{Row, Workload};

use crate::args::BenchArgs;
use crate::error::CliError;

/// The medians of one row, one per engine in [`Results::engines`]' order.
pub struct Measured {
    /// The row's id.
    pub id: String,
    /// What the row measures and on which plug-in, in a few words.
    pub about: String,
    /// Median time of one operation on each engine; `None` where the engine cannot run
    /// the row (async calls on wasmer), shown as `n/a`.
    pub medians: Vec<Option<Duration>>,
}

/// Everything a run measured.
pub struct Results {
    /// The engines, in column order.
    pub engines: Vec<&'static str>,
    /// The rows, in order.
    pub rows: Vec<Measured>,
}

/// Runs the benchmark and prints the table.
///
/// # Errors
///
/// An unknown engine or row, a plug-in or input file that cannot be read, a plug-in that
/// does not build or lacks the function, a failing call, a chart that cannot be written.
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    let engines = crate::engines::selected(&args.engines)?;
    let rows = rows(args)?;
    let budget = if args.quick {
        Budget::QUICK
    } else {
        Budget::STANDARD
    };
    let mut progress = Progress::new(rows.len() * engines.len());

    // Everything is made ready before anything is timed, so that a plug-in that does not
    // build or lacks the function fails at once. An engine that cannot run a row at all
    // has no workload for it.
    let mut workloads: Vec<Vec<Option<Box<dyn Workload>>>> = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut row_workloads = Vec::with_capacity(engines.len());
        for engine in &engines {
            progress.step(&format!("preparing {} on {engine}", row.id));
            let workload = match xtism_bench::prepare(row, engine) {
                Ok(workload) => Some(workload),
                Err(e) if e.is_unsupported() => None,
                Err(e) => return Err(failure(args, row, engine, &e)),
            };
            row_workloads.push(workload);
        }
        workloads.push(row_workloads);
    }

    progress.restart();
    let mut results = Results {
        engines: engines.clone(),
        rows: Vec::with_capacity(rows.len()),
    };
    for (row, row_workloads) in rows.iter().zip(&mut workloads) {
        let mut medians = Vec::with_capacity(engines.len());
        for (engine, workload) in engines.iter().zip(row_workloads.iter_mut()) {
            progress.step(&format!("timing {} on {engine}", row.id));
            let median = match workload {
                Some(workload) => Some(
                    timing::median(workload.as_mut(), budget)
                        .map_err(|e| failure(args, row, engine, &e))?,
                ),
                None => None,
            };
            medians.push(median);
        }
        results.rows.push(Measured {
            id: row.id.clone(),
            about: format!("{} ({})", row.about, row.plugin),
            medians,
        });
    }
    progress.finish();
    drop(workloads);

    print!("{}", table(&results));
    if let Some(path) = &args.svg {
        crate::chart::write_svg(path, &results)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The rows to measure: the user's plug-in, or the standard rows (those named by `--row`).
fn rows(args: &BenchArgs) -> Result<Vec<Row>, CliError> {
    if let Some(plugin) = &args.plugin {
        let wasm = read(plugin)?;
        let input = match &args.input {
            Some(file) => read(file)?,
            None => Vec::new(),
        };
        let function = args.function.as_deref().unwrap_or_default();
        let name = plugin.display().to_string();
        return Ok(xtism_bench::plugin_rows(
            &name, wasm, function, input, args.wasi,
        ));
    }
    let all = xtism_bench::standard_rows();
    if args.rows.is_empty() {
        return Ok(all);
    }
    for id in &args.rows {
        if !all.iter().any(|row| &row.id == id) {
            let ids: Vec<&str> = all.iter().map(|row| row.id.as_str()).collect();
            return Err(CliError::msg(format!(
                "no benchmark row {id:?} (the rows are {})",
                ids.join(", ")
            )));
        }
    }
    Ok(all
        .into_iter()
        .filter(|row| args.rows.contains(&row.id))
        .collect())
}

/// The bytes of `path`, or an error naming it.
fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::msg(format!("cannot read {}: {e}", path.display())))
}

/// A failure of `row` on `engine`: names the user's plug-in, or the standard row.
fn failure(args: &BenchArgs, row: &Row, engine: &str, err: &xtism_bench::BenchError) -> CliError {
    match &args.plugin {
        Some(plugin) => CliError::msg(format!("{} on {engine}: {err}", plugin.display())),
        None => CliError::msg(format!("row {} on {engine}: {err}", row.id)),
    }
}

/// The progress line on stderr: rewritten in place on a terminal, one line per step
/// elsewhere.
struct Progress {
    terminal: bool,
    total: usize,
    done: usize,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            terminal: std::io::stderr().is_terminal(),
            total,
            done: 0,
        }
    }

    /// Shows the next step.
    fn step(&mut self, what: &str) {
        self.done += 1;
        if self.terminal {
            eprint!("\r\x1b[2K[{}/{}] {what}", self.done, self.total);
        } else {
            eprintln!("[{}/{}] {what}", self.done, self.total);
        }
    }

    /// Counts the steps again from 0.
    fn restart(&mut self) {
        self.done = 0;
    }

    /// Clears the line on a terminal.
    fn finish(&self) {
        if self.terminal {
            eprint!("\r\x1b[2K");
        }
    }
}

/// The table: a header, one line per row (`time µs (ratio×)` per engine, the ratio to the
/// row's fastest engine), then what each row measures.
pub fn table(results: &Results) -> String {
    let id_width = results
        .rows
        .iter()
        .map(|row| row.id.len())
        .chain(["measure".len()])
        .max()
        .unwrap_or(0);
    let cells: Vec<Vec<String>> = results.rows.iter().map(cells).collect();
    let widths: Vec<usize> = results
        .engines
        .iter()
        .enumerate()
        .map(|(column, engine)| {
            cells
                .iter()
                .map(|row| row[column].chars().count())
                .chain([engine.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();

    let mut out =
        String::from("median time per operation, in µs (ratio to the fastest engine of the row)\n");
    let mut header = format!("{:id_width$}", "measure");
    for (engine, width) in results.engines.iter().zip(&widths) {
        header.push_str(&format!("  {engine:>width$}"));
    }
    out.push_str(header.trim_end());
    out.push('\n');
    for (row, row_cells) in results.rows.iter().zip(&cells) {
        let mut line = format!("{:id_width$}", row.id);
        for (cell, width) in row_cells.iter().zip(&widths) {
            let pad = width - cell.chars().count();
            line.push_str(&format!("  {}{cell}", " ".repeat(pad)));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.push('\n');
    for row in &results.rows {
        out.push_str(&format!("{:id_width$}  {}\n", row.id, row.about));
    }
    out
}

/// The cells of one row: `time (ratio×)` per engine, `n/a` where the engine cannot run it.
fn cells(row: &Measured) -> Vec<String> {
    let fastest = row
        .medians
        .iter()
        .flatten()
        .min()
        .copied()
        .unwrap_or_default()
        .max(Duration::from_nanos(1));
    row.medians
        .iter()
        .map(|median| match median {
            Some(median) => {
                let ratio = median.as_secs_f64() / fastest.as_secs_f64();
                format!("{} ({})", micros(*median), times(ratio))
            }
            None => "n/a".to_owned(),
        })
        .collect()
}

/// A time in microseconds with three significant digits (thousands separated by commas).
pub fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        group_thousands(us.round() as u64)
    } else if us >= 100.0 {
        format!("{us:.0}")
    } else if us >= 10.0 {
        format!("{us:.1}")
    } else if us >= 1.0 {
        format!("{us:.2}")
    } else {
        format!("{us:.3}")
    }
}

/// `n` with its thousands separated by commas: `1,234,567`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

/// A ratio such as `1.00×`, `14.2×` or `120×`.
fn times(ratio: f64) -> String {
    if ratio < 10.0 {
        format!("{ratio:.2}×")
    } else if ratio < 100.0 {
        format!("{ratio:.1}×")
    } else {
        format!("{ratio:.0}×")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microseconds_have_three_significant_digits() {
        let us = |n: f64| micros(Duration::from_secs_f64(n * 1e-6));
        assert_eq!(us(39_123.4), "39,123");
        assert_eq!(us(1_779.0), "1,779");
        assert_eq!(us(1_234_567.0), "1,234,567");
        assert_eq!(us(112.3), "112");
        assert_eq!(us(24.04), "24.0");
        assert_eq!(us(1.6), "1.60");
        assert_eq!(us(0.274), "0.274");
    }

    #[test]
    fn ratios() {
        assert_eq!(times(1.0), "1.00×");
        assert_eq!(times(13.66), "13.7×");
        assert_eq!(times(220.2), "220×");
    }

    #[test]
    fn the_table_has_a_column_per_engine_and_a_ratio_to_the_fastest_or_na() {
        let results = Results {
            engines: vec!["wasmtime", "wasmi", "wasmer"],
            rows: vec![Measured {
                id: "echo_16b".into(),
                about: "echo of 16 bytes (c/echo.wasm)".into(),
                medians: vec![
                    Some(Duration::from_nanos(300)),
                    Some(Duration::from_nanos(900)),
                    None,
                ],
            }],
        };
        let table = table(&results);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[1].starts_with("measure"), "{table}");
        assert!(lines[1].ends_with("wasmer"), "{table}");
        assert!(lines[2].contains("0.300 (1.00×)"), "{table}");
        assert!(lines[2].contains("0.900 (3.00×)"), "{table}");
        assert!(lines[2].ends_with("n/a"), "{table}");
        assert!(
            table.contains("echo_16b  echo of 16 bytes (c/echo.wasm)"),
            "{table}"
        );
    }
}
