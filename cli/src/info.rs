//! `xtism info`: compile a plug-in's modules with an engine and report, one item per line,
//! the engine and its capabilities, each module's imports and exports, the Extism features
//! the imports show it needs, the runtime initializer xtism will run, and the functions a
//! host can call (from [`xtism::Plugin::functions`], on the plug-in built with a stand-in
//! for each host function it imports).
//!
//! ```text
//! engine: wasmi
//! capabilities: fuel, timeout, cancel (not: jit, simd, backtraces, debug info, profiling)
//! module: main
//!   import: extism:host/env config_get func(i64) -> (i64)
//!   export: count_vowels func() -> (i32)
//!   needs: config
//!   initializer: none
//! function: count_vowels func() -> (i32)
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use xtism::engine::{Engine, ExternKind, Module};
use xtism::manifest::Wasm;
use xtism::{
    Capabilities, EXTISM_ENV_MODULE, FuncType, Function, HOST_IMPORTS, KERNEL_EXPORTS, Manifest,
    PluginBuilder, UserData,
};

use crate::args::InfoArgs;
use crate::error::CliError;
use crate::load;

/// Runs `xtism info`.
pub fn run(args: &InfoArgs) -> Result<(), CliError> {
    let engine = match &args.source.engine {
        Some(name) => xtism::engine_named(name)?,
        None => xtism::default_engine()?,
    };
    let manifest = load::manifest_of(&args.source)?;
    let sources = manifest.load_all(None)?;
    let main = manifest.main_index().unwrap_or(0);
    let names: Vec<&str> = sources.iter().map(|(name, _)| name.as_str()).collect();

    let mut report = String::new();
    let _ = writeln!(report, "engine: {}", engine.name());
    let _ = writeln!(
        report,
        "capabilities: {}",
        describe_capabilities(engine.capabilities())
    );
    let mut host_functions = Vec::new();
    let mut wasi = false;
    for (index, (name, bytes)) in sources.iter().enumerate() {
        let bytes = xtism::module_bytes(name, bytes)?;
        let module = engine.compile(name, &bytes, &xtism::engine::CompileOptions::default())?;
        describe_module(&mut report, name, &module, index == main, &names);
        host_functions.extend(host_function_imports(module.as_ref(), name, &names));
        wasi |= module
            .imports()
            .iter()
            .any(|i| i.module.starts_with("wasi_"));
    }
    // The modules as loaded: the plug-in is built from them without loading them again.
    let loaded = Manifest {
        wasm: sources
            .into_iter()
            .map(|(name, bytes)| Wasm::data(bytes).with_name(name))
            .collect(),
        ..manifest
    };
    describe_functions(&mut report, loaded, engine, host_functions, wasi);
    print!("{report}");
    Ok(())
}

/// Appends a `function:` line for each function a host can call, in name order, from the
/// plug-in built with `stand_ins` for the host functions it imports (they fail if called;
/// nothing is called). A plug-in that does not build gets one line saying why.
fn describe_functions(
    report: &mut String,
    manifest: Manifest,
    engine: Arc<dyn Engine>,
    stand_ins: Vec<Function>,
    wasi: bool,
) {
    let built = PluginBuilder::new(manifest)
        .with_engine(engine)
        .with_functions(stand_ins)
        .with_wasi(wasi)
        .build();
    match built {
        Ok(plugin) => {
            for (name, ty) in plugin.functions() {
                let _ = writeln!(report, "function: {name} {ty}");
            }
        }
        Err(e) => {
            let _ = writeln!(
                report,
                "functions: unknown (the plug-in does not build: {e})"
            );
        }
    }
}

/// A stand-in for each host function `module` imports (a function import that neither the
/// kernel, WASI nor another module of the plug-in provides), failing if called.
fn host_function_imports(module: &dyn Module, name: &str, modules: &[&str]) -> Vec<Function> {
    module
        .imports()
        .iter()
        .filter(|import| is_host_function(&import.module, name, modules))
        .filter_map(|import| {
            let ExternKind::Func(ty) = &import.kind else {
                return None;
            };
            let field = import.name.clone();
            let stand_in = Function::new(
                field.clone(),
                ty.params().iter().copied(),
                ty.results().iter().copied(),
                UserData::new(()),
                move |_, _, _, _| {
                    Err(xtism::Error::msg(format!(
                        "{field} is a stand-in of xtism info"
                    )))
                },
            );
            Some(stand_in.with_namespace(import.module.clone()))
        })
        .collect()
}

/// Whether an import from `import_module` into module `name` is the host's to provide.
fn is_host_function(import_module: &str, name: &str, modules: &[&str]) -> bool {
    import_module != EXTISM_ENV_MODULE
        && !import_module.starts_with("wasi_")
        && !(import_module != name && modules.contains(&import_module))
}

/// `fuel (not: jit, timeout, ...)`.
fn describe_capabilities(caps: Capabilities) -> String {
    let all = caps.by_name();
    let list = |on: bool| {
        all.iter()
            .filter(|(_, has)| *has == on)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
    };
    let (has, lacks) = (list(true), list(false));
    let mut text = if has.is_empty() {
        "none".to_owned()
    } else {
        has.join(", ")
    };
    if !lacks.is_empty() {
        let _ = write!(text, " (not: {})", lacks.join(", "));
    }
    text
}

/// Appends the section of one module.
fn describe_module(
    report: &mut String,
    name: &str,
    module: &Arc<dyn Module>,
    is_main: bool,
    modules: &[&str],
) {
    let role = if is_main && name != xtism::MAIN_MODULE {
        " (main)"
    } else {
        ""
    };
    let _ = writeln!(report, "module: {name}{role}");
    for import in module.imports() {
        let _ = writeln!(
            report,
            "  import: {} {} {}",
            import.module, import.name, import.kind
        );
    }
    for export in module.exports() {
        let _ = writeln!(report, "  export: {} {}", export.name, export.kind);
    }
    let needs = needs(module.as_ref(), name, modules);
    if needs.is_empty() {
        let _ = writeln!(report, "  needs: none");
    }
    for need in needs {
        let _ = writeln!(report, "  needs: {need}");
    }
    if is_main {
        for line in initializers(module.as_ref()) {
            let _ = writeln!(report, "  {line}");
        }
    }
}

/// The Extism features a module needs, from its imports, in a fixed order.
fn needs(module: &dyn Module, name: &str, modules: &[&str]) -> Vec<String> {
    let mut features = BTreeSet::new();
    let mut linked = BTreeSet::new();
    let mut other = Vec::new();
    for import in module.imports() {
        let field = import.name.as_str();
        if import.module == EXTISM_ENV_MODULE {
            let feature = match field {
                "config_get" => 0,
                "var_get" | "var_set" => 1,
                "http_request" | "http_status_code" | "http_headers" => 2,
                "get_log_level" => 3,
                _ if field.starts_with("log_") => 3,
                _ => {
                    let known = KERNEL_EXPORTS.iter().any(|(n, ..)| *n == field)
                        || HOST_IMPORTS.iter().any(|(n, _)| *n == field);
                    if !known {
                        other.push(format!(
                            "unknown kernel import {EXTISM_ENV_MODULE}::{field} (xtism does not provide it)"
                        ));
                    }
                    continue;
                }
            };
            features.insert(feature);
        } else if import.module.starts_with("wasi_") {
            features.insert(4);
        } else if !is_host_function(&import.module, name, modules) {
            linked.insert(import.module.as_str());
        } else {
            let signature = match &import.kind {
                ExternKind::Func(ty) => ty.to_string(),
                kind => kind.to_string(),
            };
            other.push(format!(
                "host function {}::{} {signature}",
                import.module, import.name
            ));
        }
    }
    const FEATURES: [&str; 5] = ["config", "vars", "HTTP", "logging", "WASI"];
    features
        .into_iter()
        .map(|f| FEATURES[f].to_owned())
        .chain(linked.into_iter().map(|m| format!("module {m}")))
        .chain(other)
        .collect()
}

/// The `initializer:` line (what xtism runs once before the first call, in order) and,
/// for a WASI command, a line about `_start`.
fn initializers(module: &dyn Module) -> Vec<String> {
    let functions: Vec<(&str, &FuncType)> = module
        .exports()
        .iter()
        .filter_map(|e| match &e.kind {
            ExternKind::Func(ty) => Some((e.name.as_str(), ty)),
            _ => None,
        })
        .collect();
    let init = xtism::guest_initializers(functions.iter().copied());
    let mut lines = vec![if init.is_empty() {
        "initializer: none".to_owned()
    } else {
        format!(
            "initializer: {} (run once before the first call)",
            init.join(", then ")
        )
    }];
    if functions.iter().any(|(name, _)| *name == "_start") {
        lines.push(
            "command: _start (WASI command; the instance is re-created after it runs)".to_owned(),
        );
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_line() {
        assert_eq!(
            describe_capabilities(Capabilities::NONE),
            "none (not: jit, fuel, timeout, cancel, simd, backtraces, debug info, profiling, compile cache, coredump, async calls)"
        );
        let mut caps = Capabilities::NONE;
        caps.fuel = true;
        assert_eq!(
            describe_capabilities(caps),
            "fuel (not: jit, timeout, cancel, simd, backtraces, debug info, profiling, compile cache, coredump, async calls)"
        );
    }
}
