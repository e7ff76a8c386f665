//! End-to-end tests of `xtism bench`: a quick run on a tiny plug-in from the corpus and on
//! one standard row, the table's shape, the SVG file, and one-line errors. No timing is
//! asserted.

#![cfg(feature = "bench")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The path of a committed conformance plug-in, e.g. `c/echo.wasm`.
fn plugin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/plugins")
        .join(name)
}

/// Runs `xtism` with `args` and no stdin.
fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_xtism"))
        .env_remove("XTISM_ENGINE")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the xtism binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks the table printed for `rows` on `engines`: a title, a header naming the engines,
/// one line per row with a time and a ratio per engine (the fastest at 1.00×), then what
/// each row measures.
#[track_caller]
fn check_table(stdout: &str, rows: &[&str], engines: &[&str]) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("median time per operation"),
        "{stdout}"
    );
    let header: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(header[0], "measure", "{stdout}");
    assert_eq!(&header[1..], engines, "{stdout}");
    for (line, row) in lines[2..].iter().zip(rows) {
        assert!(line.starts_with(row), "{row} in {stdout}");
        let ratios = line.matches("×)").count();
        assert_eq!(ratios, engines.len(), "{line}");
        assert!(line.contains("(1.00×)"), "{line}");
        assert!(line.contains(" ("), "{line}");
    }
    assert_eq!(lines[2 + rows.len()], "", "{stdout}");
    for row in rows {
        assert!(
            lines[3 + rows.len()..].iter().any(|l| l.starts_with(row)),
            "{row} described in {stdout}"
        );
    }
}

#[test]
fn a_quick_run_on_a_plugin_prints_a_table_and_writes_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::write(&input, b"0123456789abcdef").unwrap();
    let svg = dir.path().join("chart.svg");
    let echo = plugin("c/echo.wasm");
    let out = run([
        "bench".as_ref(),
        "--quick".as_ref(),
        "--plugin".as_ref(),
        echo.as_os_str(),
        "--function".as_ref(),
        "echo".as_ref(),
        "--input".as_ref(),
        input.as_os_str(),
        "--svg".as_ref(),
        svg.as_os_str(),
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    check_table(&stdout, &["create", "instantiate", "call"], xtism::ENGINES);
    assert!(stdout.contains("echo with 16 bytes of input"), "{stdout}");
    // Progress lines on stderr (not a terminal here: one line per step).
    assert!(
        stderr.contains("[1/") && stderr.contains("timing call on"),
        "{stderr}"
    );
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(
        chart.starts_with("<svg"),
        "{}",
        &chart[..chart.len().min(200)]
    );
    assert!(chart.trim_end().ends_with("</svg>"));
    for engine in xtism::ENGINES {
        assert!(chart.contains(engine), "{engine} in the legend");
    }
}

#[test]
fn a_standard_row_on_one_engine() {
    let engine = xtism::ENGINES[0];
    let out = run(["bench", "--quick", "--row", "echo_16b", "--engine", engine]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    check_table(&stdout, &["echo_16b"], &[engine]);
    assert!(stdout.contains("(c/echo.wasm)"), "{stdout}");
}

#[test]
fn the_async_row_is_not_applicable_where_an_engine_has_no_async_calls() {
    let out = run(["bench", "--quick", "--row", "echo_16b_async"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("echo_16b_async"))
        .expect("the row's line");
    let with_async = xtism::ENGINES
        .iter()
        .filter(|engine| {
            xtism::engine_named(engine)
                .unwrap()
                .capabilities()
                .async_calls
        })
        .count();
    assert_eq!(line.matches("×)").count(), with_async, "{line}");
    assert_eq!(
        line.matches("n/a").count(),
        xtism::ENGINES.len() - with_async,
        "{line}"
    );
}

/// Asserts exit code 1 and one `error:` line on stderr containing `needle`.
#[track_caller]
fn fails_with(out: Output, needle: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(needle), "{needle} in {stderr}");
    assert!(out.stdout.is_empty(), "no table: {}", text(&out.stdout));
}

#[test]
fn a_missing_function_is_one_line() {
    let echo = plugin("c/echo.wasm");
    let out = run([
        "bench".as_ref(),
        "--quick".as_ref(),
        "--plugin".as_ref(),
        echo.as_os_str(),
        "--function".as_ref(),
        "nope".as_ref(),
    ]);
    fails_with(out, "has no function \"nope\"");
}

#[test]
fn a_bad_plugin_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wasm");
    std::fs::write(&bad, b"\0asm\x01\0\0\0\x99garbage").unwrap();
    let out = run([
        "bench".as_ref(),
        "--quick".as_ref(),
        "--plugin".as_ref(),
        bad.as_os_str(),
        "--function".as_ref(),
        "f".as_ref(),
    ]);
    fails_with(out, "bad.wasm on ");
}

#[test]
fn missing_files_and_unknown_rows_and_engines_are_one_line() {
    let out = run([
        "bench",
        "--plugin",
        "/nonexistent/p.wasm",
        "--function",
        "f",
    ]);
    fails_with(out, "cannot read /nonexistent/p.wasm");
    fails_with(run(["bench", "--row", "nope"]), "no benchmark row \"nope\"");
    fails_with(run(["bench", "--engine", "v8"]), "no engine named \"v8\"");
}

#[test]
fn a_function_needs_a_plugin() {
    let out = run(["bench", "--function", "echo"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
