//! Tests of loading module bytes from files and inline data, manifest files
//! by extension, and hash checking.

use std::path::Path;

use xtism_manifest::{Manifest, ManifestError, Wasm, sha256_hex};

const WASM_BYTES: &[u8] = b"\0asm\x01\0\0\0";
const WASM_SHA256: &str = "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476";
const OTHER_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn sha256_known_answers() {
    assert_eq!(sha256_hex(WASM_BYTES), WASM_SHA256);
    assert_eq!(sha256_hex(b""), OTHER_SHA256);
}

#[test]
fn loads_a_relative_file_against_base_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mods")).unwrap();
    std::fs::write(dir.path().join("mods/plugin.wasm"), WASM_BYTES).unwrap();

    let wasm = Wasm::file("mods/plugin.wasm").with_hash(WASM_SHA256);
    assert_eq!(wasm.load(Some(dir.path())).unwrap(), WASM_BYTES);

    // An absolute path ignores the base directory.
    let abs = Wasm::file(dir.path().join("mods/plugin.wasm"));
    assert_eq!(
        abs.load(Some(Path::new("/nonexistent"))).unwrap(),
        WASM_BYTES
    );

    // Without the base directory the relative path does not exist here.
    match Wasm::file("mods/plugin.wasm").load(None) {
        Err(ManifestError::Io { path, .. }) => assert_eq!(path, Path::new("mods/plugin.wasm")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_file_error_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let err = Wasm::file("nope.wasm").load(Some(dir.path())).unwrap_err();
    match &err {
        ManifestError::Io { path, source } => {
            assert_eq!(path, &dir.path().join("nope.wasm"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("nope.wasm"), "{err}");
}

#[test]
fn hash_match_and_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.wasm"), WASM_BYTES).unwrap();

    let ok = Wasm::file("p.wasm").with_hash(WASM_SHA256.to_ascii_uppercase());
    assert_eq!(ok.load(Some(dir.path())).unwrap(), WASM_BYTES);

    let bad = Wasm::file("p.wasm")
        .with_name("plug")
        .with_hash(OTHER_SHA256);
    match bad.load(Some(dir.path())) {
        Err(ManifestError::HashMismatch {
            name,
            expected,
            actual,
        }) => {
            assert_eq!(name, "plug");
            assert_eq!(expected, OTHER_SHA256);
            assert_eq!(actual, WASM_SHA256);
        }
        other => panic!("{other:?}"),
    }

    // Unnamed entries are described by their source.
    let err = Wasm::data(WASM_BYTES)
        .with_hash(OTHER_SHA256)
        .load(None)
        .unwrap_err();
    assert!(err.to_string().contains("inline data (8 bytes)"), "{err}");
}

#[test]
fn inline_data_loads() {
    let wasm = Wasm::data(WASM_BYTES).with_hash(WASM_SHA256);
    assert_eq!(wasm.load(None).unwrap(), WASM_BYTES);
}

#[test]
fn manifest_file_by_extension_and_load_all() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lib.wasm"), b"lib bytes").unwrap();
    std::fs::write(dir.path().join("main.wasm"), WASM_BYTES).unwrap();
    let json = format!(
        r#"{{"wasm": [{{"path": "lib.wasm", "name": "lib"}}, {{"path": "main.wasm", "hash": "{WASM_SHA256}"}}]}}"#
    );
    std::fs::write(dir.path().join("m.json"), &json).unwrap();
    let from_json = Manifest::from_file(dir.path().join("m.json")).unwrap();
    #[cfg(feature = "toml")]
    {
        let toml = format!(
            "[[wasm]]\npath = \"lib.wasm\"\nname = \"lib\"\n\n[[wasm]]\npath = \"main.wasm\"\nhash = \"{WASM_SHA256}\"\n"
        );
        std::fs::write(dir.path().join("m.TOML"), &toml).unwrap();
        let from_toml = Manifest::from_file(dir.path().join("m.TOML")).unwrap();
        assert_eq!(from_json, from_toml);
    }

    let path = dir.path().join("m.json");
    let modules = from_json.load_all(path.parent()).unwrap();
    assert_eq!(
        modules,
        vec![
            ("lib".to_string(), b"lib bytes".to_vec()),
            ("main".to_string(), WASM_BYTES.to_vec()),
        ]
    );

    // A mismatch in load_all is reported under the resolved module name.
    let bad = from_json
        .clone()
        .with_wasm(Wasm::file("lib.wasm").with_hash(OTHER_SHA256));
    match bad.load_all(Some(dir.path())) {
        Err(ManifestError::HashMismatch { name, .. }) => assert_eq!(name, "main"),
        other => panic!("{other:?}"),
    }

    std::fs::write(dir.path().join("m.yaml"), "wasm: []").unwrap();
    assert!(matches!(
        Manifest::from_file(dir.path().join("m.yaml")),
        Err(ManifestError::UnsupportedFormat { .. })
    ));
    assert!(matches!(
        Manifest::from_file(dir.path().join("missing.json")),
        Err(ManifestError::Io { .. })
    ));
    std::fs::write(dir.path().join("bad.json"), r#"{"wasm": [], "extra": 1}"#).unwrap();
    let err = Manifest::from_file(dir.path().join("bad.json")).unwrap_err();
    assert!(err.to_string().contains("unknown field `extra`"), "{err}");
}
