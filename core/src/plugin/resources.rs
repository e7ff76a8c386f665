//! What instantiating a plug-in makes in its engine's store ([`StoreResources`]: module
//! instances, linear memories, tables, and the largest of them at their start), counted from
//! the modules' bytes, and the refusal when [`ResourceLimits`] forbid it. Core decides this
//! once, before any engine is asked, so a plug-in too large for its limits fails to build
//! with the same error on every engine; what an engine's limiter or tunables enforce after
//! that is `memory.grow` and `table.grow`.

use wasmparser::{Parser, Payload};

use crate::engine::{KERNEL_WASM, ResourceLimits};
use crate::error::XtismError;

/// Instances, memories and tables one instantiation of a plug-in makes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct StoreResources {
    instances: u32,
    memories: u32,
    tables: u32,
    /// The largest minimum of a defined memory, in 64 KiB pages.
    largest_memory: u64,
    /// The largest minimum of a defined table, in elements.
    largest_table: u64,
}

impl StoreResources {
    /// Counts an instance of the module `wasm` (already validated by the engine, or core's
    /// kernel module): the memories and tables it defines, and the kernel memory too when
    /// core merged it into the module.
    pub(super) fn add_module(&mut self, wasm: &[u8], merged: bool) -> Result<(), XtismError> {
        self.instances += 1;
        if merged {
            self.add_definitions(KERNEL_WASM)?;
        }
        self.add_definitions(wasm)
    }

    /// Counts the memories and tables `wasm` defines, and notes the largest.
    fn add_definitions(&mut self, wasm: &[u8]) -> Result<(), XtismError> {
        let invalid = |e: wasmparser::BinaryReaderError| {
            XtismError::Invalid(format!("reading a module: {e}"))
        };
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(invalid)? {
                Payload::MemorySection(reader) => {
                    for memory in reader {
                        self.memories += 1;
                        self.largest_memory =
                            self.largest_memory.max(memory.map_err(invalid)?.initial);
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
        match limits.memory_refusal(self.largest_memory) {
            Some(refusal) => Err(XtismError::MemoryLimit(refusal)),
            None => limits
                .table_refusal(self.largest_table)
                .map_or(Ok(()), |refusal| Err(XtismError::MemoryLimit(refusal))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::KERNEL_WASM;

    #[test]
    fn counts_defined_memories_and_tables_and_refuses_past_the_limits() {
        let wasm = wat::parse_str(
            r#"(module
                 (import "env" "m" (memory 1))
                 (memory 1) (memory 1)
                 (table 1 funcref)
                 (func (export "f")))"#,
        )
        .unwrap();
        let mut needs = StoreResources::default();
        needs.add_module(&wasm, false).unwrap();
        // A kernel instance: one more instance and memory.
        needs.add_module(KERNEL_WASM, false).unwrap();
        assert_eq!(
            needs,
            StoreResources {
                instances: 2,
                memories: 3,
                tables: 1,
                largest_memory: 1,
                largest_table: 1,
            }
        );
        let mut merged = StoreResources::default();
        merged.add_module(&wasm, true).unwrap();
        assert_eq!(merged.memories, 3);
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
    fn refuses_a_memory_or_table_that_starts_above_its_cap() {
        let wasm = wat::parse_str("(module (memory 1) (memory 3) (table 10 funcref))").unwrap();
        let mut needs = StoreResources::default();
        needs.add_module(&wasm, false).unwrap();
        let mut limits = ResourceLimits {
            max_pages: Some(2),
            ..ResourceLimits::default()
        };
        let refusal = |limits: &ResourceLimits| needs.check(limits).unwrap_err().to_string();
        assert_eq!(
            refusal(&limits),
            "memory limit reached: a linear memory of 3 pages is above the limit of 2 pages"
        );
        limits.max_pages = Some(3);
        limits.max_table_elements = 9;
        assert_eq!(
            refusal(&limits),
            "memory limit reached: a table of 10 elements is above the limit of 9 elements"
        );
        limits.max_table_elements = 10;
        needs.check(&limits).unwrap();
        // The kernel memory merged into a module counts with the module's own.
        let mut merged = StoreResources::default();
        merged
            .add_module(&wat::parse_str("(module)").unwrap(), true)
            .unwrap();
        assert_eq!((merged.memories, merged.largest_memory), (1, 1));
        limits.max_pages = Some(0);
        assert!(merged.check(&limits).is_err());
    }
}
