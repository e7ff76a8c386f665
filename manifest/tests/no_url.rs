//! Without the `url` feature a manifest's `url` entry is refused with an error naming it,
//! and nothing is downloaded.

#![cfg(not(feature = "url"))]

use xtism_manifest::{ManifestError, Wasm};

#[test]
fn url_entries_need_the_url_feature() {
    let err = Wasm::url("http://127.0.0.1:1/plugin.wasm")
        .load(None)
        .unwrap_err();
    match &err {
        ManifestError::Http { url, message } => {
            assert_eq!(url, "http://127.0.0.1:1/plugin.wasm");
            assert!(message.contains("`url` feature"), "{err}");
        }
        other => panic!("expected an Http error, got {other:?}"),
    }
}
