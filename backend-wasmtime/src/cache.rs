//! The on-disk compile cache ([`CompileOptions::cache_dir`](xtism_core::CompileOptions)).
//!
//! An artifact is what [`wasmtime::Module::serialize`] wrote, stored as
//! `<key>.cwasm` where the key is the SHA-256 of:
//! - a tag naming this format,
//! - wasmtime's [`precompile_compatibility_hash`](wasmtime::Engine::precompile_compatibility_hash)
//!   of the engine: its version, target, compiler flags, tunables (fuel, epochs, debug
//!   info, ...) and enabled Wasm features, i.e. everything that shapes compiled code,
//! - the Wasm bytes.
//!
//! So an artifact is only looked up by an engine that would compile the same bytes to the
//! same code. The file starts with the SHA-256 of the rest, checked before loading, so a
//! truncated or damaged file is recompiled rather than loaded; files are written to a
//! temporary name and renamed into place, so a reader never sees half a file. wasmtime
//! checks the artifact's own header (version and configuration) once more when it loads it.
//!
//! This is our own small cache rather than wasmtime's `cache` feature: that one brings a
//! C compression library and a background worker thread, and this needs neither. The
//! cache never fails a compile: an unreadable directory or artifact means compiling anew.

use std::hash::Hasher;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Tag of this artifact format; change it when the layout below changes.
const FORMAT: &[u8] = b"xtism-wasmtime cache v1\0";

/// Length of the checksum at the start of an artifact file.
const CHECKSUM_LEN: usize = 32;

/// Feeds `Hash` output into SHA-256, so wasmtime's compatibility hash becomes part of a
/// stable key (a `Hasher`'s own 64-bit output would be too weak for a file name).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        // Not used: the digest is read from the inner SHA-256.
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The cache key of `wasm` compiled by `engine`, as a hex string.
pub(crate) fn key(engine: &wasmtime::Engine, wasm: &[u8]) -> String {
    use std::hash::Hash;
    let mut hasher = Sha256Hasher(Sha256::new());
    hasher.write(FORMAT);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.write(&(wasm.len() as u64).to_le_bytes());
    hasher.write(wasm);
    hex::encode(hasher.0.finalize())
}

/// Where the artifact of `key` lives in `dir`.
fn artifact_path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.cwasm"))
}

/// Compiles `wasm`, through the cache in `dir` when there is one.
pub(crate) fn compile(
    engine: &wasmtime::Engine,
    wasm: &[u8],
    dir: Option<&Path>,
) -> wasmtime::Result<wasmtime::Module> {
    let Some(dir) = dir else {
        return wasmtime::Module::new(engine, wasm);
    };
    let key = key(engine, wasm);
    let path = artifact_path(dir, &key);
    if let Some(module) = load(engine, &path) {
        return Ok(module);
    }
    let module = wasmtime::Module::new(engine, wasm)?;
    if let Err(e) = store(&module, dir, &path) {
        tracing::debug!(target: "xtism::wasmtime", "not caching {}: {e}", path.display());
    }
    Ok(module)
}

/// The cached module at `path`, when there is an intact one this engine accepts.
fn load(engine: &wasmtime::Engine, path: &Path) -> Option<wasmtime::Module> {
    let file = std::fs::read(path).ok()?;
    if file.len() < CHECKSUM_LEN {
        return None;
    }
    let (checksum, artifact) = file.split_at(CHECKSUM_LEN);
    if Sha256::digest(artifact).as_slice() != checksum {
        tracing::debug!(target: "xtism::wasmtime", "ignoring damaged artifact {}", path.display());
        return None;
    }
    match crate::raw::deserialize(engine, artifact) {
        Ok(module) => Some(module),
        Err(e) => {
            tracing::debug!(target: "xtism::wasmtime", "ignoring artifact {}: {e}", path.display());
            None
        }
    }
}

/// Writes the artifact of `module` to `path`, atomically.
fn store(module: &wasmtime::Module, dir: &Path, path: &Path) -> std::io::Result<()> {
    let artifact = module.serialize().map_err(std::io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    let mut file = Vec::with_capacity(CHECKSUM_LEN + artifact.len());
    file.extend_from_slice(&Sha256::digest(&artifact));
    file.extend_from_slice(&artifact);
    // A name of our own per process and thread, so concurrent writers never share one.
    let tmp = dir.join(format!(
        ".{}.{}.{:?}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("artifact"),
        std::process::id(),
        std::thread::current().id(),
    ));
    std::fs::write(&tmp, &file)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(module (func (export "f")))`
    const WASM: &[u8] = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01f\0\0\x0a\x04\x01\x02\0\x0b";
    /// `(module (func (export "g")))`
    const OTHER: &[u8] = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\x07\x05\x01\x01g\0\0\x0a\x04\x01\x02\0\x0b";

    fn engine(fuel: bool) -> wasmtime::Engine {
        let mut config = wasmtime::Config::new();
        config.consume_fuel(fuel);
        wasmtime::Engine::new(&config).unwrap()
    }

    fn artifacts(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn a_second_compile_loads_the_artifact() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(false);
        compile(&engine, WASM, Some(dir.path())).unwrap();
        let files = artifacts(dir.path());
        assert_eq!(files, [artifact_path(dir.path(), &key(&engine, WASM))]);
        // Put another module's artifact under this key: a second compile returns that
        // module, so it came from the file and not from compiling.
        let other = wasmtime::Module::new(&engine, OTHER).unwrap();
        store(&other, dir.path(), &files[0]).unwrap();
        let module = compile(&engine, WASM, Some(dir.path())).unwrap();
        assert!(
            module.get_export_index("g").is_some(),
            "loaded from the cache"
        );
        assert!(module.get_export_index("f").is_none());
        assert_eq!(artifacts(dir.path()), files, "nothing else was written");
        // Without a cache directory, nothing is read.
        let module = compile(&engine, WASM, None).unwrap();
        assert!(module.get_export_index("f").is_some());
    }

    #[test]
    fn another_configuration_has_another_key() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, fueled) = (engine(false), engine(true));
        assert_ne!(key(&plain, WASM), key(&fueled, WASM));
        assert_ne!(key(&plain, WASM), key(&plain, &[WASM, b"\0"].concat()));
        compile(&plain, WASM, Some(dir.path())).unwrap();
        compile(&fueled, WASM, Some(dir.path())).unwrap();
        assert_eq!(artifacts(dir.path()).len(), 2);
        // An artifact of one configuration is refused by the other engine even if it
        // were found under the wrong name.
        let plain_artifact = artifact_path(dir.path(), &key(&plain, WASM));
        assert!(load(&fueled, &plain_artifact).is_none());
        assert!(load(&plain, &plain_artifact).is_some());
    }

    #[test]
    fn a_damaged_artifact_is_recompiled() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(false);
        compile(&engine, WASM, Some(dir.path())).unwrap();
        let path = artifact_path(dir.path(), &key(&engine, WASM));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert!(load(&engine, &path).is_none(), "checksum mismatch");
        std::fs::write(&path, &bytes[..10]).unwrap();
        assert!(load(&engine, &path).is_none(), "truncated");
        // Compiling replaces it with a good one.
        compile(&engine, WASM, Some(dir.path())).unwrap();
        assert!(load(&engine, &path).is_some());
    }
}
