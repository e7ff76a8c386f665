//! Naming a module as its manifest does, in the module itself.
//!
//! Engines name a module in backtraces and core dumps by the module name of its name section
//! (the `name` custom section's module subsection). Core writes the manifest's name there
//! before compiling (`main` for the plug-in itself), replacing a name the module may carry,
//! so that every engine says which module of a plug-in trapped in the same words, and no
//! backend keeps a table of names. The kernel module is named in its text
//! ([`KERNEL_MODULE_NAME`](crate::engine::KERNEL_MODULE_NAME)).
//!
//! Every byte outside the name section is kept as it is (a toolchain's own section-size
//! encoding included), and toolchains put the name section after the code, so the code
//! offsets of backtraces and core dumps still point into the file the user built. The
//! module's first name section is replaced by one that starts with the module name and
//! keeps its other subsections (re-encoded), later name sections are dropped (a module has
//! one), and a module without one gets it at its end. A name section that cannot be read
//! is replaced by one holding the module name alone, as engines read the module name from a
//! damaged section too. Code is never decoded.

use std::ops::Range;

use wasm_encoder::reencode::{RoundtripReencoder, utils::parse_custom_name_subsection};
use wasm_encoder::{Encode, NameSection, Section};
use wasmparser::{Encoding, KnownCustom, Name, Parser, Payload};

/// `wasm` with `name` as its module name (see the module documentation). `None` when it
/// needs no change (its only name section already starts with that name), or when `wasm`
/// is a component or not a well-formed module, which the engine then judges as it is.
pub(crate) fn with_module_name(wasm: &[u8], name: &str) -> Option<Vec<u8>> {
    if !wasm.starts_with(b"\0asm") {
        return None;
    }
    // Each name section, whole (its id and size too), and the first one's subsections.
    let mut sections: Vec<Range<usize>> = Vec::new();
    let mut first: Option<Vec<Name<'_>>> = None;
    // A section starts where the previous one's contents end, after the 8-byte header.
    let mut start = 8;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.ok()?;
        if let Payload::Version {
            encoding: Encoding::Component,
            ..
        } = payload
        {
            return None;
        }
        let Some((_, contents)) = payload.as_section() else {
            continue;
        };
        let whole = start..contents.end;
        start = contents.end;
        if let Payload::CustomSection(reader) = &payload
            && let KnownCustom::Name(subsections) = reader.as_known()
        {
            if sections.is_empty() {
                first = subsections.into_iter().collect::<Result<_, _>>().ok();
            }
            sections.push(whole);
        }
    }
    if let ([_], Some([Name::Module { name: own, .. }, ..])) = (&sections[..], first.as_deref())
        && *own == name
    {
        return None;
    }
    let mut replacement = Vec::new();
    let names = names(name, first.unwrap_or_default());
    replacement.push(names.id());
    names.encode(&mut replacement);
    let mut out = Vec::with_capacity(wasm.len() + replacement.len());
    let mut copied = 0;
    for (i, section) in sections.iter().enumerate() {
        out.extend_from_slice(wasm.get(copied..section.start)?);
        if i == 0 {
            out.extend_from_slice(&replacement);
        }
        copied = section.end;
    }
    out.extend_from_slice(wasm.get(copied..)?);
    if sections.is_empty() {
        out.extend_from_slice(&replacement);
    }
    Some(out)
}

/// A name section of `name` as the module name and the other `subsections`, in their order
/// (module name first, as the name section's order requires); the module name alone when
/// one of them cannot be re-encoded.
fn names(name: &str, subsections: Vec<Name<'_>>) -> NameSection {
    let mut names = NameSection::new();
    names.module(name);
    for subsection in subsections {
        if matches!(subsection, Name::Module { .. }) {
            continue;
        }
        if parse_custom_name_subsection(&mut RoundtripReencoder, &mut names, subsection).is_err() {
            let mut alone = NameSection::new();
            alone.module(name);
            return alone;
        }
    }
    names
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

    /// A custom section `name` of `data`, whole.
    fn custom(data: &[u8]) -> Vec<u8> {
        let mut contents = vec![4];
        contents.extend_from_slice(b"name");
        contents.extend_from_slice(data);
        let mut section = vec![0, u8::try_from(contents.len()).unwrap()];
        section.extend_from_slice(&contents);
        section
    }

    /// A name subsection holding the module name `name`.
    fn module_subsection(name: &str) -> Vec<u8> {
        let mut subsection = vec![0, u8::try_from(name.len() + 1).unwrap()];
        subsection.push(u8::try_from(name.len()).unwrap());
        subsection.extend_from_slice(name.as_bytes());
        subsection
    }

    #[test]
    fn leaves_every_byte_outside_the_name_section_where_it_was() {
        // A type section whose size is written in five bytes, as Go's linker writes every
        // section size: re-encoding it would move the code after it.
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[1, 0x84, 0x80, 0x80, 0x80, 0x00, 1, 0x60, 0, 0]);
        let named = with_module_name(&wasm, "main").unwrap();
        assert!(named.starts_with(&wasm));
        assert_eq!(names(&named).0, vec!["main".to_owned()]);
        wasmparser::validate(&named).unwrap();

        // A name section before another custom section is replaced in place.
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&custom(&module_subsection("own")));
        let after = [0, 3, 2, b'x', b'y'];
        wasm.extend_from_slice(&after);
        let named = with_module_name(&wasm, "dependency").unwrap();
        assert!(named.ends_with(&after));
        assert_eq!(names(&named).0, vec!["dependency".to_owned()]);
    }

    #[test]
    fn a_damaged_name_section_still_names_the_module_as_the_manifest_does() {
        // The module subsection claims a name, and a function subsection after it is cut
        // short: engines still read the module name from such a section.
        let mut damaged = module_subsection("xtism-kernel");
        damaged.extend_from_slice(&[1, 9, 1]);
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&custom(&damaged));
        let named = with_module_name(&wasm, "main").unwrap();
        assert_eq!(names(&named), (vec!["main".into()], vec![], vec![]));
        wasmparser::validate(&named).unwrap();
    }

    #[test]
    fn keeps_one_name_section_and_leaves_a_named_module_alone() {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&custom(&module_subsection("one")));
        wasm.extend_from_slice(&custom(&module_subsection("two")));
        let named = with_module_name(&wasm, "main").unwrap();
        assert_eq!(names(&named).0, vec!["main".to_owned()]);
        assert_eq!(with_module_name(&named, "main"), None);
        assert!(with_module_name(&named, "other").is_some());
    }

    proptest::proptest! {
        /// Whatever a module's name section holds, readable or not, the result is a valid
        /// module named `main`, with every byte before that section as it was.
        #[test]
        fn any_name_section_becomes_a_valid_one_naming_the_module(
            // Under 123 bytes, so that the section's size fits the one byte `custom` writes.
            contents in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..122),
        ) {
            let module = wat::parse_str(r#"(module (func (export "f")) (memory 1))"#).unwrap();
            let mut wasm = module.clone();
            wasm.extend_from_slice(&custom(&contents));
            let Some(named) = with_module_name(&wasm, "main") else {
                // Only a section that already names the module `main` is left alone.
                proptest::prop_assert_eq!(names(&wasm).0, vec!["main".to_owned()]);
                return Ok(());
            };
            proptest::prop_assert!(named.starts_with(&module));
            proptest::prop_assert!(wasmparser::validate(&named).is_ok());
            proptest::prop_assert_eq!(names(&named).0, vec!["main".to_owned()]);
        }
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
