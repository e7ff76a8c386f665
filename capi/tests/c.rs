//! The C test suite of libxtism: the programs in `tests/c/` use the C API the way a user of
//! the official libextism does (`#include "extism.h"`), and this test builds them with the
//! machine's `gcc` and runs them.
//!
//! Each program is linked twice, against `libxtism.so` and against `libxtism.a`, and run once
//! per engine compiled in (`XTISM_ENGINE`), with the conformance corpus as its argument. A
//! program exits non-zero after printing each failed check; a run that takes too long is
//! killed and counts as hung. The programs that use the shared library also run under
//! valgrind (on wasmi, unless `XTISM_VALGRIND_ENGINES` names more engines), which fails them
//! on a definite leak or a memory error (an invalid read or write, a use of uninitialised
//! memory); without valgrind that part prints `SKIPPED` and passes.
//!
//! Together the programs call every function of `include/extism.h`; see the comment at the
//! top of each `.c` file for what it covers.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;

/// The test programs, each `tests/c/<name>.c`. The two log programs are separate because
/// log setup happens once per process.
const PROGRAMS: &[&str] = &[
    "plugin",
    "errors",
    "host_functions",
    "compiled",
    "cancel",
    "log_custom",
    "log_file",
];

/// Flags of every compilation: the programs are C11 and warning-free.
const CFLAGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-pthread"];

/// The system libraries `libxtism.a` needs on Linux (glibc), as printed by
/// `cargo rustc -p xtism-capi --lib --crate-type staticlib -- --print native-static-libs`.
const NATIVE_STATIC_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// The engines the programs run on under valgrind, unless `XTISM_VALGRIND_ENGINES` lists
/// others (comma-separated). wasmi alone by default: the JIT engines pass too, but valgrind
/// makes their compilers crawl (plugin.c, which compiles the WASI and AssemblyScript
/// modules, takes over five minutes on wasmtime), while wasmi's runs take about two minutes
/// all together.
const VALGRIND_ENGINES: &str = "wasmi";

/// How long one run may take before it counts as hung and is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// How long one run under valgrind may take.
const VALGRIND_TIMEOUT: Duration = Duration::from_secs(900);

/// The exit code valgrind gives a program with a memory error or a definite leak.
const VALGRIND_ERROR_CODE: i32 = 97;

/// How a program is linked to libxtism.
#[derive(Clone, Copy, Debug)]
enum Linkage {
    /// Against `libxtism.so`, found through an rpath.
    Shared,
    /// Against `libxtism.a` and the system libraries it needs.
    Static,
}

impl Linkage {
    /// The crate type of the library, as labels and directories name it.
    fn name(self) -> &'static str {
        match self {
            Linkage::Shared => "cdylib",
            Linkage::Static => "staticlib",
        }
    }
}

/// The programs linked against the shared library, and the engines they run on.
struct SharedPrograms {
    /// Where the executables are, one per program.
    bin: PathBuf,
    /// The engines of this build of libxtism, from `xtism_engines()`.
    engines: Vec<String>,
}

/// The `capi` crate directory.
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The conformance corpus, the programs' argument.
fn corpus() -> PathBuf {
    crate_dir().join("../conformance/plugins")
}

/// Where the executables of `linkage` go.
fn bin_dir(linkage: Linkage) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("xtism-capi-c")
        .join(linkage.name());
    std::fs::create_dir_all(&dir).expect("the build directory");
    dir
}

/// Compiles `source` into `exe`, linked by `linkage` against the libraries in `lib`, and
/// panics with gcc's messages when that fails. The executable is written under a name of
/// this process and renamed into place, so that test runs sharing a target directory do not
/// run each other's half-written files.
fn compile(source: &Path, exe: &Path, linkage: Linkage, lib: &Path) {
    let partial = exe.with_extension(format!("partial-{}", std::process::id()));
    let mut gcc = Command::new("gcc");
    gcc.args(CFLAGS)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg("-I")
        .arg(crate_dir().join("tests/c"))
        .arg(source)
        .arg("-o")
        .arg(&partial);
    match linkage {
        Linkage::Shared => {
            gcc.arg("-L")
                .arg(lib)
                .arg("-lxtism")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        }
        // Without the library's debug info, each executable is about 130 MB instead of 530.
        Linkage::Static => {
            gcc.args(["-Wl,--gc-sections", "-Wl,--strip-debug"])
                .arg(lib.join("libxtism.a"))
                .args(NATIVE_STATIC_LIBS);
        }
    }
    let out = gcc.output().expect("gcc runs");
    assert!(
        out.status.success(),
        "gcc failed on {} ({}):\n{}{}",
        source.display(),
        linkage.name(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&partial, exe).expect("move the executable into place");
}

/// The source of test program `program`.
fn source(program: &str) -> PathBuf {
    crate_dir().join("tests/c").join(format!("{program}.c"))
}

/// Builds every program against the shared library (once per test process) and asks the
/// library for its engines.
fn shared_programs() -> &'static SharedPrograms {
    static BUILT: OnceLock<SharedPrograms> = OnceLock::new();
    BUILT.get_or_init(|| {
        let lib = common::library_dir();
        let bin = bin_dir(Linkage::Shared);
        for program in PROGRAMS {
            compile(&source(program), &bin.join(program), Linkage::Shared, lib);
        }

        // The engine list, from a program that prints xtism_engines().
        let engines_src = bin.join("engines.c");
        std::fs::write(
            &engines_src,
            "#include <stdio.h>\n#include \"extism.h\"\n\
             int main(void) { puts(xtism_engines()); return 0; }\n",
        )
        .expect("engines.c");
        let engines_exe = bin.join("engines");
        compile(&engines_src, &engines_exe, Linkage::Shared, lib);
        let out = Command::new(&engines_exe)
            .output()
            .expect("the engines program runs");
        assert!(out.status.success(), "the engines program failed: {out:?}");
        let engines = String::from_utf8(out.stdout)
            .expect("xtism_engines() is UTF-8")
            .trim()
            .split(',')
            .map(str::to_owned)
            .collect::<Vec<_>>();
        assert!(
            engines.iter().all(|e| !e.is_empty()),
            "xtism_engines() = {engines:?}"
        );
        SharedPrograms { bin, engines }
    })
}

/// What one run of a program gave.
struct Run {
    /// The exit code, or `None` when a signal ended it.
    code: Option<i32>,
    /// stdout and stderr, one after the other.
    text: String,
    /// How long it ran.
    took: Duration,
}

/// Runs `command` to its end, killing it after `timeout`.
fn run(mut command: Command, timeout: Duration) -> Result<Run, String> {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    // Drain both pipes while the program runs, so that a chatty one cannot block.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{command:?} hung: killed after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
    text.push_str(&String::from_utf8_lossy(&stderr.join().unwrap_or_default()));
    Ok(Run {
        code: status.code(),
        text,
        took: start.elapsed(),
    })
}

/// Runs `exe` (as `program`, linked by `linkage`) on each of `engines` under `wrapper` (a
/// command and its arguments, or nothing), adding a report of each failed run to
/// `failures`.
fn run_program(
    program: &str,
    exe: &Path,
    linkage: Linkage,
    wrapper: &[&str],
    engines: &[String],
    failures: &mut Vec<String>,
) {
    let timeout = if wrapper.is_empty() {
        RUN_TIMEOUT
    } else {
        VALGRIND_TIMEOUT
    };
    for engine in engines {
        let mut command = match wrapper.split_first() {
            Some((tool, args)) => {
                let mut command = Command::new(tool);
                command.args(args).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        command.arg(corpus()).env("XTISM_ENGINE", engine);
        let label = format!("{engine}/{program} ({})", linkage.name());
        match run(command, timeout) {
            Ok(run) if run.code == Some(0) => println!("ok {label} in {:.1?}", run.took),
            Ok(run) => failures.push(format!(
                "{label} exited with {:?} after {:.1?}:\n{}",
                run.code, run.took, run.text
            )),
            Err(e) => failures.push(format!("{label}: {e}")),
        }
    }
}

/// Panics with every failure report, if there are any.
fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} C test run(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn c_programs_on_the_shared_library() {
    let programs = shared_programs();
    let mut failures = Vec::new();
    for program in PROGRAMS {
        let exe = programs.bin.join(program);
        let engines = &programs.engines;
        run_program(program, &exe, Linkage::Shared, &[], engines, &mut failures);
    }
    assert_no_failures(&failures);
}

#[test]
fn c_programs_on_the_static_library() {
    let engines = &shared_programs().engines;
    let lib = common::library_dir();
    let bin = bin_dir(Linkage::Static);
    let mut failures = Vec::new();
    for program in PROGRAMS {
        // Named for this process, since it is removed after its runs.
        let exe = bin.join(format!("{program}-{}", std::process::id()));
        compile(&source(program), &exe, Linkage::Static, lib);
        run_program(program, &exe, Linkage::Static, &[], engines, &mut failures);
        // Each executable holds most of the library: keep one at a time on disk.
        std::fs::remove_file(&exe).expect("remove the static executable");
    }
    assert_no_failures(&failures);
}

/// Whether `valgrind` runs; when it is missing, root installs it with apt-get.
fn valgrind_available() -> bool {
    let runs = || {
        Command::new("valgrind")
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if runs() {
        return true;
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
    let has_apt = Command::new("apt-get")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if is_root && has_apt {
        writeln!(
            std::io::stderr(),
            "valgrind is missing: installing it with apt-get"
        )
        .expect("write to stderr");
        let installed = Command::new("apt-get")
            .args(["install", "-y", "valgrind"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|status| status.success());
        if installed && runs() {
            return true;
        }
    }
    false
}

#[test]
fn c_programs_under_valgrind() {
    if !valgrind_available() {
        // Straight to the process's stderr, which the harness does not capture: a skipped
        // check must not pass silently.
        writeln!(
            std::io::stderr(),
            "SKIPPED: valgrind not available (the C programs still run without it)"
        )
        .expect("write to stderr");
        return;
    }
    let programs = shared_programs();
    let wanted =
        std::env::var("XTISM_VALGRIND_ENGINES").unwrap_or_else(|_| VALGRIND_ENGINES.into());
    let engines: Vec<String> = programs
        .engines
        .iter()
        .filter(|engine| wanted.split(',').any(|w| w.trim() == engine.as_str()))
        .cloned()
        .collect();
    let error_code = format!("--error-exitcode={VALGRIND_ERROR_CODE}");
    let valgrind = [
        "valgrind",
        "--quiet",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite",
        "--show-leak-kinds=definite",
        &error_code,
    ];
    let mut failures = Vec::new();
    for program in PROGRAMS {
        let exe = programs.bin.join(program);
        run_program(
            program,
            &exe,
            Linkage::Shared,
            &valgrind,
            &engines,
            &mut failures,
        );
    }
    assert_no_failures(&failures);
}
