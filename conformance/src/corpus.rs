//! The plug-in corpus, built into the crate so that `xtism conformance` runs anywhere, not
//! only from a checkout.

use std::path::PathBuf;

use include_dir::{Dir, include_dir};

/// `plugins/`: AssemblyScript (`as/`), C (`c/`) and WAT (`wat/`) plug-ins and their sources.
static PLUGINS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/plugins");

/// The bytes of a plug-in of the corpus: `as/count_vowels.wasm`, `c/echo.wasm`, or a WAT
/// file such as `wat/kernel.wat`, assembled to Wasm.
///
/// # Panics
///
/// If the corpus has no such file, or the WAT does not assemble (a bug in the corpus).
pub fn plugin(path: &str) -> Vec<u8> {
    let file = PLUGINS
        .get_file(path)
        .unwrap_or_else(|| panic!("the corpus has no plugins/{path}"));
    if path.ends_with(".wat") {
        let text = file
            .contents_utf8()
            .unwrap_or_else(|| panic!("plugins/{path} is not UTF-8"));
        wat::parse_str(text).unwrap_or_else(|e| panic!("plugins/{path}: {e}"))
    } else {
        file.contents().to_vec()
    }
}

/// A file of the corpus, as it is (WAT stays text), written into a fresh temporary
/// directory: for cases that hand a manifest a path. The file lives as long as the
/// returned directory.
///
/// # Panics
///
/// If the corpus has no such file or the temporary directory cannot be written.
pub fn plugin_file(path: &str) -> (tempfile::TempDir, PathBuf) {
    let file = PLUGINS
        .get_file(path)
        .unwrap_or_else(|| panic!("the corpus has no plugins/{path}"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let name = file.path().file_name().expect("a file name");
    let at = dir.path().join(name);
    std::fs::write(&at, file.contents()).expect("write the plug-in file");
    (dir, at)
}
