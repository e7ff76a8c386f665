//! What the tests of libxtism share: the library itself, built for them.
//!
//! Cargo builds a package's library for its integration tests only when they can link to
//! it, which they cannot to a cdylib or a staticlib. So the tests run `cargo build` for the
//! library themselves, with this test build's profile, target and features (a second's work
//! when nothing changed).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Variables cargo sets for a test (besides `CARGO_PKG_*`) that a build of its own must not
/// inherit: build scripts that watch one of them (ring's watches `CARGO_MANIFEST_DIR`) would
/// otherwise rebuild on every other build.
const CARGO_TEST_VARS: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "CARGO_RUSTC_CURRENT_DIR",
    "OUT_DIR",
];

/// The features of this test build, which the library is built with too.
fn features() -> String {
    [
        ("wasmtime", cfg!(feature = "wasmtime")),
        ("wasmi", cfg!(feature = "wasmi")),
        ("wasmer", cfg!(feature = "wasmer")),
        ("wasi", cfg!(feature = "wasi")),
        ("http", cfg!(feature = "http")),
        ("wat", cfg!(feature = "wat")),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| *name)
    .collect::<Vec<_>>()
    .join(",")
}

/// The directory of `libxtism.so` and `libxtism.a`, both up to date. The test binary is
/// `<target>/[<triple>/]<profile>/deps/<test>-<hash>`, and the libraries land in
/// `<target>/[<triple>/]<profile>`.
pub fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary is in <target>/<profile>/deps")
            .to_path_buf();
        let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("CARGO_TARGET_TMPDIR is <target>/tmp");
        let profile = match dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") => "dev",
            Some(profile) => profile,
            None => panic!("no profile in {}", dir.display()),
        };
        let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        for (name, _) in std::env::vars_os() {
            let name_str = name.to_string_lossy();
            if name_str.starts_with("CARGO_PKG_") || CARGO_TEST_VARS.contains(&&*name_str) {
                cargo.env_remove(&name);
            }
        }
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--package",
                "xtism-capi",
                "--lib",
                "--profile",
                profile,
            ])
            .args(["--no-default-features", "--features", &features()])
            .arg("--target-dir")
            .arg(target_dir);
        let triple_dir = dir.parent().expect("a profile directory has a parent");
        if triple_dir != target_dir {
            cargo
                .arg("--target")
                .arg(triple_dir.file_name().expect("a target triple"));
        }
        let out = cargo.output().expect("cargo runs");
        assert!(
            out.status.success(),
            "{cargo:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for lib in ["libxtism.so", "libxtism.a"] {
            assert!(
                dir.join(lib).is_file(),
                "{cargo:?} did not put {lib} in {}",
                dir.display()
            );
        }
        dir
    })
}
