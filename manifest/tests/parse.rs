//! Tests of manifest parsing and writing: JSON, TOML, inline data encodings,
//! strict unknown-field and entry-shape errors, builders and round trips.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use xtism_manifest::{
    HttpRequest, Manifest, ManifestError, MemoryOptions, PathMapping, Wasm, WasmMetadata,
};

const WASM_BYTES: &[u8] = b"\0asm\x01\0\0\0";
const WASM_SHA256: &str = "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476";

const EXAMPLE_JSON: &str = r#"{
  "wasm": [
    {"path": "plugin.wasm", "name": "main", "hash": "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"},
    {"data": "AGFzbQEAAAA=", "name": "b64", "hash": "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"},
    {"data": [0, 97, 115, 109, 1, 0, 0, 0]},
    {"url": "https://example.com/x.wasm", "headers": {"Authorization": "x"}, "method": "GET", "name": "remote", "hash": "abc"}
  ],
  "memory": {"max_pages": 4, "max_http_response_bytes": 1048576, "max_var_bytes": 1048576},
  "config": {"key": "value"},
  "allowed_hosts": ["*.example.com"],
  "allowed_paths": {"/host/dir": "/guest/dir", "ro:/host/other": "/other"},
  "timeout_ms": 1000
}"#;

#[cfg(feature = "toml")]
const EXAMPLE_TOML: &str = r#"
allowed_hosts = ["*.example.com"]
timeout_ms = 1000

[[wasm]]
path = "plugin.wasm"
name = "main"
hash = "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"

[[wasm]]
data = "AGFzbQEAAAA="
name = "b64"
hash = "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"

[[wasm]]
data = [0, 97, 115, 109, 1, 0, 0, 0]

[[wasm]]
url = "https://example.com/x.wasm"
method = "GET"
name = "remote"
hash = "abc"
headers = { Authorization = "x" }

[memory]
max_pages = 4
max_http_response_bytes = 1048576
max_var_bytes = 1048576

[config]
key = "value"

[allowed_paths]
"/host/dir" = "/guest/dir"
"ro:/host/other" = "/other"
"#;

fn expected_example() -> Manifest {
    Manifest {
        wasm: vec![
            Wasm::File {
                path: PathBuf::from("plugin.wasm"),
                meta: WasmMetadata {
                    name: Some("main".into()),
                    hash: Some(WASM_SHA256.into()),
                },
            },
            Wasm::data(WASM_BYTES)
                .with_name("b64")
                .with_hash(WASM_SHA256),
            Wasm::Data {
                data: WASM_BYTES.to_vec(),
                meta: WasmMetadata::default(),
            },
            Wasm::Url {
                req: HttpRequest {
                    url: "https://example.com/x.wasm".into(),
                    headers: BTreeMap::from([("Authorization".into(), "x".into())]),
                    method: Some("GET".into()),
                },
                meta: WasmMetadata {
                    name: Some("remote".into()),
                    hash: Some("abc".into()),
                },
            },
        ],
        memory: MemoryOptions {
            max_pages: Some(4),
            max_http_response_bytes: Some(1_048_576),
            max_var_bytes: Some(1_048_576),
        },
        config: BTreeMap::from([("key".into(), "value".into())]),
        allowed_hosts: Some(vec!["*.example.com".into()]),
        allowed_paths: Some(BTreeMap::from([
            ("/host/dir".into(), PathBuf::from("/guest/dir")),
            ("ro:/host/other".into(), PathBuf::from("/other")),
        ])),
        timeout_ms: Some(1000),
    }
}

/// Parses `json`, expecting an error, and returns its message.
fn json_error(json: &str) -> String {
    match Manifest::from_json(json) {
        Ok(m) => panic!("expected an error for {json}, got {m:?}"),
        Err(e @ ManifestError::Json(_)) => e.to_string(),
        Err(other) => panic!("expected a JSON error, got {other:?}"),
    }
}

#[cfg(feature = "toml")]
fn toml_error(toml: &str) -> String {
    match Manifest::from_toml(toml) {
        Ok(m) => panic!("expected an error for {toml}, got {m:?}"),
        Err(e @ ManifestError::Toml(_)) => e.to_string(),
        Err(other) => panic!("expected a TOML error, got {other:?}"),
    }
}

#[test]
fn parses_the_example_json() {
    assert_eq!(
        Manifest::from_json(EXAMPLE_JSON).unwrap(),
        expected_example()
    );
    assert_eq!(
        EXAMPLE_JSON.parse::<Manifest>().unwrap(),
        expected_example()
    );
}

#[test]
#[cfg(feature = "toml")]
fn parses_the_equivalent_toml() {
    assert_eq!(
        Manifest::from_toml(EXAMPLE_TOML).unwrap(),
        expected_example()
    );
}

#[test]
fn json_round_trip() {
    let manifest = expected_example();
    for json in [
        manifest.to_json().unwrap(),
        manifest.to_json_pretty().unwrap(),
    ] {
        assert_eq!(Manifest::from_json(&json).unwrap(), manifest);
    }
    // Data is written as padded base64.
    let json = manifest.to_json().unwrap();
    assert!(json.contains(r#""data":"AGFzbQEAAAA=""#), "{json}");
}

#[test]
#[cfg(feature = "toml")]
fn toml_round_trip() {
    let manifest = expected_example();
    let toml = manifest.to_toml().unwrap();
    assert_eq!(Manifest::from_toml(&toml).unwrap(), manifest, "{toml}");
}

#[test]
fn minimal_and_empty_manifests() {
    assert_eq!(Manifest::from_json("{}").unwrap(), Manifest::default());
    #[cfg(feature = "toml")]
    assert_eq!(Manifest::from_toml("").unwrap(), Manifest::default());
    assert_eq!(Manifest::default().to_json().unwrap(), r#"{"wasm":[]}"#);

    let m = Manifest::from_json(r#"{"wasm": [{"path": "a.wasm"}]}"#).unwrap();
    assert_eq!(m, Manifest::new([Wasm::file("a.wasm")]));
}

#[test]
fn nulls_are_treated_as_absent() {
    let m = Manifest::from_json(
        r#"{
            "wasm": [{"path": "a.wasm", "name": null, "hash": null, "data": null}],
            "memory": null,
            "config": {"a": "1", "b": null},
            "allowed_hosts": null,
            "allowed_paths": null,
            "timeout_ms": null
        }"#,
    )
    .unwrap();
    assert_eq!(
        m,
        Manifest::new([Wasm::file("a.wasm")]).with_config_key("a", "1")
    );
    let m = Manifest::from_json(r#"{"wasm": null, "memory": {"max_pages": null}}"#).unwrap();
    assert_eq!(m, Manifest::default());
}

#[test]
fn data_as_base64_string_and_as_byte_array() {
    let expected = Manifest::new([Wasm::data(WASM_BYTES)]);
    for json in [
        r#"{"wasm": [{"data": "AGFzbQEAAAA="}]}"#,
        r#"{"wasm": [{"data": "AGFzbQEAAAA"}]}"#, // no padding
        r#"{"wasm": [{"data": "AGFz\nbQEA AAA="}]}"#, // wrapped
        r#"{"wasm": [{"data": [0, 97, 115, 109, 1, 0, 0, 0]}]}"#,
    ] {
        assert_eq!(Manifest::from_json(json).unwrap(), expected, "{json}");
    }
    #[cfg(feature = "toml")]
    assert_eq!(
        Manifest::from_toml("[[wasm]]\ndata = [0, 97, 115, 109, 1, 0, 0, 0]").unwrap(),
        expected
    );
    assert_eq!(
        Manifest::from_json(r#"{"wasm": [{"data": ""}]}"#).unwrap(),
        Manifest::new([Wasm::data(Vec::new())])
    );
}

#[test]
fn bad_data_is_rejected() {
    let e = json_error(r#"{"wasm": [{"data": "not base64!"}]}"#);
    assert!(e.contains("invalid base64 in `data`"), "{e}");
    let e = json_error(r#"{"wasm": [{"data": [0, 256]}]}"#);
    assert!(e.contains("256"), "{e}");
    let e = json_error(r#"{"wasm": [{"data": 5}]}"#);
    assert!(e.contains("a base64 string or an array of bytes"), "{e}");
}

#[test]
fn a_host_address_is_never_read_from_a_manifest() {
    let e = json_error(r#"{"wasm": [{"data": {"ptr": 4096, "len": 8}}]}"#);
    assert!(e.contains("host memory address"), "{e}");
}

#[test]
fn unknown_fields_are_named_in_json_errors() {
    let e = json_error(r#"{"wasm": [], "bogus_top": 1}"#);
    assert!(e.contains("unknown field `bogus_top`"), "{e}");

    let e = json_error(r#"{"wasm": [{"path": "a.wasm", "bogus_entry": 1}]}"#);
    assert!(e.contains("unknown field `bogus_entry`"), "{e}");

    let e = json_error(r#"{"memory": {"max_pages": 1, "bogus_memory": 2}}"#);
    assert!(e.contains("unknown field `bogus_memory`"), "{e}");
}

#[test]
#[cfg(feature = "toml")]
fn unknown_fields_are_named_in_toml_errors() {
    let e = toml_error("bogus_top = 1");
    assert!(e.contains("bogus_top"), "{e}");
    let e = toml_error("[[wasm]]\npath = \"a.wasm\"\nbogus_entry = 1");
    assert!(e.contains("bogus_entry"), "{e}");
    let e = toml_error("[memory]\nbogus_memory = 2");
    assert!(e.contains("bogus_memory"), "{e}");
}

#[test]
fn entries_need_a_source_and_read_the_first_like_the_official_runtime() {
    let e = json_error(r#"{"wasm": [{"name": "x"}]}"#);
    assert!(e.contains("needs one of") && e.contains("none"), "{e}");
    // Several sources: path, then data, then url wins; the rest is accepted and unused.
    let m =
        Manifest::from_json(r#"{"wasm": [{"path": "a.wasm", "url": "http://x/a.wasm"}]}"#).unwrap();
    assert!(matches!(&m.wasm[0], Wasm::File { path, .. } if path.to_str() == Some("a.wasm")));
    let m =
        Manifest::from_json(r#"{"wasm": [{"data": [1], "url": "u", "method": "POST"}]}"#).unwrap();
    assert!(matches!(&m.wasm[0], Wasm::Data { data, .. } if data == &[1]));
    #[cfg(feature = "toml")]
    {
        let m =
            Manifest::from_toml("[[wasm]]\npath = \"a.wasm\"\nheaders = { a = \"b\" }").unwrap();
        assert!(matches!(&m.wasm[0], Wasm::File { .. }));
    }
}

#[test]
fn duplicate_and_mistyped_fields_are_rejected() {
    let e = json_error(r#"{"wasm": [{"path": "a.wasm", "path": "b.wasm"}]}"#);
    assert!(e.contains("duplicate field `path`"), "{e}");
    let e = json_error(r#"{"timeout_ms": "soon"}"#);
    assert!(e.contains("invalid type"), "{e}");
    let e = json_error(r#"{"wasm": {"path": "a.wasm"}}"#);
    assert!(e.contains("invalid type"), "{e}");
    let e = json_error(r#"{"config": {"n": 1}}"#);
    assert!(e.contains("invalid type"), "{e}");
}

#[test]
fn builders() {
    let m = Manifest::new([Wasm::file("a.wasm")])
        .with_wasm(Wasm::url("https://example.com/b.wasm").with_name("b"))
        .with_wasm(
            HttpRequest::new("https://example.com/c.wasm")
                .with_header("X-Key", "k")
                .with_method("post"),
        )
        .with_memory_max(3)
        .with_config_key("k1", "v1")
        .with_config([("k2", "v2")])
        .with_allowed_host("a.example.com")
        .with_allowed_hosts(["b.example.com", "c.example.com"])
        .with_allowed_host("d.example.com")
        .with_allowed_path("ro:/host", "/guest")
        .with_allowed_path("/rw".to_string(), PathBuf::from("/data"))
        .with_timeout(Duration::from_millis(1500));

    assert_eq!(m.wasm.len(), 3);
    assert_eq!(m.wasm[1].name(), Some("b"));
    match &m.wasm[2] {
        Wasm::Url { req, .. } => {
            assert_eq!(req.effective_method(), "POST");
            assert_eq!(req.headers["X-Key"], "k");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.memory.max_pages, Some(3));
    assert_eq!(m.config.len(), 2);
    assert_eq!(
        m.allowed_hosts.as_deref().unwrap(),
        ["b.example.com", "c.example.com", "d.example.com"],
        "with_allowed_hosts replaces, as the official crate's does"
    );
    assert_eq!(m.timeout_ms, Some(1500));
    assert_eq!(m.timeout(), Some(Duration::from_millis(1500)));
    assert_eq!(
        m.path_mappings(),
        vec![
            PathMapping {
                host: "/rw".into(),
                guest: "/data".into(),
                read_only: false
            },
            PathMapping {
                host: "/host".into(),
                guest: "/guest".into(),
                read_only: true
            },
        ]
    );
    assert_eq!(Manifest::from_json(&m.to_json().unwrap()).unwrap(), m);

    let opts = MemoryOptions::default()
        .with_max_pages(1)
        .with_max_http_response_bytes(2)
        .with_max_var_bytes(3);
    assert_eq!(Manifest::default().with_memory_options(opts).memory, opts);
    assert_eq!(Wasm::from(WASM_BYTES), Wasm::data(WASM_BYTES.to_vec()));
    assert_eq!(
        Wasm::from(PathBuf::from("x.wasm")),
        Wasm::from(std::path::Path::new("x.wasm"))
    );
    assert_eq!(HttpRequest::new("u").effective_method(), "GET");
}

#[test]
fn module_names_and_main() {
    let m = Manifest::new([Wasm::data(WASM_BYTES)]);
    assert_eq!(m.module_names().unwrap(), ["main"]);
    assert_eq!(m.main_index(), Some(0));

    let m = Manifest::new([
        Wasm::data(WASM_BYTES).with_name("lib"),
        Wasm::data(WASM_BYTES),
        Wasm::data(WASM_BYTES),
    ]);
    assert_eq!(m.module_names().unwrap(), ["lib", "#1", "main"]);
    assert_eq!(m.main_index(), Some(2));

    let m = Manifest::new([
        Wasm::data(WASM_BYTES).with_name("main"),
        Wasm::data(WASM_BYTES),
    ]);
    assert_eq!(m.module_names().unwrap(), ["main", "#1"]);
    assert_eq!(m.main_index(), Some(0));

    let m = Manifest::new([
        Wasm::data(WASM_BYTES).with_name("dep"),
        Wasm::data(WASM_BYTES).with_name("dep"),
    ]);
    match m.module_names() {
        Err(ManifestError::DuplicateName { name }) => assert_eq!(name, "dep"),
        other => panic!("{other:?}"),
    }

    assert_eq!(Manifest::default().main_index(), None);
    assert!(matches!(
        Manifest::default().load_all(None),
        Err(ManifestError::NoModules)
    ));
}

#[test]
fn validate_rejects_bad_names_and_hashes() {
    let m = Manifest::new([Wasm::data(WASM_BYTES).with_name("")]);
    match m.validate() {
        Err(e @ ManifestError::InvalidEntry { index: 0, .. }) => {
            assert!(e.to_string().contains("name is empty"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let m = Manifest::new([
        Wasm::data(WASM_BYTES),
        Wasm::data(WASM_BYTES).with_hash("abc"),
    ]);
    match m.load_all(None) {
        Err(e @ ManifestError::InvalidEntry { index: 1, .. }) => {
            assert!(e.to_string().contains("64 hex digits"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let upper = WASM_SHA256.to_ascii_uppercase();
    let m = Manifest::new([Wasm::data(WASM_BYTES).with_hash(upper)]);
    assert_eq!(m.validate().unwrap(), ["main"]);
}

#[test]
fn setters_of_whole_lists_replace_them() {
    let m = Manifest::new([Wasm::data(vec![0u8])])
        .with_allowed_host("a.example.com")
        .disallow_all_hosts();
    assert_eq!(m.allowed_hosts, Some(Vec::new()));
    let m = Manifest::new([Wasm::data(vec![0u8])])
        .with_allowed_path("/old", "/o")
        .with_allowed_paths([("/new", "/n")]);
    let paths = m.allowed_paths.unwrap();
    assert_eq!(paths.len(), 1);
    assert_eq!(paths["/new"], PathBuf::from("/n"));
}

#[test]
fn memory_options_new_sets_no_limit() {
    let options = MemoryOptions::new();
    assert_eq!(options, MemoryOptions::default());
    assert!(options.is_empty());
    assert_eq!(options.with_max_pages(4).max_pages, Some(4));
}
