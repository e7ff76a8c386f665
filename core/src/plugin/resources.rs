//! What instantiating a plug-in makes in its engine's store ([`StoreResources`]: module
//! instances, linear memories, tables, the pages its own memories start with and the largest
//! table at its start), counted from the modules' bytes, and the refusal when
//! [`ResourceLimits`] or `memory.max_pages` forbid it. Core decides this once, before any
//! engine is asked, so a plug-in too large for its limits fails to build with the same error
//! on every engine; what an engine's limiter or tunables enforce after that is `memory.grow`
//! and `table.grow`.

use wasmparser::{Parser, Payload};

use crate::engine::{KERNEL_WASM, ResourceLimits};
use crate::error::XtismError;

/// Instances, memories and tables one instantiation of a plug-in makes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct StoreResources {
    instances: u32,
    memories: u32,
    tables: u32,
    /// The minimums of the memories the plug-in's modules define (not the kernel's), in
    /// 64 KiB pages.
    pages: u64,
    /// The largest minimum of a defined table, in elements.
    largest_table: u64,
}

impl StoreResources {
    /// Counts an instance of the plug-in's module `wasm` (already validated by the engine):
    /// the memories and tables it defines, and the kernel's too when core merged the kernel
    /// into the module.
    pub(super) fn add_module(&mut self, wasm: &[u8], merged: bool) -> Result<(), XtismError> {
        self.instances += 1;
        if merged {
            self.add_definitions(KERNEL_WASM, false)?;
        }
        self.add_definitions(wasm, true)
    }

    /// Counts the instance of core's kernel module.
    pub(super) fn add_kernel(&mut self) -> Result<(), XtismError> {
        self.instances += 1;
        self.add_definitions(KERNEL_WASM, false)
    }

    /// Counts the memories and tables `wasm` defines, the pages its memories start with when
    /// they are the plug-in's (`own`), and notes the largest table.
    fn add_definitions(&mut self, wasm: &[u8], own: bool) -> Result<(), XtismError> {
        let invalid = |e: wasmparser::BinaryReaderError| {
            XtismError::Invalid(format!("reading a module: {e}"))
        };
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(invalid)? {
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        self.memories += 1;
                        let initial = memory.map_err(invalid)?.initial;
                        if own {
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

    /// Fails with [`XtismError::MemoryLimit`] when `limits` forbid these resources, or the
    /// plug-in's own memories start with more than `max_pages` pages together (the kernel's
    /// memory is not counted, as in the official runtime, which charges only the main
    /// module's memories; here every module of the plug-in counts).
    pub(super) fn check(
        &self,
        limits: &ResourceLimits,
        max_pages: Option<u32>,
    ) -> Result<(), XtismError> {
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
        if let Some(max) = max_pages.filter(|&max| self.pages > u64::from(max)) {
            return Err(XtismError::MemoryLimit(format!(
                "the plug-in's memories start with {} pages, more than memory.max_pages ({max})",
                self.pages
            )));
        }
        limits
            .table_refusal(self.largest_table)
            .map_or(Ok(()), |refusal| Err(XtismError::MemoryLimit(refusal)))
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
        needs.add_module(&wasm, false).unwrap();
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
        merged.add_module(&wasm, true).unwrap();
        assert_eq!((merged.memories, merged.pages), (3, 3));
        let mut limits = ResourceLimits {
            max_memories: 2,
            ..ResourceLimits::default()
        };
        let err = needs.check(&limits, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            XtismError::MemoryLimit("the plug-in needs 3 linear memories; the limit is 2".into())
                .to_string()
        );
        limits.max_memories = 3;
        needs.check(&limits, None).unwrap();
    }

    #[test]
    fn refuses_memories_or_a_table_that_start_above_the_limits() {
        let lib = wat::parse_str("(module (memory 1) (table 10 funcref))").unwrap();
        let main = wat::parse_str("(module (memory 3))").unwrap();
        let mut needs = StoreResources::default();
        needs.add_module(&lib, false).unwrap();
        needs.add_module(&main, false).unwrap();
        needs.add_kernel().unwrap();
        let mut limits = ResourceLimits::default();
        let refusal = |limits: &ResourceLimits, max_pages| {
            needs.check(limits, max_pages).unwrap_err().to_string()
        };
        assert_eq!(
            refusal(&limits, Some(3)),
            "memory limit reached: the plug-in's memories start with 4 pages, more than memory.max_pages (3)"
        );
        limits.max_table_elements = 9;
        assert_eq!(
            refusal(&limits, Some(4)),
            "memory limit reached: a table of 10 elements is above the limit of 9 elements"
        );
        limits.max_table_elements = 10;
        needs.check(&limits, Some(4)).unwrap();
        // The kernel memory merged into a module is not the plug-in's own.
        let mut merged = StoreResources::default();
        merged
            .add_module(&wat::parse_str("(module)").unwrap(), true)
            .unwrap();
        assert_eq!((merged.memories, merged.pages), (1, 0));
        merged.check(&limits, Some(0)).unwrap();
    }
}
