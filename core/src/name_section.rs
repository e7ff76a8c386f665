//! Naming a module as its manifest does, in the module itself.
//!
//! Engines name a module in backtraces and core dumps by the module name of its name section
//! (the `name` custom section's module subsection). Core writes the manifest's name there
//! before compiling (`main` for the plug-in itself), replacing a name the module may carry,
//! so that every engine says which module of a plug-in trapped in the same words, and no
//! backend keeps a table of names. The kernel module is named in its text
//! ([`KERNEL_MODULE_NAME`](crate::engine::KERNEL_MODULE_NAME)).
//!
//! The rewrite copies every other section as it is (read with wasmparser, written with
//! wasm-encoder) and re-encodes the other subsections of the name section; it never decodes
//! code. A module it cannot read is passed through unchanged for the engine to judge.

use wasm_encoder::reencode::{RoundtripReencoder, utils::parse_custom_name_subsection};
use wasm_encoder::{NameSection, RawSection};
use wasmparser::{Encoding, KnownCustom, Name, Parser, Payload};

/// `wasm` with `name` as its module name: the module subsection of its name section replaced,
/// or a name section added at its end. `None` when `wasm` is a component or not a well-formed
/// module (or its name section is not), which the engine then judges as it is.
pub(crate) fn with_module_name(wasm: &[u8], name: &str) -> Option<Vec<u8>> {
    if !wasm.starts_with(b"\0asm") {
        return None;
    }
    let names = |subsections| {
        let mut names = NameSection::new();
        names.module(name);
        for subsection in subsections {
            match subsection {
                Name::Module { .. } => {}
                other => {
                    parse_custom_name_subsection(&mut RoundtripReencoder, &mut names, other).ok()?
                }
            }
        }
        Some(names)
    };
    let mut module = wasm_encoder::Module::new();
    let mut named = false;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.ok()?;
        if let Payload::Version {
            encoding: Encoding::Component,
            ..
        } = payload
        {
            return None;
        }
        if let Payload::CustomSection(reader) = &payload
            && let KnownCustom::Name(subsections) = reader.as_known()
        {
            let subsections: Vec<Name<'_>> =
                subsections.into_iter().collect::<Result<_, _>>().ok()?;
            module.section(&names(subsections)?);
            named = true;
        } else if let Some((id, range)) = payload.as_section() {
            module.section(&RawSection {
                id,
                data: wasm.get(range)?,
            });
        }
    }
    if !named {
        module.section(&names(Vec::new())?);
    }
    Some(module.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{KERNEL_MODULE_NAME, KERNEL_WASM};

    /// The module name and the function names of `wasm`'s name sections, and its other custom
    /// sections' names.
    fn names(wasm: &[u8]) -> (Vec<String>, Vec<String>, Vec<String>) {
        let (mut modules, mut functions, mut custom) = (Vec::new(), Vec::new(), Vec::new());
        for payload in Parser::new(0).parse_all(wasm) {
            let Payload::CustomSection(reader) = payload.unwrap() else {
                continue;
            };
            let KnownCustom::Name(subsections) = reader.as_known() else {
                custom.push(reader.name().to_owned());
                continue;
            };
            for subsection in subsections {
                match subsection.unwrap() {
                    Name::Module { name, .. } => modules.push(name.to_owned()),
                    Name::Function(map) => {
                        functions.extend(map.into_iter().map(|n| n.unwrap().name.to_owned()));
                    }
                    _ => {}
                }
            }
        }
        (modules, functions, custom)
    }

    #[test]
    fn replaces_the_module_name_and_keeps_the_rest() {
        let wasm = wat::parse_str(
            r#"(module $own (@custom "extra" "x") (func $f (export "f")) (memory 1))"#,
        )
        .unwrap();
        let named = with_module_name(&wasm, "dep").unwrap();
        assert_eq!(
            names(&named),
            (vec!["dep".into()], vec!["f".into()], vec!["extra".into()])
        );
        wasmparser::validate(&named).unwrap();
    }

    #[test]
    fn adds_a_name_section_to_a_module_without_one() {
        let wasm = wat::parse_str(r#"(module (func (export "f")))"#).unwrap();
        assert_eq!(names(&wasm).0, Vec::<String>::new());
        let named = with_module_name(&wasm, "main").unwrap();
        assert_eq!(names(&named).0, vec!["main".to_owned()]);
        wasmparser::validate(&named).unwrap();
    }

    #[test]
    fn leaves_what_it_cannot_read_to_the_engine() {
        assert_eq!(with_module_name(b"(module)", "main"), None);
        let mut truncated = wat::parse_str(r#"(module (func (export "f")))"#).unwrap();
        truncated.truncate(truncated.len() - 1);
        assert_eq!(with_module_name(&truncated, "main"), None);
        let component = wat::parse_str("(component)").unwrap();
        assert_eq!(with_module_name(&component, "main"), None);
    }

    #[test]
    fn the_kernel_is_named_in_its_text() {
        assert_eq!(names(KERNEL_WASM).0, vec![KERNEL_MODULE_NAME.to_owned()]);
    }
}
