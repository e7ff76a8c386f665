//! The official Extism Python SDK, code the Extism project wrote against its own libextism,
//! runs plug-ins on libxtism on every engine compiled in.
//!
//! The test installs the SDK from PyPI (`extism` and `extism-sys`, pinned) into a virtualenv
//! under the target directory, kept between runs, and copies the libxtism built for this
//! test over the `libextism_sys` that `extism-sys` ships. It checks once that the SDK loaded
//! libxtism (its `extism_version` names xtism), then runs `python/sdk_test.py` on the
//! conformance plug-ins with `XTISM_ENGINE` set to each engine in turn. The script prints one
//! line per check and fails if any check fails.
//!
//! The test needs `python3` with its `venv` module, and pip must reach PyPI the first time.
//! When one of these is missing it prints `SKIPPED: official Python SDK test: <reason>` to
//! stderr and returns without checking anything; every other problem fails the test.

use std::env::consts::{DLL_EXTENSION, DLL_PREFIX, DLL_SUFFIX};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

/// The SDK, pinned: the Python package and the one with the native library it loads.
const SDK: [(&str, &str); 2] = [("extism", "1.1.1"), ("extism-sys", "1.41.0")];

/// The engines this build of libxtism has, by `XTISM_ENGINE` name.
const ENGINES: [(&str, bool); 3] = [
    ("wasmtime", cfg!(feature = "wasmtime")),
    ("wasmi", cfg!(feature = "wasmi")),
    ("wasmer", cfg!(feature = "wasmer")),
];

/// What pip prints when it cannot reach the package index.
const UNREACHABLE: [&str; 5] = [
    "Failed to establish a new connection",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "SSLError",
];

/// Why the SDK cannot be set up on this machine.
struct Skip(String);

#[test]
fn official_python_sdk_runs_on_libxtism() {
    let profile_dir = common::library_dir();
    let lib = profile_dir.join(format!("{DLL_PREFIX}xtism{DLL_SUFFIX}"));
    assert!(lib.is_file(), "libxtism is not at {}", lib.display());

    let work = profile_dir.parent().unwrap().join("python-sdk");
    fs::create_dir_all(&work).unwrap();
    // Test runs that overlap share the virtualenv: one at a time.
    let lock = File::create(work.join("lock")).unwrap();
    lock.lock().unwrap();

    let python = match virtualenv(&work.join("venv")) {
        Ok(python) => python,
        Err(Skip(reason)) => {
            // Straight to the process's stderr: the harness captures eprintln!, and a
            // skipped run must not pass silently.
            writeln!(io::stderr(), "SKIPPED: official Python SDK test: {reason}").unwrap();
            return;
        }
    };
    install_libxtism(&python, &lib);

    let version = checked(
        python_cmd(&python)
            .args(["-c", "import extism; print(extism.extism_version())"])
            .output(),
        "extism.extism_version()",
    );
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    assert!(
        version.contains("xtism"),
        "the SDK did not load libxtism: extism_version() is {version:?}"
    );
    println!("the SDK runs on libxtism {version}");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/sdk_test.py");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/plugins");
    let mut failures = Vec::new();
    for (engine, _) in ENGINES.iter().filter(|(_, built)| *built) {
        let run = python_cmd(&python)
            .arg(&script)
            .arg(&corpus)
            .env("XTISM_ENGINE", engine)
            .output()
            .unwrap();
        let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
        print!("{stdout}");
        eprint!("{stderr}");
        let summary = format!("{engine}: ");
        let finished = stdout
            .lines()
            .any(|l| l.starts_with(&summary) && l.ends_with(" passed, 0 failed"));
        if !run.status.success() || !finished {
            failures.push(format!("{engine} ({}):\n{stdout}{stderr}", run.status));
        }
    }
    assert!(
        failures.is_empty(),
        "the official Python SDK failed on libxtism:\n{}",
        failures.join("\n")
    );
}

/// The virtualenv's Python, with the pinned SDK installed; reuses the virtualenv at `dir`
/// when it already has it.
fn virtualenv(dir: &Path) -> Result<PathBuf, Skip> {
    let python = dir.join("bin/python");
    if has_sdk(&python) {
        return Ok(python);
    }
    let created = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(dir)
        .output()
        .map_err(|e| Skip(format!("cannot run python3: {e}")))?;
    if !created.status.success() {
        let stderr = text(&created.stderr);
        if stderr.contains("ensurepip") || stderr.contains("No module named venv") {
            return Err(Skip(format!(
                "python3 has no working venv module: {}",
                stderr.trim()
            )));
        }
        panic!("python3 -m venv {} failed:\n{stderr}", dir.display());
    }
    let requirements = SDK.map(|(name, version)| format!("{name}=={version}"));
    let pip = python_cmd(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(&requirements)
        .output()
        .unwrap();
    if !pip.status.success() {
        let stderr = text(&pip.stderr);
        // pip's message, from the marker to the end of the quoted urllib3 error.
        let cause = UNREACHABLE.iter().find_map(|m| {
            let at = stderr.find(m)?;
            stderr[at..].split(['\'', '\n']).next()
        });
        if let Some(cause) = cause {
            return Err(Skip(format!(
                "pip cannot reach the package index to install {}: {cause}",
                requirements.join(" ")
            )));
        }
        panic!("pip install {} failed:\n{stderr}", requirements.join(" "));
    }
    assert!(
        has_sdk(&python),
        "pip installed something other than {requirements:?}"
    );
    Ok(python)
}

/// Whether `python` runs and has exactly the pinned SDK versions.
fn has_sdk(python: &Path) -> bool {
    let expected = SDK.map(|(_, version)| version).join(" ");
    let query = format!(
        "import importlib.metadata as m; print(' '.join(m.version(p) for p in {:?}))",
        SDK.map(|(name, _)| name)
    );
    python_cmd(python)
        .args(["-c", &query])
        .output()
        .is_ok_and(|out| out.status.success() && text(&out.stdout).trim() == expected)
}

/// Copies `lib` over the native library of the installed `extism_sys` package (atomically,
/// so that a process that still has the old file mapped keeps its copy).
fn install_libxtism(python: &Path, lib: &Path) {
    let located = checked(
        python_cmd(python)
            .args([
                "-c",
                "import importlib.util as u; \
                 print(u.find_spec('extism_sys').submodule_search_locations[0])",
            ])
            .output(),
        "locating extism_sys",
    );
    let package = PathBuf::from(text(&located.stdout).trim());
    let natives: Vec<PathBuf> = fs::read_dir(&package)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == DLL_EXTENSION))
        .collect();
    let [native] = natives.as_slice() else {
        panic!(
            "expected one native library in {}, found {natives:?}",
            package.display()
        );
    };
    let staged = package.join("libxtism.staged");
    fs::copy(lib, &staged).unwrap();
    fs::rename(&staged, native).unwrap();
}

/// A command running the virtualenv's `python` in isolated mode (no `PYTHON*` variables, no
/// user site-packages, no script directory on `sys.path`).
fn python_cmd(python: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg("-I");
    cmd
}

/// The output of a command that must succeed.
#[track_caller]
fn checked(output: io::Result<Output>, what: &str) -> Output {
    let output = output.unwrap();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
