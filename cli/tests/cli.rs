//! End-to-end tests of the `xtism` binary: each test runs the built command as a process on
//! real files (the committed conformance plug-ins, and manifests and `.wat` files written to
//! temporary directories) and checks its stdout, stderr and exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
#[cfg(feature = "wat")]
use std::time::{Duration, Instant};

/// The path of a committed conformance plug-in, e.g. `as/count_vowels.wasm`.
fn plugin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/plugins")
        .join(name)
}

/// The `xtism` command, with no engine chosen through the environment.
fn xtism() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtism"));
    cmd.env_remove("XTISM_ENGINE");
    cmd
}

/// Runs `xtism` with `args` and no stdin.
fn run<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    xtism()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the xtism binary runs")
}

/// Runs `xtism` with `args`, feeding `stdin`.
fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = xtism()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the xtism binary runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts success and returns stdout.
#[track_caller]
fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "xtism failed with {:?}: {}",
        output.status,
        stderr(&output)
    );
    stdout(&output)
}

/// Asserts failure with exit `code` and a message of exactly one line, `error: ...`;
/// returns stderr.
#[track_caller]
fn fails(output: Output, code: i32) -> String {
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {err}",
        stdout(&output)
    );
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end_matches('\n').lines().count(), 1, "{err}");
    assert!(output.stdout.is_empty(), "stdout: {}", stdout(&output));
    err
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

const HELLO: &str = "Hello, World!";

/// An echo plug-in in WebAssembly text: outputs its input.
const ECHO_WAT: &str = r#"(module
  (import "extism:host/env" "input_offset" (func $input_offset (result i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0)))
"#;

// ---- call: output and input ----

#[test]
fn count_vowels_output_is_exact() {
    let out = ok(run([
        "call",
        path_str(&plugin("as/count_vowels.wasm")),
        "count_vowels",
        "-i",
        HELLO,
    ]));
    // stdout is a pipe: no newline added.
    assert_eq!(out, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
}

#[test]
fn loop_calls_one_instance() {
    let out = ok(run([
        "call",
        path_str(&plugin("as/count_vowels.wasm")),
        "count_vowels",
        "--input",
        HELLO,
        "--loop",
        "3",
    ]));
    assert_eq!(
        out,
        "{\"count\":3,\"total\":3,\"vowels\":\"aeiouAEIOU\"}\n\
         {\"count\":3,\"total\":6,\"vowels\":\"aeiouAEIOU\"}\n\
         {\"count\":3,\"total\":9,\"vowels\":\"aeiouAEIOU\"}\n"
    );
}

#[test]
fn loop_zero_is_a_usage_error() {
    let output = run([
        "call",
        path_str(&plugin("as/count_vowels.wasm")),
        "count_vowels",
        "--loop",
        "0",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn config_flag_sets_the_vowels() {
    let wasm = plugin("as/count_vowels.wasm");
    let out = ok(run([
        "call",
        path_str(&wasm),
        "count_vowels",
        "-i",
        "HELLO world",
    ]));
    assert_eq!(out, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
    let out = ok(run([
        "call",
        path_str(&wasm),
        "count_vowels",
        "-i",
        "HELLO world",
        "--config",
        "vowels=aeiou",
    ]));
    assert_eq!(out, r#"{"count":1,"total":1,"vowels":"aeiou"}"#);
}

#[test]
fn set_config_merges_json() {
    let wasm = plugin("as/count_vowels.wasm");
    let out = ok(run([
        "call",
        path_str(&wasm),
        "count_vowels",
        "-i",
        HELLO,
        "--set-config",
        r#"{"vowels":"l"}"#,
    ]));
    assert_eq!(out, r#"{"count":3,"total":3,"vowels":"l"}"#);
    // --config keys win over --set-config.
    let out = ok(run([
        "call",
        path_str(&wasm),
        "count_vowels",
        "-i",
        HELLO,
        "--set-config",
        r#"{"vowels":"l"}"#,
        "--config",
        "vowels=W",
    ]));
    assert_eq!(out, r#"{"count":1,"total":1,"vowels":"W"}"#);
}

#[test]
fn bad_flag_values_are_usage_errors() {
    let wasm = plugin("as/count_vowels.wasm");
    for bad in [
        ["--set-config", r#"{"vowels":1}"#],
        ["--set-config", "not json"],
        ["--config", "novalue"],
        ["--link", "nopath"],
        ["--allow-path", "ro:"],
        ["--timeout", "soon"],
        ["--log-level", "loud"],
    ] {
        let output = run(["call", path_str(&wasm), "count_vowels"]
            .into_iter()
            .chain(bad));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{bad:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(bad[0]),
            "{bad:?}: {}",
            stderr(&output)
        );
    }
    let output = run([
        "call",
        path_str(&wasm),
        "count_vowels",
        "-i",
        "x",
        "--stdin",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn config_key_lookup() {
    let out = ok(run([
        "call",
        path_str(&plugin("as/errors.wasm")),
        "config_or_missing",
        "-i",
        "greeting",
        "--config",
        "greeting=a=b",
    ]));
    assert_eq!(out, "a=b");
}

#[test]
fn stdin_input_is_byte_exact() {
    let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    let output = run_with_stdin(
        &["call", path_str(&plugin("c/echo.wasm")), "echo", "--stdin"],
        &bytes,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(output.stdout, bytes);

    let output = run_with_stdin(
        &[
            "call",
            path_str(&plugin("as/count_vowels.wasm")),
            "count_vowels",
            "--stdin",
        ],
        HELLO.as_bytes(),
    );
    assert_eq!(ok(output), r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
}

#[test]
fn no_input_means_empty_input() {
    let out = ok(run(["call", path_str(&plugin("c/echo.wasm")), "echo"]));
    assert_eq!(out, "");
    let out = ok(run(["call", path_str(&plugin("c/echo.wasm")), "sum_bytes"]));
    assert_eq!(out, "0");
}

#[test]
fn vars_persist_across_loop_calls() {
    let out = ok(run([
        "call",
        path_str(&plugin("as/errors.wasm")),
        "var_roundtrip",
        "-i",
        "xyz",
        "--loop",
        "2",
    ]));
    assert_eq!(out, "xyz\nxyz\n");
}

// ---- manifests and text modules ----

#[test]
fn json_manifest_paths_are_relative_to_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("project");
    std::fs::create_dir_all(sub.join("plugins")).unwrap();
    std::fs::copy(plugin("as/count_vowels.wasm"), sub.join("plugins/cv.wasm")).unwrap();
    std::fs::write(
        sub.join("plugin.json"),
        r#"{"wasm": [{"path": "plugins/cv.wasm"}], "config": {"vowels": "o"}}"#,
    )
    .unwrap();
    // From the temporary directory, the wasm path is relative to the manifest, not to the
    // working directory.
    let output = xtism()
        .current_dir(dir.path())
        .args(["call", "project/plugin.json", "count_vowels", "-i", HELLO])
        .output()
        .unwrap();
    assert_eq!(ok(output), r#"{"count":2,"total":2,"vowels":"o"}"#);
    // An absolute manifest path from any working directory; flags apply over the manifest.
    let out = ok(run([
        "call",
        path_str(&sub.join("plugin.json")),
        "count_vowels",
        "-i",
        HELLO,
        "--config",
        "vowels=l",
    ]));
    assert_eq!(out, r#"{"count":3,"total":3,"vowels":"l"}"#);
}

#[cfg(feature = "toml")]
#[test]
fn toml_manifest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(plugin("as/count_vowels.wasm"), dir.path().join("cv.wasm")).unwrap();
    let manifest = dir.path().join("plugin.toml");
    std::fs::write(
        &manifest,
        "[[wasm]]\npath = \"cv.wasm\"\n\n[config]\nvowels = \"lo\"\n",
    )
    .unwrap();
    let out = ok(run([
        "call",
        path_str(&manifest),
        "count_vowels",
        "-i",
        HELLO,
    ]));
    assert_eq!(out, r#"{"count":5,"total":5,"vowels":"lo"}"#);
}

#[test]
fn manifest_flag_reads_any_extension() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(plugin("c/echo.wasm"), dir.path().join("echo.wasm")).unwrap();
    let json = dir.path().join("plugin.manifest");
    std::fs::write(&json, r#"{"wasm": [{"path": "echo.wasm"}]}"#).unwrap();
    let toml = dir.path().join("plugin.cfg");
    std::fs::write(&toml, "[[wasm]]\npath = \"echo.wasm\"\n").unwrap();
    #[cfg(not(feature = "toml"))]
    {
        let err = fails(run(["call", path_str(&toml), "echo", "--manifest"]), 1);
        assert!(err.contains("leaves TOML manifests out"), "{err}");
    }
    #[cfg(feature = "toml")]
    let files = [&json, &toml];
    #[cfg(not(feature = "toml"))]
    let files = [&json];
    for file in files {
        let out = ok(run([
            "call",
            path_str(file),
            "echo",
            "-i",
            "hi",
            "--manifest",
        ]));
        assert_eq!(out, "hi");
    }
    // Without --manifest it is taken for Wasm bytes.
    let err = fails(run(["call", path_str(&json), "echo"]), 1);
    assert!(err.contains("does not compile"), "{err}");
}

#[test]
fn bad_manifests_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, r#"{"wasm": [{"path": "x.wasm"}], "bogus": 1}"#).unwrap();
    let err = fails(run(["call", path_str(&bad_json), "f"]), 1);
    assert!(err.contains("bogus"), "{err}");

    let missing_module = dir.path().join("missing.json");
    std::fs::write(&missing_module, r#"{"wasm": [{"path": "nowhere.wasm"}]}"#).unwrap();
    let err = fails(run(["call", path_str(&missing_module), "f"]), 1);
    assert!(err.contains("nowhere.wasm"), "{err}");

    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    let err = fails(run(["call", path_str(&empty), "f"]), 1);
    assert!(err.contains("no wasm modules"), "{err}");
}

/// A build without the `toml` or `wat` feature refuses what it leaves out with one line
/// that says so and names the file.
#[cfg(not(all(feature = "toml", feature = "wat")))]
#[test]
fn left_out_formats_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(not(feature = "toml"))]
    {
        let manifest = dir.path().join("plugin.toml");
        std::fs::write(&manifest, "[[wasm]]\npath = \"cv.wasm\"\n").unwrap();
        let err = fails(run(["call", path_str(&manifest), "count_vowels"]), 1);
        assert!(
            err.contains("plugin.toml")
                && err.contains("this build of xtism leaves TOML manifests out"),
            "{err}"
        );
    }
    #[cfg(not(feature = "wat"))]
    {
        let wat = dir.path().join("echo.wat");
        std::fs::write(&wat, ECHO_WAT).unwrap();
        let err = fails(run(["call", path_str(&wat), "echo"]), 1);
        assert!(
            err.contains("echo.wat")
                && err.contains("this build of xtism leaves WebAssembly text out"),
            "{err}"
        );
    }
}

#[cfg(feature = "wat")]
#[test]
fn wat_file() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("echo.wat");
    std::fs::write(&wat, ECHO_WAT).unwrap();
    let out = ok(run(["call", path_str(&wat), "echo", "-i", "héllo 🎉"]));
    assert_eq!(out, "héllo 🎉");

    let broken = dir.path().join("broken.wat");
    std::fs::write(&broken, "(module (func (export \"f\") (result i32)").unwrap();
    let err = fails(run(["call", path_str(&broken), "f"]), 1);
    assert!(err.contains("broken.wat"), "{err}");
}

#[cfg(feature = "wat")]
#[test]
fn link_adds_a_named_module() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib.wat");
    std::fs::write(&lib, ECHO_WAT.replace("\"echo\"", "\"echo_impl\"")).unwrap();
    let main = dir.path().join("main.wat");
    std::fs::write(
        &main,
        r#"(module
  (import "lib" "echo_impl" (func $echo_impl (result i32)))
  (func (export "echo") (result i32) (call $echo_impl)))
"#,
    )
    .unwrap();
    let link = format!("lib={}", path_str(&lib));
    let out = ok(run([
        "call",
        path_str(&main),
        "echo",
        "-i",
        "linked",
        "--link",
        &link,
    ]));
    assert_eq!(out, "linked");

    // Without the link, the import is missing.
    let err = fails(run(["call", path_str(&main), "echo"]), 1);
    assert!(err.contains("echo_impl"), "{err}");

    // The main module's name is taken.
    let link = format!("main={}", path_str(&lib));
    let err = fails(run(["call", path_str(&main), "echo", "--link", &link]), 1);
    assert!(err.contains("main"), "{err}");

    // Host functions written in Wasm, linked under the namespace the plug-in imports.
    let link = format!(
        "extism:host/user={}",
        path_str(&plugin("wat/host_user.wat"))
    );
    let out = ok(run([
        "call",
        path_str(&plugin("as/host_fn.wasm")),
        "call_host",
        "-i",
        "Bob",
        "--link",
        &link,
    ]));
    assert_eq!(out, "Wasm says hi to Bob!");
}

// ---- errors and exit codes ----

#[test]
fn plugin_error_message_and_code() {
    let output = run([
        "call",
        path_str(&plugin("as/errors.wasm")),
        "fail",
        "-i",
        "boom",
    ]);
    let err = fails(output, 1);
    assert!(err.contains("failed on purpose: boom"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[cfg(feature = "wat")]
#[test]
fn plugin_exit_codes_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("codes.wat");
    std::fs::write(
        &wat,
        r#"(module
  (func (export "code42") (result i32) (i32.const 42))
  (func (export "code300") (result i32) (i32.const 300))
  (func (export "negative") (result i32) (i32.const -1)))
"#,
    )
    .unwrap();
    let err = fails(run(["call", path_str(&wat), "code42"]), 42);
    assert!(err.contains("42"), "{err}");
    fails(run(["call", path_str(&wat), "code300"]), 1);
    fails(run(["call", path_str(&wat), "negative"]), 1);
}

#[test]
fn unknown_function() {
    let err = fails(
        run([
            "call",
            path_str(&plugin("as/count_vowels.wasm")),
            "no_such_function",
        ]),
        1,
    );
    assert!(err.contains("\"no_such_function\""), "{err}");
}

#[test]
fn missing_file() {
    let err = fails(run(["call", "/nonexistent/plugin.wasm", "f"]), 1);
    assert!(err.contains("/nonexistent/plugin.wasm"), "{err}");
    let err = fails(run(["call", "/nonexistent/plugin.json", "f"]), 1);
    assert!(err.contains("/nonexistent/plugin.json"), "{err}");
    let err = fails(run(["info", "/nonexistent/plugin.wat"]), 1);
    assert!(err.contains("/nonexistent/plugin.wat"), "{err}");
}

#[test]
fn malformed_wasm() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    // Deterministic noise that is not a Wasm module.
    let mut x: u32 = 0x1234_5678;
    let bytes: Vec<u8> = (0..256)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(&junk, &bytes).unwrap();
    let err = fails(run(["call", path_str(&junk), "f"]), 1);
    assert!(err.contains("does not compile"), "{err}");

    // A truncated module.
    let real = std::fs::read(plugin("c/echo.wasm")).unwrap();
    std::fs::write(&junk, &real[..real.len() / 2]).unwrap();
    let err = fails(run(["call", path_str(&junk), "echo"]), 1);
    assert!(err.contains("does not compile"), "{err}");
    let err = fails(run(["info", path_str(&junk)]), 1);
    assert!(err.contains("does not compile"), "{err}");
}

#[test]
fn missing_host_function_is_named() {
    let err = fails(
        run([
            "call",
            path_str(&plugin("as/host_fn.wasm")),
            "call_host",
            "-i",
            "Bob",
        ]),
        1,
    );
    assert!(err.contains("hello_world"), "{err}");
    assert!(err.contains("extism:host/user"), "{err}");
}

#[test]
fn unknown_engine_lists_the_engines() {
    for cmd in [
        vec!["call", "PLUGIN", "count_vowels", "--engine", "nope"],
        vec!["info", "PLUGIN", "--engine", "nope"],
    ] {
        let wasm = plugin("as/count_vowels.wasm");
        let args: Vec<&str> = cmd
            .iter()
            .map(|a| if *a == "PLUGIN" { path_str(&wasm) } else { a })
            .collect();
        let err = fails(run(&args), 1);
        assert!(err.contains("nope"), "{err}");
        #[cfg(feature = "wasmi")]
        assert!(err.contains("wasmi"), "{err}");
    }
}

#[test]
fn engine_from_the_environment() {
    let wasm = plugin("as/count_vowels.wasm");
    let output = xtism()
        .env("XTISM_ENGINE", "nope")
        .args(["call", path_str(&wasm), "count_vowels", "-i", HELLO])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = fails(output, 1);
    assert!(err.contains("unknown engine \"nope\""), "{err}");
    #[cfg(feature = "wasmi")]
    {
        let output = xtism()
            .env("XTISM_ENGINE", "wasmi")
            .args(["call", path_str(&wasm), "count_vowels", "-i", HELLO])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(ok(output), r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
    }
}

#[cfg(feature = "wasmi")]
#[test]
fn engine_by_name() {
    let out = ok(run([
        "call",
        path_str(&plugin("as/count_vowels.wasm")),
        "count_vowels",
        "-i",
        HELLO,
        "--engine",
        "wasmi",
    ]));
    assert_eq!(out, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#);
}

/// `--wasi` with `--allow-path`: the plug-in reads the mapped directory, its WASI output is
/// shown only with `EXTISM_ENABLE_WASI_OUTPUT`, and `proc_exit(n)` is the exit code.
#[cfg(all(feature = "wasmi", feature = "wasi"))]
#[test]
fn wasi_plugins_run_with_allowed_paths() {
    let wasm = plugin("c/wasi.wasm");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "Hello from the host").unwrap();
    let mapping = format!("ro:{}:/data", dir.path().display());
    let call = |export: &str, input: &str| {
        let mut command = xtism();
        command
            .args(["call", path_str(&wasm), export, "-i", input])
            .args(["--engine", "wasmi", "--wasi", "--allow-path", &mapping])
            .stdin(Stdio::null());
        command
    };
    let out = ok(call("read_file", "/data/hello.txt").output().unwrap());
    assert_eq!(out, "Hello from the host");
    let err = fails(call("write_file", "/data/x.txt\nx").output().unwrap(), 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!dir.path().join("x.txt").exists());

    let out = ok(call("write_stdio", "hi").output().unwrap());
    assert_eq!(out, "ok", "WASI output is discarded by default");
    let output = call("write_stdio", "hi")
        .env("EXTISM_ENABLE_WASI_OUTPUT", "1")
        .output()
        .unwrap();
    assert!(stderr(&output).contains("err: hi"), "{}", stderr(&output));
    assert_eq!(ok(output), "hi\nok");

    let err = fails(call("exit_with", "42").output().unwrap(), 42);
    assert!(err.contains("exited with code 42"), "{err}");

    let output = run(["call", path_str(&wasm), "ctor_count", "--engine", "wasmi"]);
    let err = fails(output, 1);
    assert!(
        err.contains("--wasi") && err.contains("wasi_snapshot_preview1"),
        "{err}"
    );
    let output = run([
        "call",
        path_str(&wasm),
        "ctor_count",
        "--allow-path",
        &mapping,
    ]);
    let err = fails(output, 1);
    assert!(
        err.contains("--allow-path") && err.contains("--wasi"),
        "{err}"
    );
}

/// Waits for `child` at most `limit`, killing it after that.
#[cfg(feature = "wat")]
fn wait_at_most(mut child: std::process::Child, limit: Duration) -> Option<Output> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[cfg(feature = "wat")]
#[test]
fn timeout_is_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("spin.wat");
    std::fs::write(
        &wat,
        r#"(module (func (export "spin") (result i32) (loop $l (br $l)) (i32.const 0)))"#,
    )
    .unwrap();
    let child = xtism()
        .args(["call", path_str(&wat), "spin", "--timeout", "200"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = wait_at_most(child, Duration::from_secs(60))
        .expect("--timeout 200 was ignored: the call still runs after 60 s");
    let err = fails(output, 1);
    assert!(err.contains("timed out after 200 ms"), "{err}");
}

#[test]
fn var_max_zero_disables_vars() {
    let err = fails(
        run([
            "call",
            path_str(&plugin("as/count_vowels.wasm")),
            "count_vowels",
            "-i",
            HELLO,
            "--var-max",
            "0",
        ]),
        1,
    );
    assert!(err.contains("max_var_bytes"), "{err}");
    assert!(err.contains("disabled"), "{err}");
}

#[test]
fn var_max_small_is_a_memory_limit() {
    // The key `total` and the value `3` need 6 bytes, plus the 48 every var counts.
    let wasm = plugin("as/count_vowels.wasm");
    let err = fails(
        run([
            "call",
            path_str(&wasm),
            "count_vowels",
            "-i",
            HELLO,
            "--var-max",
            "53",
        ]),
        1,
    );
    assert!(err.contains("max_var_bytes"), "{err}");
    ok(run([
        "call",
        path_str(&wasm),
        "count_vowels",
        "-i",
        HELLO,
        "--var-max",
        "54",
    ]));
}

#[test]
fn memory_max_limits_memory() {
    // echo.wasm starts with a 1 MiB stack: more than 2 pages.
    let wasm = plugin("c/echo.wasm");
    let err = fails(
        run(["call", path_str(&wasm), "echo", "--memory-max", "2"]),
        1,
    );
    assert!(err.contains("memory"), "{err}");
    let out = ok(run([
        "call",
        path_str(&wasm),
        "echo",
        "-i",
        "fits",
        "--memory-max",
        "32",
    ]));
    assert_eq!(out, "fits");
}

#[cfg(feature = "wasmi")]
#[test]
fn fuel_limits_calls() {
    let wasm = plugin("c/echo.wasm");
    let out = ok(run([
        "call",
        path_str(&wasm),
        "sum_bytes",
        "-i",
        "abc",
        "--fuel",
        "1000000",
        "--loop",
        "2",
    ]));
    assert_eq!(out, "294\n294\n");
    let input = "x".repeat(10_000);
    let err = fails(
        run([
            "call",
            path_str(&wasm),
            "sum_bytes",
            "-i",
            &input,
            "--fuel",
            "100",
        ]),
        1,
    );
    assert!(err.contains("fuel"), "{err}");
}

/// The AssemblyScript plug-ins have a Wasm start function, which runs when the module is
/// instantiated; with fuel metering on (for `--fuel`, and for `--timeout` on wasmi) it must
/// still run.
#[cfg(feature = "wasmi")]
#[test]
fn metering_with_a_start_function() {
    let wasm = plugin("as/count_vowels.wasm");
    for flags in [["--fuel", "100000000"], ["--timeout", "10000"]] {
        let mut args = vec!["call", path_str(&wasm), "count_vowels", "-i", HELLO];
        args.extend(flags);
        let out = ok(run(&args));
        assert_eq!(
            out, r#"{"count":3,"total":3,"vowels":"aeiouAEIOU"}"#,
            "{flags:?}"
        );
    }
}

// ---- logging ----

#[test]
fn log_level_prints_plugin_logs_to_stderr() {
    let wasm = plugin("as/errors.wasm");
    let output = run([
        "call",
        path_str(&wasm),
        "log_all",
        "-i",
        "marker-text",
        "--log-level",
        "info",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "logged");
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("marker-text")).collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(lines[0].contains("INFO"), "{err}");
    assert!(lines[1].contains("WARN"), "{err}");
    assert!(lines[2].contains("ERROR"), "{err}");
    assert!(lines.iter().all(|l| l.contains("xtism::plugin")), "{err}");

    let output = run(["call", path_str(&wasm), "log_all", "-i", "marker-text"]);
    assert!(output.status.success());
    assert_eq!(stderr(&output), "", "logs are off by default");

    let output = run([
        "call",
        path_str(&wasm),
        "log_all",
        "-i",
        "marker-text",
        "--log-level",
        "debug",
    ]);
    let err = stderr(&output);
    let lines = err.lines().filter(|l| l.contains("marker-text")).count();
    assert_eq!(lines, 4, "{err}");
    // The plug-in's creation, as the official runtime logs it at debug.
    assert!(
        err.lines()
            .any(|l| l.contains("DEBUG xtism: created plugin=")),
        "{err}"
    );
    // Only xtism's targets: no engine's own logs (Cranelift's, at debug) around them.
    let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];
    let targets: Vec<&str> = err
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace().skip(1);
            levels
                .contains(&words.next()?)
                .then(|| words.next())
                .flatten()
        })
        .collect();
    assert!(targets.len() >= 4, "{err}");
    assert!(targets.iter().all(|t| t.starts_with("xtism")), "{err}");
}

// ---- info ----

#[test]
fn info_count_vowels() {
    let out = ok(run(["info", path_str(&plugin("as/count_vowels.wasm"))]));
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let default = xtism::ENGINES[0];
    assert!(
        lines.contains(&format!("engine: {default}").as_str()),
        "{out}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("capabilities: ")),
        "{out}"
    );
    assert!(lines.contains(&"module: main"), "{out}");
    assert!(
        lines.contains(&"export: count_vowels func() -> (i32)"),
        "{out}"
    );
    assert!(
        lines.contains(&"import: extism:host/env config_get func(i64) -> (i64)"),
        "{out}"
    );
    assert!(lines.contains(&"needs: config"), "{out}");
    assert!(lines.contains(&"needs: vars"), "{out}");
    assert!(!lines.contains(&"needs: logging"), "{out}");
    assert!(lines.contains(&"initializer: none"), "{out}");
    // The functions a host can call, from `Plugin::functions`.
    assert!(
        lines.contains(&"function: count_vowels func() -> (i32)"),
        "{out}"
    );
}

#[test]
fn info_features() {
    let out = ok(run(["info", path_str(&plugin("as/errors.wasm"))]));
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(lines.contains(&"needs: logging"), "{out}");

    let out = ok(run(["info", path_str(&plugin("as/host_fn.wasm"))]));
    assert!(
        out.contains("needs: host function extism:host/user::hello_world func(i64) -> (i64)"),
        "{out}"
    );
    // Built with a stand-in for the host function, to list what a host can call.
    assert!(
        out.contains("\nfunction: call_host func() -> (i32)\n"),
        "{out}"
    );

    let out = ok(run(["info", path_str(&plugin("c/ctors.wasm"))]));
    assert!(out.contains("initializer: __wasm_call_ctors"), "{out}");
    assert!(out.contains("needs: none"), "{out}");
}

#[cfg(feature = "wat")]
#[test]
fn info_on_a_manifest_with_several_modules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lib.wat"),
        r#"(module (func (export "helper") (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let lib = wat::parse_file(dir.path().join("lib.wat")).unwrap();
    std::fs::write(dir.path().join("lib.wasm"), lib).unwrap();
    let main = wat::parse_str(
        r#"(module
  (import "lib" "helper" (func $h (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "extism:host/env" "http_request" (func (param i64 i64) (result i64)))
  (func (export "_start")))"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("app.wasm"), main).unwrap();
    let manifest = dir.path().join("plugin.json");
    std::fs::write(
        &manifest,
        r#"{"wasm": [{"path": "lib.wasm", "name": "lib"}, {"path": "app.wasm"}]}"#,
    )
    .unwrap();
    let out = ok(run(["info", path_str(&manifest)]));
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(lines.contains(&"module: lib"), "{out}");
    assert!(lines.contains(&"module: main"), "{out}");
    assert!(lines.contains(&"needs: HTTP"), "{out}");
    assert!(lines.contains(&"needs: WASI"), "{out}");
    assert!(lines.contains(&"needs: module lib"), "{out}");
    assert!(
        lines.iter().any(|l| l.starts_with("command: _start")),
        "{out}"
    );
    assert!(lines.contains(&"function: _start func() -> ()"), "{out}");
    assert!(
        !lines.contains(&"function: helper func() -> (i32)"),
        "{out}"
    );
}

// ---- clap ----

#[test]
fn version_and_help() {
    let out = ok(run(["--version"]));
    assert_eq!(out.trim(), format!("xtism {}", env!("CARGO_PKG_VERSION")));
    let out = ok(run(["--help"]));
    assert!(out.contains("call") && out.contains("info"), "{out}");
    let out = ok(run(["call", "--help"]));
    for flag in [
        "--input",
        "--stdin",
        "--engine",
        "--wasi",
        "--config",
        "--set-config",
        "--allow-host",
        "--allow-path",
        "--timeout",
        "--memory-max",
        "--var-max",
        "--http-response-max",
        "--enable-http-response-headers",
        "--fuel",
        "--link",
        "--manifest",
        "--loop",
        "--log-level",
    ] {
        assert!(out.contains(flag), "{flag} missing from help:\n{out}");
    }
    let output = run(["call"]);
    assert_eq!(output.status.code(), Some(2));
}

/// A wasmi-only build pulls in no JIT engine: no code generator (Cranelift's) and no JIT
/// runtime (wasmtime, wasmer) in its dependency tree, with WASI (whose wasi-common uses
/// wasmtime's data-structure crates) or without it. The minimal build (`wasmi` alone) also
/// leaves WASI (wasi-common), HTTP (ureq, rustls), TOML (toml), WebAssembly text (wast) and
/// log filters (regex-automata) out; the default build has them.
#[test]
fn wasmi_only_build_has_no_jit_engine_and_no_http() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let tree = |package: &str, features: &[&str]| -> Vec<String> {
        let output = Command::new(env!("CARGO"))
            .current_dir(&root)
            .args(["tree", "--offline", "-p", package, "-e", "normal"])
            .args(["--prefix", "none"])
            .args(features)
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
            .lines()
            .filter_map(|l| l.split(' ').next())
            .map(str::to_owned)
            .collect()
    };
    let jit = |name: &str| {
        name == "wasmtime"
            || name.starts_with("wasmer")
            || name.starts_with("cranelift-codegen")
            || name.starts_with("cranelift-frontend")
            || name.starts_with("cranelift-native")
            || (name.starts_with("wasmtime") && name.contains("cranelift"))
    };
    let has = |names: &[String], crate_name: &str| names.iter().any(|n| n == crate_name);
    for package in ["xtism", "xtism-cli"] {
        for features in ["wasmi", "wasmi,wasi"] {
            let names = tree(package, &["--no-default-features", "--features", features]);
            assert!(has(&names, "wasmi"), "{names:?}");
            for name in &names {
                assert!(!jit(name), "{package} with {features} depends on {name}");
            }
            assert!(
                !has(&names, "ureq") && !has(&names, "rustls"),
                "{package} {features}"
            );
            assert_eq!(
                has(&names, "wasi-common"),
                features.contains("wasi"),
                "{package}"
            );
            assert!(
                !has(&names, "toml") && !has(&names, "regex-automata"),
                "{package} {features}"
            );
            // wasi-common's wiggle reads its interface with wast.
            assert_eq!(has(&names, "wast"), features.contains("wasi"), "{package}");
        }
        let default = tree(package, &[]);
        assert!(has(&default, "ureq"), "{package} has HTTP by default");
        assert!(
            has(&default, "wasi-common"),
            "{package} has WASI by default"
        );
        assert!(has(&default, "toml") && has(&default, "wast"), "{package}");
        if package == "xtism" {
            // `set_log_callback` takes `EnvFilter` directives by default.
            assert!(has(&default, "regex-automata"), "{package}");
        }
    }
}

/// The official runtime's debugging switches come from the environment; an engine without
/// one says so once on stderr and runs the plug-in anyway.
#[cfg(feature = "wasmi")]
#[test]
fn debugging_switches_from_the_environment() {
    let wasm = plugin("as/count_vowels.wasm");
    let output = xtism()
        .env("EXTISM_DEBUG", "1")
        .env("EXTISM_PROFILE", "perf")
        .args(["call", path_str(&wasm), "count_vowels", "-i", HELLO])
        .args(["--engine", "wasmi", "--loop", "2"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(
        ok(output),
        "{\"count\":3,\"total\":3,\"vowels\":\"aeiouAEIOU\"}\n{\"count\":3,\"total\":6,\"vowels\":\"aeiouAEIOU\"}\n"
    );
    assert_eq!(
        err.matches("does not support debug info").count(),
        1,
        "{err}"
    );
    assert_eq!(
        err.matches("does not support profiling (Perf)").count(),
        1,
        "{err}"
    );

    // EXTISM_MEMDUMP: a failing call writes the plug-in's memory to the file.
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("memory.bin");
    let output = xtism()
        .env("EXTISM_MEMDUMP", &dump)
        .args([
            "call",
            path_str(&plugin("as/errors.wasm")),
            "fail",
            "-i",
            "x",
        ])
        .args(["--engine", "wasmi"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    fails(output, 1);
    let bytes = std::fs::read(&dump).expect("a memory dump");
    assert!(
        bytes.len() >= 65536 && bytes.len().is_multiple_of(65536),
        "{}",
        bytes.len()
    );
}

/// Each kind of failure the command can meet is printed as one `error:` line that names the
/// plug-in file, on every engine (`fails` checks the single line).
#[cfg(feature = "wat")]
#[test]
fn every_kind_of_failure_is_one_line_naming_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path_str(&path).to_owned()
    };
    let readme = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md").to_owned();
    let broken = write("broken.wat", "(module (func (export \"f\") (result i32)");
    let bad_json = write("bad.json", r#"{"wasm": [], "bogus": 1}"#);
    let linked = write(
        "linked.wat",
        r#"(module (import "lib" "f" (func)) (func (export "g") (result i32) (i32.const 0)))"#,
    );
    let trap = write(
        "trap.wat",
        r#"(module (func $deep (export "deep") (result i32) (unreachable)))"#,
    );
    let spin = write(
        "spin.wat",
        r#"(module (func (export "spin") (result i32) (loop $l (br $l)) (i32.const 0)))"#,
    );
    let errors = path_str(&plugin("as/errors.wasm")).to_owned();
    let wasi = path_str(&plugin("c/wasi.wasm")).to_owned();
    let count_vowels = path_str(&plugin("as/count_vowels.wasm")).to_owned();
    let http = path_str(&plugin("as/http.wasm")).to_owned();
    // (arguments after the engine, what the message says besides the file name)
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["call", &readme, "f"], "README.md", "does not compile"),
        (vec!["info", &readme], "README.md", "does not compile"),
        (
            vec!["call", &broken, "f"],
            "broken.wat",
            "invalid WebAssembly text",
        ),
        (vec!["call", &bad_json, "f"], "bad.json", "bogus"),
        (
            vec!["call", &linked, "g"],
            "linked.wat",
            "missing import lib::f",
        ),
        (
            vec!["call", &count_vowels, "nope"],
            "count_vowels.wasm",
            "\"nope\"",
        ),
        (vec!["call", &trap, "deep"], "trap.wat", "trapped"),
        (
            vec!["call", &spin, "spin", "--timeout", "50"],
            "spin.wat",
            "timed out",
        ),
        (
            vec!["call", &spin, "spin", "--fuel", "10000"],
            "spin.wat",
            "fuel",
        ),
        (
            vec!["call", &errors, "fail", "-i", "boom"],
            "errors.wasm",
            "failed on purpose: boom",
        ),
        (vec!["call", &wasi, "ctor_count"], "wasi.wasm", "needs WASI"),
        (
            vec!["call", &http, "http_get", "-i", "http://127.0.0.1:9/"],
            "http.wasm",
            "not allowed",
        ),
        (
            vec!["call", &count_vowels, "count_vowels", "--engine", "bogus"],
            "count_vowels.wasm",
            "unknown engine",
        ),
    ];
    for engine in xtism::ENGINES {
        for (args, file, says) in &cases {
            let mut command = xtism();
            command.args(args).stdin(Stdio::null());
            if !args.contains(&"--engine") {
                command.args(["--engine", engine]);
            }
            let err = fails(command.output().unwrap(), 1);
            assert!(
                err.contains(file) && err.contains(says),
                "{engine}: xtism {args:?}: {err}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// `xtism conformance`

/// The engines `xtism conformance` reports on by default: the header's columns.
#[cfg(feature = "conformance")]
fn conformance_engines(out: &str) -> Vec<String> {
    let header = out.lines().next().expect("a header line");
    let mut columns = header.split_whitespace();
    assert_eq!(columns.next(), Some("case"), "{out}");
    columns.map(str::to_owned).collect()
}

#[cfg(feature = "conformance")]
#[test]
fn conformance_prints_a_table_and_a_count() {
    let out = ok(run(["conformance", "--filter", "kernel::var_limit"]));
    let engines = conformance_engines(&out);
    assert!(!engines.is_empty(), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("kernel::var_limit"))
        .unwrap_or_else(|| panic!("no row for the case: {out}"));
    assert_eq!(row.matches("pass").count(), engines.len(), "{row}");
    assert_eq!(row.matches(" ms").count(), engines.len(), "{row}");
    let last = out.lines().last().unwrap();
    assert_eq!(last, format!("{} passed, 0 failed", engines.len()));
}

/// wasmi records no Wasm backtraces; the case checks its fallback there.
#[cfg(all(feature = "conformance", feature = "wasmi"))]
#[test]
fn conformance_marks_a_capability_fallback() {
    let out = ok(run([
        "conformance",
        "--engine",
        "wasmi",
        "--filter",
        "trap_has_wasm_backtrace",
    ]));
    assert_eq!(conformance_engines(&out), ["wasmi"]);
    assert!(out.contains("pass*"), "{out}");
    assert!(out.contains("wasmi has no backtraces"), "{out}");
    assert!(out.ends_with("1 passed, 0 failed\n"), "{out}");
}

#[cfg(feature = "conformance")]
#[test]
fn conformance_repeat_reports_peak_memory() {
    let out = ok(run([
        "conformance",
        "--filter",
        "hostile::hostile_infinite_loop",
        "--repeat",
        "3",
    ]));
    let line = out
        .lines()
        .find(|l| l.starts_with("peak resident memory: "))
        .unwrap_or_else(|| panic!("no peak memory line: {out}"));
    assert!(line.contains("after 3 repetitions"), "{line}");
}

#[cfg(feature = "conformance")]
#[test]
fn conformance_bad_arguments_are_one_line_errors() {
    let err = fails(run(["conformance", "--engine", "v8"]), 1);
    assert!(err.contains("no engine named \"v8\""), "{err}");
    let err = fails(run(["conformance", "--filter", "no such case"]), 1);
    assert!(err.contains("no case matches"), "{err}");
}

// ---- the compile cache ----

/// A JIT engine compiled in: the engines that keep a compile cache.
#[cfg(any(feature = "wasmtime", feature = "wasmer"))]
const JIT: &str = if cfg!(feature = "wasmtime") {
    "wasmtime"
} else {
    "wasmer"
};

/// The files in `dir`, or none when it does not exist.
#[cfg(any(feature = "wasmtime", feature = "wasmer"))]
fn files_in(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Calls count_vowels on the JIT engine with `env` set and the cache variables removed
/// first, so only `env` decides where the cache goes.
#[cfg(any(feature = "wasmtime", feature = "wasmer"))]
fn call_with_env(env: &[(&str, &Path)]) {
    let mut cmd = xtism();
    cmd.env_remove("XTISM_CACHE_DIR")
        .env_remove("XDG_CACHE_HOME");
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd
        .args([
            "call",
            path_str(&plugin("as/count_vowels.wasm")),
            "count_vowels",
        ])
        .args(["-i", HELLO, "--engine", JIT])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        ok(out),
        "{\"count\":3,\"total\":3,\"vowels\":\"aeiouAEIOU\"}"
    );
}

#[test]
#[cfg(any(feature = "wasmtime", feature = "wasmer"))]
fn the_compile_cache_is_on_by_default_and_moved_or_disabled_by_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    // XTISM_CACHE_DIR moves it.
    let moved = tmp.path().join("moved");
    call_with_env(&[("XTISM_CACHE_DIR", &moved)]);
    let files = files_in(&moved);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with(&format!("{JIT}-")), "{files:?}");
    // A second run reuses the artifact.
    call_with_env(&[("XTISM_CACHE_DIR", &moved)]);
    assert_eq!(files_in(&moved), files);
    // By default it is in the user's cache directory (on Linux, $HOME/.cache without
    // XDG_CACHE_HOME).
    let home = tmp.path().join("home");
    if cfg!(target_os = "linux") {
        call_with_env(&[("HOME", &home)]);
        assert_eq!(files_in(&home.join(".cache/xtism")).len(), 1);
    }
    // `off` disables it: nothing is written anywhere under the home directory.
    let other_home = tmp.path().join("other-home");
    call_with_env(&[("HOME", &other_home), ("XTISM_CACHE_DIR", Path::new("off"))]);
    assert!(!other_home.exists());
}
