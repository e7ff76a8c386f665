//! The compile cache: modules serialized by wasmer in [`CompileOptions::cache_dir`].
//!
//! An artifact is native code that wasmer loads without checking it, so an artifact is only
//! ever looked up under a name that pins everything its code depends on: a hash of the
//! wasmer version, the host (target triple and CPU features), the middleware configuration
//! (fuel, interruption and their versions), the module name (kept in the artifact) and the
//! Wasm bytes. Another version or configuration gets another file, never a stale one. Each
//! file carries a checksum of its content, so a torn or corrupted file is recompiled rather
//! than loaded, and files are written under a temporary name and renamed into place, so
//! concurrent processes never see half a file. Like any native code cache, the directory
//! must be as trusted as the program: whoever can write it can run code in this process.
//!
//! [`CompileOptions::cache_dir`]: xtism_core::engine::CompileOptions::cache_dir

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmer::sys::{NativeEngineExt, Target};
use xtism_core::Error;

use crate::{Config, compile_module, raw, with_tunables};

/// The start of every cache file, naming its format.
const MAGIC: &[u8] = b"xtism-wasmer artifact v1\n";

/// Where a module came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Loaded from the cache.
    Cache,
    /// Compiled (and then stored in the cache).
    Compiled,
}

/// The file holding the artifact of `wasm` compiled as `name` for `config`.
fn artifact_path(dir: &Path, name: &str, wasm: &[u8], config: Config) -> PathBuf {
    let mut key = Sha256::new();
    let host = Target::default();
    for part in [
        MAGIC,
        wasmer_types::VERSION.as_bytes(),
        host.triple().to_string().as_bytes(),
        format!("{:?}", host.cpu_features()).as_bytes(),
        config.describe().as_bytes(),
        name.as_bytes(),
        wasm,
    ] {
        // Length-prefixed, so that no two different inputs hash the same bytes.
        key.update((part.len() as u64).to_le_bytes());
        key.update(part);
    }
    dir.join(format!("wasmer-{}.bin", hex(&key.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The artifact in a cache file, if the file is whole.
fn read_artifact(path: &Path) -> Option<Vec<u8>> {
    let mut file = std::fs::read(path).ok()?;
    let rest = file.strip_prefix(MAGIC)?;
    let (checksum, artifact) = rest.split_at_checked(32)?;
    if Sha256::digest(artifact).as_slice() != checksum {
        return None;
    }
    let start = MAGIC.len() + 32;
    file.drain(..start);
    Some(file)
}

/// Loads an artifact read by [`read_artifact`] into a fresh engine of its own.
fn deserialize(artifact: Vec<u8>) -> Option<(wasmer::Engine, wasmer::Module)> {
    let engine = with_tunables(<wasmer::Engine as NativeEngineExt>::headless());
    let module = raw::deserialize(&engine, artifact).ok()?;
    Some((engine, module))
}

/// Writes `module` to `path`, atomically.
fn write_artifact(path: &Path, module: &wasmer::Module) -> Result<(), Error> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let artifact = module.serialize().map_err(Error::engine)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension(format!(
        "{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(MAGIC)?;
        file.write_all(&Sha256::digest(&artifact))?;
        file.write_all(&artifact)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("writing the compile cache {}: {e}", path.display()),
        ))
    })
}

/// The module compiled from `wasm` for `config`: from the cache in `dir` when it holds it,
/// else compiled and stored there.
pub(crate) fn load_or_compile(
    dir: &Path,
    name: &str,
    wasm: &[u8],
    config: Config,
) -> Result<(wasmer::Engine, wasmer::Module, Origin), Error> {
    let path = artifact_path(dir, name, wasm, config);
    if let Some((engine, module)) = read_artifact(&path).and_then(deserialize) {
        return Ok((engine, module, Origin::Cache));
    }
    let (engine, module) = compile_module(name, wasm, config)?;
    write_artifact(&path, &module)?;
    Ok((engine, module, Origin::Compiled))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = r#"(module
        (func (export "answer") (result i32) (i32.const 42)))"#;

    fn config(fuel: bool) -> Config {
        Config {
            fuel,
            interruptible: true,
        }
    }

    fn answer(engine: &wasmer::Engine, module: &wasmer::Module) -> i32 {
        let mut store = wasmer::Store::new(engine.clone());
        let instance = wasmer::Instance::new(&mut store, module, &wasmer::Imports::new()).unwrap();
        let f = instance.exports.get_function("answer").unwrap();
        f.typed::<(), i32>(&store)
            .unwrap()
            .call(&mut store)
            .unwrap()
    }

    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn a_second_compile_loads_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = wat::parse_str(WAT).unwrap();
        let (_, _, origin) = load_or_compile(dir.path(), "main", &wasm, config(false)).unwrap();
        assert_eq!(origin, Origin::Compiled);
        assert_eq!(files(dir.path()), 1);
        let (engine, module, origin) =
            load_or_compile(dir.path(), "main", &wasm, config(false)).unwrap();
        assert_eq!(origin, Origin::Cache);
        assert_eq!(answer(&engine, &module), 42);
        assert_eq!(files(dir.path()), 1);
    }

    #[test]
    fn another_configuration_or_module_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = wat::parse_str(WAT).unwrap();
        load_or_compile(dir.path(), "main", &wasm, config(false)).unwrap();
        let (_, _, origin) = load_or_compile(dir.path(), "main", &wasm, config(true)).unwrap();
        assert_eq!(origin, Origin::Compiled, "fuel changes the code");
        let (_, _, origin) = load_or_compile(dir.path(), "other", &wasm, config(true)).unwrap();
        assert_eq!(origin, Origin::Compiled, "the name is part of the artifact");
        let other = wat::parse_str(WAT.replace("42", "43")).unwrap();
        let (engine, module, origin) =
            load_or_compile(dir.path(), "main", &other, config(false)).unwrap();
        assert_eq!(origin, Origin::Compiled, "other bytes");
        assert_eq!(answer(&engine, &module), 43);
        assert_eq!(files(dir.path()), 4);
    }

    #[test]
    fn a_damaged_file_is_recompiled() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = wat::parse_str(WAT).unwrap();
        load_or_compile(dir.path(), "main", &wasm, config(false)).unwrap();
        let path = artifact_path(dir.path(), "main", &wasm, config(false));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let (engine, module, origin) =
            load_or_compile(dir.path(), "main", &wasm, config(false)).unwrap();
        assert_eq!(origin, Origin::Compiled);
        assert_eq!(answer(&engine, &module), 42);
        std::fs::write(&path, b"junk").unwrap();
        let (_, _, origin) = load_or_compile(dir.path(), "main", &wasm, config(false)).unwrap();
        assert_eq!(origin, Origin::Compiled);
        let (_, _, origin) = load_or_compile(dir.path(), "main", &wasm, config(false)).unwrap();
        assert_eq!(origin, Origin::Cache, "the rewritten file is whole");
    }
}
