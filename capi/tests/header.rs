//! `include/extism.h` against the library: every function the header declares is exported
//! by libxtism, every `extism_`/`xtism_` symbol libxtism exports is declared, and the header
//! declares the whole API of the official extism.h 1.41 (its 33 functions), so C code
//! written for libextism finds everything it calls. The C tests (`tests/c.rs`) then compile
//! and run real programs against both.

use std::collections::BTreeSet;
use std::process::Command;

mod common;

/// The functions of the official extism.h (Extism 1.41).
const OFFICIAL: [&str; 33] = [
    "extism_plugin_id",
    "extism_current_plugin_host_context",
    "extism_current_plugin_memory",
    "extism_current_plugin_memory_alloc",
    "extism_current_plugin_memory_length",
    "extism_current_plugin_memory_free",
    "extism_function_new",
    "extism_function_free",
    "extism_function_set_namespace",
    "extism_compiled_plugin_new",
    "extism_compiled_plugin_new_with_fuel_limit",
    "extism_compiled_plugin_free",
    "extism_plugin_new",
    "extism_plugin_new_from_compiled",
    "extism_plugin_new_with_fuel_limit",
    "extism_plugin_allow_http_response_headers",
    "extism_plugin_new_error_free",
    "extism_plugin_free",
    "extism_plugin_cancel_handle",
    "extism_plugin_cancel",
    "extism_plugin_config",
    "extism_plugin_function_exists",
    "extism_plugin_call",
    "extism_plugin_call_with_host_context",
    "extism_error",
    "extism_plugin_error",
    "extism_plugin_output_length",
    "extism_plugin_output_data",
    "extism_log_file",
    "extism_log_custom",
    "extism_log_drain",
    "extism_plugin_reset",
    "extism_version",
];

/// The function names the header declares: an identifier starting with `extism_` or
/// `xtism_` directly followed by `(`, outside comments and macros.
fn declared() -> BTreeSet<String> {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/extism.h")).unwrap();
    let mut code = String::new();
    let mut rest = header.as_str();
    while let Some(start) = rest.find("/*") {
        code.push_str(&rest[..start]);
        rest = &rest[start..];
        rest = &rest[rest.find("*/").expect("a closed comment") + 2..];
    }
    code.push_str(rest);
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim_end().ends_with('\\'))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '('))
        .filter_map(|word| word.split_once('(').map(|(name, _)| name))
        .filter(|name| name.starts_with("extism_") || name.starts_with("xtism_"))
        .map(str::to_owned)
        .collect()
}

/// The `extism_`/`xtism_` functions libxtism.so exports.
fn exported() -> BTreeSet<String> {
    let lib = common::library_dir().join("libxtism.so");
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .unwrap_or_else(|e| panic!("nm (binutils) on {}: {e}", lib.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [_, "T", name] => Some(name.to_owned()),
            _ => None,
        })
        .filter(|name| name.starts_with("extism_") || name.starts_with("xtism_"))
        .collect()
}

#[test]
fn the_header_declares_exactly_what_the_library_exports() {
    let declared = declared();
    let exported = exported();
    assert_eq!(
        declared.difference(&exported).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "declared in extism.h, not exported by libxtism.so"
    );
    assert_eq!(
        exported.difference(&declared).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "exported by libxtism.so, not declared in extism.h"
    );
}

#[test]
fn the_header_has_the_whole_official_api_and_prefixes_the_rest() {
    let declared = declared();
    let missing: Vec<_> = OFFICIAL
        .iter()
        .filter(|f| !declared.contains(**f))
        .collect();
    assert!(
        missing.is_empty(),
        "missing official functions: {missing:?}"
    );
    let ours: Vec<_> = declared
        .iter()
        .filter(|f| !OFFICIAL.contains(&f.as_str()))
        .collect();
    assert!(
        ours.iter().all(|f| f.starts_with("xtism_")),
        "additions must carry the xtism_ prefix: {ours:?}"
    );
    assert!(ours.len() >= 2, "{ours:?}");
}
