//! What instantiating a plug-in makes in its engine's store ([`StoreResources`]: module
//! instances, linear memories, tables, the pages the main module's memories start with and
//! the largest table at its start), counted from the modules' bytes, and the refusals when
//! [`ResourceLimits`] or `memory.max_pages` forbid it. Core decides this once, before any
//! engine is asked, so a plug-in too large for its limits fails the same way on every
//! engine; what an engine's limiter or tunables enforce after that is `memory.grow` and
//! `table.grow`.

use wasmparser::{Parser, Payload};

use crate::engine::{KERNEL_WASM, ResourceLimits, pages};
use crate::error::XtismError;

/// Instances, memories and tables one instantiation of a plug-in makes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct StoreResources {
    instances: u32,
    memories: u32,
    tables: u32,
    /// The minimums of the memories the main module defines, in 64 KiB pages.
    pages: u64,
    /// The largest minimum of a defined table, in elements.
    largest_table: u64,
}

impl StoreResources {
    /// Counts an instance of the plug-in's module `wasm` (already validated by the engine),
    /// the `main` one or another: the memories and tables it defines, and the kernel's too
    /// when core merged the kernel into the module.
    pub(super) fn add_module(
        &mut self,
        wasm: &[u8],
        main: bool,
        merged: bool,
    ) -> Result<(), XtismError> {
        self.instances += 1;
        if merged {
            self.add_definitions(KERNEL_WASM, false)?;
        }
        self.add_definitions(wasm, main)
    }

    /// Counts the instance of core's kernel module.
    pub(super) fn add_kernel(&mut self) -> Result<(), XtismError> {
        self.instances += 1;
        self.add_definitions(KERNEL_WASM, false)
    }

    /// Counts the memories and tables `wasm` defines, the pages its memories start with when
    /// it is the main module, and notes the largest table.
    fn add_definitions(&mut self, wasm: &[u8], main: bool) -> Result<(), XtismError> {
        let invalid = |e: wasmparser::BinaryReaderError| {
            XtismError::Invalid(format!("reading a module: {e}"))
        };
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(invalid)? {
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        self.memories += 1;
                        let initial = memory.map_err(invalid)?.initial;
                        if main {
                            self.pages = self.pages.saturating_add(initial);
                        }
                    }
                }
                Payload::TableSection(reader) => {
                    for table in reader {
                        self.tables += 1;
                        let initial = table.map_err(invalid)?.ty.initial;
                        self.largest_table = self.largest_table.max(initial);
                    }
                }
                // Nothing after the code section defines a memory or table.
                Payload::CodeSectionStart { .. } => break,
                _ => {}
            }
        }
        Ok(())
    }

    /// Fails with [`XtismError::MemoryLimit`] when `limits` forbid these resources.
    pub(super) fn check(&self, limits: &ResourceLimits) -> Result<(), XtismError> {
        let refused = [
            ("module instances", self.instances, limits.max_instances),
            ("linear memories", self.memories, limits.max_memories),
            ("tables", self.tables, limits.max_tables),
        ]
        .into_iter()
        .find(|(_, need, max)| need > max);
        if let Some((what, need, max)) = refused {
            return Err(XtismError::MemoryLimit(format!(
                "the plug-in needs {need} {what}; the limit is {max}"
            )));
        }
        limits
            .table_refusal(self.largest_table)
            .map_or(Ok(()), |refusal| Err(XtismError::MemoryLimit(refusal)))
    }

    /// Why no instance can be made under `max_pages`, if none can: the main module's
    /// memories start with more pages than it. As in the official runtime, which charges
    /// the main module's memories as it instantiates it at the first call (then starts the
    /// budget afresh), and whose calls then fail with `oom`; the kernel's and the linked
    /// modules' memories are not counted.
    pub(super) fn start_refusal(&self, max_pages: Option<u32>) -> Option<String> {
        let max = max_pages.filter(|&max| self.pages > u64::from(max))?;
        Some(format!(
            "the main module's memories start with {}, more than memory.max_pages ({max})",
            pages(self.pages)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_defined_memories_and_tables_and_refuses_past_the_limits() {
        let wasm = wat::parse_str(
            r#"(module
                 (import "env" "m" (memory 1))
                 (memory 1) (memory 2)
                 (table 1 funcref)
                 (func (export "f")))"#,
        )
        .unwrap();
        let mut needs = StoreResources::default();
        needs.add_module(&wasm, true, false).unwrap();
        // A kernel instance: one more instance and memory, its pages not counted.
        needs.add_kernel().unwrap();
        assert_eq!(
            needs,
            StoreResources {
                instances: 2,
                memories: 3,
                tables: 1,
                pages: 3,
                largest_table: 1,
            }
        );
        let mut merged = StoreResources::default();
        merged.add_module(&wasm, true, true).unwrap();
        assert_eq!((merged.memories, merged.pages), (3, 3));
        let mut limits = ResourceLimits {
            max_memories: 2,
            ..ResourceLimits::default()
        };
        let err = needs.check(&limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            XtismError::MemoryLimit("the plug-in needs 3 linear memories; the limit is 2".into())
                .to_string()
        );
        limits.max_memories = 3;
        needs.check(&limits).unwrap();
    }

    #[test]
    fn refuses_a_table_that_starts_above_its_cap() {
        let wasm = wat::parse_str("(module (table 10 funcref))").unwrap();
        let mut needs = StoreResources::default();
        needs.add_module(&wasm, true, false).unwrap();
        let mut limits = ResourceLimits {
            max_table_elements: 9,
            ..ResourceLimits::default()
        };
        assert_eq!(
            needs.check(&limits).unwrap_err().to_string(),
            "memory limit reached: a table of 10 elements is above the limit of 9 elements"
        );
        limits.max_table_elements = 10;
        needs.check(&limits).unwrap();
    }

    #[test]
    fn only_the_main_modules_memories_must_start_within_max_pages() {
        let lib = wat::parse_str("(module (memory 5))").unwrap();
        let main = wat::parse_str("(module (memory 1) (memory 2))").unwrap();
        let mut needs = StoreResources::default();
        needs.add_module(&lib, false, false).unwrap();
        needs.add_module(&main, true, false).unwrap();
        needs.add_kernel().unwrap();
        assert_eq!(
            needs.start_refusal(Some(2)).as_deref(),
            Some("the main module's memories start with 3 pages, more than memory.max_pages (2)")
        );
        assert_eq!(needs.start_refusal(Some(3)), None);
        let mut one = StoreResources::default();
        one.add_module(&wat::parse_str("(module (memory 1))").unwrap(), true, false)
            .unwrap();
        assert_eq!(
            one.start_refusal(Some(0)).as_deref(),
            Some("the main module's memories start with 1 page, more than memory.max_pages (0)")
        );
        assert_eq!(needs.start_refusal(None), None);
        // The kernel memory merged into the main module is not counted.
        let mut merged = StoreResources::default();
        merged
            .add_module(&wat::parse_str("(module)").unwrap(), true, true)
            .unwrap();
        assert_eq!((merged.memories, merged.pages), (1, 0));
        assert_eq!(merged.start_refusal(Some(0)), None);
    }
}
