//! Manifests from anywhere: any bytes, read as JSON and as TOML, never panic the parser; a
//! manifest that parses survives a round trip through both formats unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use xtism_manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for parsed in [Manifest::from_json(text), Manifest::from_toml(text)] {
        let Ok(manifest) = parsed else {
            continue;
        };
        let json = manifest
            .to_json()
            .expect("a parsed manifest serializes to JSON");
        let again = Manifest::from_json(&json).expect("the JSON of a manifest parses");
        assert_eq!(again, manifest, "JSON round trip of {json}");
        // TOML has no null and no integers past i64: a manifest it cannot hold is an error,
        // never a panic; one it can hold comes back the same.
        if let Ok(toml) = manifest.to_toml() {
            let again = Manifest::from_toml(&toml).expect("the TOML of a manifest parses");
            assert_eq!(again, manifest, "TOML round trip of {toml}");
        }
    }
});
