//! Tests of the facade: the README example runs, and engines are chosen by name.

use std::path::Path;

#[allow(dead_code, reason = "the example's main is not called here")]
#[path = "../examples/count_vowels.rs"]
mod example;

#[test]
fn readme_example_runs() {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/plugins");
    let (counted, greeted) = example::run(&plugins).unwrap();
    assert_eq!(counted, r#"{"count":3,"total":6,"vowels":"aeiou"}"#);
    assert_eq!(greeted, "Hi Bob!");
}

#[test]
fn engines_by_name() {
    for name in xtism::ENGINES {
        assert_eq!(xtism::engine(name).unwrap().name(), *name);
    }
    let err = xtism::engine("nope").err().unwrap();
    assert_eq!(err.kind(), xtism::ErrorKind::Invalid);
    for name in xtism::ENGINES {
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn core_alone_needs_an_engine() {
    let err = xtism_core::PluginBuilder::<xtism_core::NoDefaultEngine>::new(&b"\0asm"[..])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no engine chosen"), "{err}");
}

#[test]
fn readme_shows_the_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../README.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/count_vowels.rs")).unwrap();
    let start = readme
        .find("```rust\n")
        .expect("a Rust block in the README")
        + 8;
    let len = readme[start..].find("```").unwrap();
    let shown = &readme[start..start + len];
    assert!(
        example.contains(shown),
        "the README's Rust code must be a verbatim part of xtism/examples/count_vowels.rs"
    );
}
