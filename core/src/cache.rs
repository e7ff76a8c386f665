//! The compile cache: compiled code kept on disk and reused, for engines that can serialize
//! a module ([`Engine::code_identity`], [`Engine::serialize`], [`Engine::deserialize`]).
//!
//! One policy for every engine:
//! - **Where.** [`CacheSetting::Default`] is `$XTISM_CACHE_DIR` when set (the value `off`
//!   disables the cache), else the user's cache directory (`$XDG_CACHE_HOME/xtism` or
//!   `~/.cache/xtism` on Linux, `~/Library/Caches/xtism` on macOS, `%LOCALAPPDATA%\xtism`
//!   on Windows, from the `dirs` crate). Engines without the capability (wasmi) have no
//!   cache by default; naming a directory for them is `Unsupported`.
//! - **Key.** An artifact is stored as `<engine>-<hex>.bin`, where `<hex>` is the SHA-256 of
//!   (each part length-prefixed): this format's tag, the engine's name, the engine's
//!   [`code_identity`](Engine::code_identity) for the compile options (its version, target,
//!   CPU features and whatever configuration shapes code) with the version of the kernel
//!   merge and the kernel module's bytes when the module may be merged (see `merge`, which
//!   runs only on a miss), the
//!   module's name and its Wasm bytes (with the start function deferred). So an artifact is only looked up by an engine that
//!   would compile the same bytes to the same code; another version or configuration gets
//!   another file, never a stale one.
//! - **File.** A tag, the SHA-256 of the rest, a byte saying whether core merged the kernel's
//!   data path into the module (see `merge`), then the artifact. A file whose tag or
//!   checksum does not match (torn, truncated, damaged) is compiled anew and replaced.
//!   Files are written under a temporary name of their own and renamed into place, so
//!   concurrent processes never read half a file.
//! - **Failure.** The cache never fails a compile: a directory that cannot be created or
//!   written, or an artifact the engine refuses, means compiling; the reason is logged at
//!   debug level (target `xtism::cache`).
//! - **Trust.** An artifact is native code that the engine runs as it is. Whoever can write
//!   the cache directory can run code in the process, exactly as with the official runtime's
//!   wasmtime cache: the directory must be as trusted as the program. The checksum guards
//!   against accidents, not against an attacker.
//!
//! The official runtime keeps wasmtime's cache on by default (configured through
//! `EXTISM_CACHE_CONFIG`); xtism does the same for its JIT engines, in a format of its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::engine::{CompileOptions, Engine, KERNEL_WASM, Module};
use crate::error::XtismError;
use crate::merge::{MERGE_VERSION, merge_kernel};

/// The environment variable that moves the default cache directory, or disables the cache
/// with the value `off`.
pub const CACHE_DIR_ENV: &str = "XTISM_CACHE_DIR";

/// Tag at the start of every artifact file and of every key; change it when either changes.
const FORMAT: &[u8] = b"xtism compile cache v2\n";

/// Length of the SHA-256 checksum after the tag.
const CHECKSUM_LEN: usize = 32;

/// Where a plug-in's compiled code is cached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CacheSetting {
    /// `$XTISM_CACHE_DIR`, else the user's cache directory, for engines that can cache.
    #[default]
    Default,
    /// This directory; `Unsupported` on an engine that cannot cache.
    Dir(PathBuf),
    /// No cache.
    Disabled,
}

impl CacheSetting {
    /// The directory to use with `engine`, if any.
    ///
    /// # Errors
    ///
    /// [`XtismError::Unsupported`] for an explicit directory on an engine without the
    /// `compile_cache` capability.
    pub(crate) fn resolve(&self, engine: &dyn Engine) -> Result<Option<PathBuf>, XtismError> {
        let can = engine.capabilities().compile_cache;
        match self {
            CacheSetting::Disabled => Ok(None),
            CacheSetting::Dir(_) if !can => Err(XtismError::Unsupported {
                engine: engine.name(),
                feature: "a compilation cache".into(),
            }),
            CacheSetting::Dir(dir) => Ok(Some(dir.clone())),
            CacheSetting::Default if !can => Ok(None),
            CacheSetting::Default => Ok(default_dir()),
        }
    }
}

/// The default cache directory: `$XTISM_CACHE_DIR` (`off`: none), else `<user cache>/xtism`.
fn default_dir() -> Option<PathBuf> {
    match std::env::var_os(CACHE_DIR_ENV) {
        Some(value) if value == "off" => None,
        Some(value) if !value.is_empty() => Some(PathBuf::from(value)),
        _ => dirs::cache_dir().map(|dir| dir.join("xtism")),
    }
}

/// A compiled module, and whether core merged the kernel's data path into it.
pub(crate) struct Compiled {
    pub module: Arc<dyn Module>,
    /// The module holds the kernel memory (see `merge`); else the kernel is an instance.
    pub merged: bool,
}

/// Compiles `wasm` (module `name`) on `engine`, merging the kernel's data path into it when
/// `merge` (see `merge`), through the cache in `dir` when there is one and the engine can
/// serialize with these options.
///
/// # Errors
///
/// The engine's compile errors for `wasm` as given; never an error of the cache itself.
pub(crate) fn compile(
    engine: &dyn Engine,
    dir: Option<&Path>,
    name: &str,
    wasm: &[u8],
    options: &CompileOptions,
    merge: bool,
) -> Result<Compiled, XtismError> {
    let Some((dir, identity)) = dir.zip(engine.code_identity(options)) else {
        return compile_merged(engine, name, wasm, options, merge);
    };
    // A merged module's code also depends on the rewrite and on the kernel it inlines.
    let identity = if merge {
        [&identity, MERGE_VERSION.as_bytes(), KERNEL_WASM].concat()
    } else {
        identity
    };
    let path = artifact_path(dir, engine.name(), &identity, name, wasm);
    if let Some((merged, artifact)) = read_artifact(&path) {
        match engine.deserialize(name, &artifact, options) {
            Ok(module) => return Ok(Compiled { module, merged }),
            Err(e) => debug(&path, &format!("ignoring the artifact: {e}")),
        }
    }
    let compiled = compile_merged(engine, name, wasm, options, merge)?;
    match engine.serialize(compiled.module.as_ref()) {
        Ok(artifact) => {
            if let Err(e) = write_artifact(&path, compiled.merged, &artifact) {
                debug(&path, &format!("not cached: {e}"));
            }
        }
        Err(e) => debug(&path, &format!("not cached: {e}")),
    }
    Ok(compiled)
}

/// Compiles `wasm` with the kernel's data path merged in when `merge` and the merge
/// applies, else as it is. A merged module the engine refuses is compiled as it is, so the
/// engine's errors are always about the module the user gave.
fn compile_merged(
    engine: &dyn Engine,
    name: &str,
    wasm: &[u8],
    options: &CompileOptions,
    merge: bool,
) -> Result<Compiled, XtismError> {
    if let Some(merged) = merge.then(|| merge_kernel(wasm)).flatten() {
        match engine.compile(name, &merged, options) {
            Ok(module) => {
                return Ok(Compiled {
                    module,
                    merged: true,
                });
            }
            Err(e) => tracing::debug!(target: "xtism::merge", "{name}: compiled unmerged: {e}"),
        }
    }
    Ok(Compiled {
        module: engine.compile(name, wasm, options)?,
        merged: false,
    })
}

fn debug(path: &Path, what: &str) {
    tracing::debug!(target: "xtism::cache", "{}: {what}", path.display());
}

/// The file of the artifact of `wasm` named `name`, compiled by `engine` whose code
/// identity is `identity`.
fn artifact_path(dir: &Path, engine: &str, identity: &[u8], name: &str, wasm: &[u8]) -> PathBuf {
    let mut key = Sha256::new();
    for part in [FORMAT, engine.as_bytes(), identity, name.as_bytes(), wasm] {
        // Length-prefixed, so that no two different lists of parts hash the same bytes.
        key.update((part.len() as u64).to_le_bytes());
        key.update(part);
    }
    dir.join(format!("{engine}-{}.bin", hex::encode(key.finalize())))
}

/// Whether the file's module is merged, and its artifact, if the file is whole.
fn read_artifact(path: &Path) -> Option<(bool, Vec<u8>)> {
    let mut file = std::fs::read(path).ok()?;
    let rest = file.strip_prefix(FORMAT)?;
    let (checksum, content) = rest.split_at_checked(CHECKSUM_LEN)?;
    if Sha256::digest(content).as_slice() != checksum {
        debug(path, "ignoring a damaged artifact");
        return None;
    }
    let merged = match content.first()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    file.drain(..FORMAT.len() + CHECKSUM_LEN + 1);
    Some((merged, file))
}

/// Writes `artifact` (of a merged module or not) to `path`, atomically: under a temporary
/// name, then renamed.
fn write_artifact(path: &Path, merged: bool, artifact: &[u8]) -> std::io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension(format!(
        "{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut content = Vec::with_capacity(1 + artifact.len());
    content.push(u8::from(merged));
    content.extend_from_slice(artifact);
    let mut file = Vec::with_capacity(FORMAT.len() + CHECKSUM_LEN + content.len());
    file.extend_from_slice(FORMAT);
    file.extend_from_slice(&Sha256::digest(&content));
    file.extend_from_slice(&content);
    let written =
        std::fs::write(&temporary, &file).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_the_key_names_another_file() {
        let dir = Path::new("/cache");
        let base = artifact_path(dir, "e", b"id", "main", b"wasm");
        assert!(base.starts_with(dir));
        assert!(
            base.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("e-")
        );
        for other in [
            artifact_path(dir, "f", b"id", "main", b"wasm"),
            artifact_path(dir, "e", b"id2", "main", b"wasm"),
            artifact_path(dir, "e", b"id", "other", b"wasm"),
            artifact_path(dir, "e", b"id", "main", b"wasm2"),
            // The same bytes split differently between two parts.
            artifact_path(dir, "e", b"idm", "ain", b"wasm"),
        ] {
            assert_ne!(base, other);
        }
        assert_eq!(base, artifact_path(dir, "e", b"id", "main", b"wasm"));
    }

    #[test]
    fn only_a_whole_file_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("a.bin");
        write_artifact(&path, true, b"native code").unwrap();
        assert_eq!(
            read_artifact(&path).unwrap(),
            (true, b"native code".to_vec())
        );
        write_artifact(&path, false, b"native code").unwrap();
        assert_eq!(
            read_artifact(&path).unwrap(),
            (false, b"native code".to_vec())
        );
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert!(read_artifact(&path).is_none(), "damaged");
        std::fs::write(&path, &bytes[..FORMAT.len() + 4]).unwrap();
        assert!(read_artifact(&path).is_none(), "truncated");
        std::fs::write(&path, b"junk").unwrap();
        assert!(read_artifact(&path).is_none(), "not an artifact");
    }

    #[test]
    fn an_unwritable_directory_is_an_io_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        // A directory below a regular file cannot be created.
        assert!(write_artifact(&file.join("a.bin"), false, b"x").is_err());
    }
}
