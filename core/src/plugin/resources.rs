//! What instantiating a plug-in makes in its engine's store ([`StoreResources`]: module
//! instances, linear memories, tables), counted from the modules' bytes, and the refusal when
//! [`ResourceLimits`] forbid it. Core decides this once, before any engine is asked, so a
//! plug-in too large for its limits fails to build with the same error on every engine.

use wasmparser::{Parser, Payload};

use crate::engine::ResourceLimits;
use crate::error::XtismError;

/// Instances, memories and tables one instantiation of a plug-in makes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct StoreResources {
    instances: u32,
    memories: u32,
    tables: u32,
}

impl StoreResources {
    /// Counts an instance of the module `wasm` (already validated by the engine, or core's
    /// kernel module): the memories and tables it defines, and one more memory when core
    /// merged the kernel memory into it.
    pub(super) fn add_module(&mut self, wasm: &[u8], merged: bool) -> Result<(), XtismError> {
        self.instances += 1;
        self.memories += u32::from(merged);
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.map_err(|e| XtismError::Invalid(format!("reading a module: {e}")))? {
                Payload::MemorySection(reader) => self.memories += reader.count(),
                Payload::TableSection(reader) => self.tables += reader.count(),
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
        match refused {
            Some((what, need, max)) => Err(XtismError::MemoryLimit(format!(
                "the plug-in needs {need} {what}; the limit is {max}"
            ))),
            None => Ok(()),
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
                tables: 1
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
}
