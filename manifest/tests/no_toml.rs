//! Without the `toml` feature a TOML manifest, given as text or as a `.toml` file, is
//! refused with one line that says this build leaves TOML manifests out.

#![cfg(not(feature = "toml"))]

use xtism_manifest::{Manifest, ManifestError};

#[test]
fn toml_manifests_need_the_toml_feature() {
    let err = Manifest::from_toml("[[wasm]]\npath = \"a.wasm\"\n").unwrap_err();
    assert!(matches!(err, ManifestError::LeftOut { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "this build of xtism leaves TOML manifests out (Cargo feature `toml`)"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.toml");
    std::fs::write(&path, "[[wasm]]\npath = \"a.wasm\"\n").unwrap();
    let err = Manifest::from_file(&path).unwrap_err();
    assert!(matches!(err, ManifestError::LeftOut { .. }), "{err:?}");
    // JSON manifests are unaffected.
    assert!(Manifest::from_json(r#"{"wasm": [{"path": "a.wasm"}]}"#).is_ok());
}
