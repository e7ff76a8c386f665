//! Turning the command line into an Extism manifest: reading the plug-in file (Wasm, WAT
//! or manifest), resolving a manifest's relative module paths, adding `--link`ed modules and
//! applying the flags that the manifest format expresses.

use std::path::{Path, PathBuf};

use xtism::Manifest;
use xtism::manifest::Wasm;

use crate::args::{CallArgs, Source};
use crate::error::CliError;

/// Whether `path` is read as a manifest: `--manifest`, or a `.json`/`.toml` extension.
pub fn is_manifest(path: &Path, flag: bool) -> bool {
    flag || matches!(extension(path).as_deref(), Some("json") | Some("toml"))
}

/// The lowercase extension of `path`.
fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Reads the plug-in named on the command line as a manifest. A manifest file keeps its
/// modules, with relative paths resolved against the manifest's directory; a module file
/// becomes a one-module manifest.
pub fn manifest_of(source: &Source) -> Result<Manifest, CliError> {
    let path = &source.file;
    if !is_manifest(path, source.manifest) {
        return Ok(Manifest::new([Wasm::data(read_module(path)?)]));
    }
    let mut manifest = if matches!(extension(path).as_deref(), Some("json") | Some("toml")) {
        Manifest::from_file(path)?
    } else {
        // `--manifest` on another extension: tell JSON from TOML by the content.
        let bytes = read(path)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            CliError::msg(format!(
                "{} is not a manifest: it is not UTF-8 text",
                path.display()
            ))
        })?;
        if text.trim_start().starts_with('{') {
            Manifest::from_json(&text)?
        } else {
            Manifest::from_toml(&text)?
        }
    };
    let dir = path.parent().unwrap_or(Path::new(""));
    resolve_paths(&mut manifest, dir);
    Ok(manifest)
}

/// Makes the relative `path` entries of a manifest read from `dir` relative to `dir`.
pub fn resolve_paths(manifest: &mut Manifest, dir: &Path) {
    for wasm in &mut manifest.wasm {
        if let Wasm::File { path, .. } = wasm
            && path.is_relative()
        {
            *path = dir.join(&*path);
        }
    }
}

/// The bytes of a module file: `.wat` files are assembled, anything else is taken as is.
pub fn read_module(path: &Path) -> Result<Vec<u8>, CliError> {
    let bytes = read(path)?;
    if extension(path).as_deref() != Some("wat") {
        return Ok(bytes);
    }
    assemble(path, &bytes)
}

/// Assembles the WebAssembly text read from `path`.
#[cfg(feature = "wat")]
fn assemble(path: &Path, text: &[u8]) -> Result<Vec<u8>, CliError> {
    match wat::parse_bytes(text) {
        Ok(wasm) => Ok(wasm.into_owned()),
        Err(mut err) => {
            err.set_path(path);
            Err(CliError::msg(format!("invalid WebAssembly text: {err}")))
        }
    }
}

/// Refuses WebAssembly text: this build leaves the assembler out.
#[cfg(not(feature = "wat"))]
fn assemble(path: &Path, _text: &[u8]) -> Result<Vec<u8>, CliError> {
    Err(CliError::msg(format!(
        "{}: this build of xtism leaves WebAssembly text out (Cargo feature `wat`)",
        path.display()
    )))
}

/// Reads a whole file, naming it in the error.
fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path)
        .map_err(|e| CliError::msg(format!("could not read {}: {e}", path.display())))
}

/// Adds the modules of `--link NAME=PATH` before the others (dependencies first), and
/// names the main module `main` explicitly so that it stays the main module.
pub fn add_links(manifest: &mut Manifest, links: &[(String, PathBuf)]) -> Result<(), CliError> {
    if links.is_empty() {
        return Ok(());
    }
    if let Some(main) = manifest.main_index() {
        let meta = manifest.wasm[main].meta_mut();
        if meta.name.is_none() {
            meta.name = Some(xtism::MAIN_MODULE.to_owned());
        }
    }
    let mut linked = Vec::with_capacity(links.len());
    for (name, path) in links {
        if name == xtism::MAIN_MODULE {
            return Err(CliError::msg(format!(
                "--link {name}={}: the name {name:?} is taken by the plug-in itself",
                path.display()
            )));
        }
        linked.push(Wasm::data(read_module(path)?).with_name(name.clone()));
    }
    manifest.wasm.splice(0..0, linked);
    Ok(())
}

/// Applies the manifest-level flags of `xtism call`: config (`--set-config` objects first,
/// then `--config` keys), allowed hosts and paths, the timeout and the memory limits.
pub fn apply_flags(manifest: &mut Manifest, args: &CallArgs) -> Result<(), CliError> {
    if !args.allow_path.is_empty() && !args.wasi {
        return Err(CliError::msg(
            "--allow-path maps host paths for WASI, which is off: add --wasi",
        ));
    }
    if !args.allow_host.is_empty() {
        manifest
            .allowed_hosts
            .get_or_insert_with(Vec::new)
            .extend(args.allow_host.iter().cloned());
    }
    if let Some(bytes) = args.http_response_max {
        manifest.memory.max_http_response_bytes = Some(bytes);
    }
    for object in &args.set_config {
        manifest
            .config
            .extend(object.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    manifest.config.extend(args.config.iter().cloned());
    if !args.allow_path.is_empty() {
        manifest.allowed_paths.get_or_insert_default().extend(
            args.allow_path
                .iter()
                .map(|mapping| (mapping.key.clone(), mapping.guest.clone())),
        );
    }
    if let Some(ms) = args.timeout {
        manifest.timeout_ms = Some(ms);
    }
    if let Some(pages) = args.memory_max {
        manifest.memory.max_pages = Some(pages);
    }
    if let Some(bytes) = args.var_max {
        manifest.memory.max_var_bytes = Some(bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_detection() {
        assert!(is_manifest(Path::new("m.json"), false));
        assert!(is_manifest(Path::new("m.TOML"), false));
        assert!(!is_manifest(Path::new("m.wasm"), false));
        assert!(!is_manifest(Path::new("m"), false));
        assert!(is_manifest(Path::new("m.txt"), true));
    }

    #[test]
    fn relative_paths_follow_the_manifest() {
        let mut manifest = Manifest::new([
            Wasm::file("a.wasm"),
            Wasm::file("/abs/b.wasm"),
            Wasm::data(vec![0u8]),
        ]);
        resolve_paths(&mut manifest, Path::new("dir/sub"));
        let paths: Vec<_> = manifest
            .wasm
            .iter()
            .filter_map(|w| match w {
                Wasm::File { path, .. } => Some(path.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            paths,
            [
                PathBuf::from("dir/sub/a.wasm"),
                PathBuf::from("/abs/b.wasm")
            ]
        );
    }

    #[test]
    fn links_go_first_and_main_keeps_its_role() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib.wasm");
        std::fs::write(&lib, b"\0asm\x01\0\0\0").unwrap();
        let mut manifest = Manifest::new([Wasm::data(b"\0asm\x01\0\0\0".to_vec())]);
        add_links(&mut manifest, &[("lib".into(), lib.clone())]).unwrap();
        assert_eq!(manifest.module_names().unwrap(), ["lib", "main"]);
        assert_eq!(manifest.main_index(), Some(1));
        assert!(add_links(&mut manifest, &[("main".into(), lib)]).is_err());
    }
}
