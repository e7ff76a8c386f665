//! The link plan: how core tells a backend to instantiate a plug-in. Every module in
//! instantiation order with the source of each import ([`PlannedModule`]), where the kernel
//! memory lives ([`KernelMemory`]), the user host functions, and what the store may hold
//! ([`ResourceLimits`]), and the names a backend looks exports up by. Core makes every
//! decision in it; a backend only carries it out.

use std::sync::Arc;

use super::host_function::Function;
use super::import_source::ImportSource;
use super::module::{CompiledModule, Module};
use crate::error::XtismError;

/// The name core's kernel module goes by in backtraces and errors, on every engine: the
/// module name in its name section (`kernel.wat` names it so).
pub const KERNEL_MODULE_NAME: &str = "xtism-kernel";

/// The compiled kernel module (core's `kernel.wat`, assembled at build time), which a
/// backend instantiates as [`KERNEL_MODULE_NAME`] when the plan says
/// [`KernelMemory::Instance`].
pub const KERNEL_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kernel.wasm"));

/// The export under which a plug-in module whose kernel memory core merged into it
/// ([`KernelMemory::MainExport`]) shares that memory with the host.
pub const KERNEL_MEMORY_EXPORT: &str = "xtism:kernel-memory";

/// The kernel module's export of the kernel memory, when the kernel memory lives in an
/// instance of it ([`KernelMemory::Instance`]).
pub const KERNEL_MODULE_MEMORY: &str = "memory";

/// The export through which a plug-in module shares its linear memory with the host (WASI,
/// host functions, memory dumps): Extism's `memory`.
pub const MODULE_MEMORY_EXPORT: &str = "memory";

/// One module to instantiate, with the source of each of its imports.
#[derive(Clone)]
pub struct PlannedModule {
    /// Module name (`main` for the plug-in itself).
    pub name: String,
    /// The compiled module, from this engine.
    pub module: Arc<dyn Module>,
    /// One source per import, in [`Module::imports`] order.
    pub imports: Vec<ImportSource>,
}

impl PlannedModule {
    /// The backend's own module `M` inside [`module`](Self::module), when the backend
    /// made it with the engine and options it links with now (`ours`).
    ///
    /// # Errors
    ///
    /// [`XtismError::Invalid`] naming the module, when another engine, or this engine
    /// with other compile options, compiled it.
    pub fn compiled<M: 'static>(
        &self,
        engine: &str,
        ours: impl FnOnce(&M) -> bool,
    ) -> Result<&M, XtismError> {
        CompiledModule::<M>::downcast(self.module.as_ref())
            .filter(|m| ours(m))
            .ok_or_else(|| {
                XtismError::Invalid(format!(
                    "module {} was not compiled by this {engine} engine with these options",
                    self.name
                ))
            })
    }
}

/// Where a plug-in's kernel memory lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelMemory {
    /// In an instance of the kernel module ([`KERNEL_WASM`]), made
    /// before the plug-in's modules: its export [`KERNEL_MODULE_MEMORY`]; the modules' data-path imports are
    /// [`ImportSource::Kernel`] exports of that instance.
    Instance,
    /// Core merged the kernel's data path into the main module (the plug-in has no other):
    /// the main instance's memory export [`KERNEL_MEMORY_EXPORT`].
    /// No kernel instance is made, and no import is [`ImportSource::Kernel`].
    MainExport,
}

/// How to instantiate a plug-in: modules in instantiation order, the last one main.
#[derive(Clone)]
pub struct LinkPlan {
    /// Modules, dependencies first; the last is the plug-in's main module.
    pub modules: Vec<PlannedModule>,
    /// Where the kernel memory lives.
    pub kernel_memory: KernelMemory,
    /// The user host functions.
    pub functions: Vec<Function>,
    /// What the store may hold.
    pub limits: ResourceLimits,
}

/// Caps on what one plug-in instance may allocate in its engine's store, so that a plug-in
/// cannot exhaust the host's memory through tables or memories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceLimits {
    /// Elements of every table.
    pub max_table_elements: u32,
    /// Linear memories in the store.
    pub max_memories: u32,
    /// Tables in the store.
    pub max_tables: u32,
    /// Module instances in the store.
    pub max_instances: u32,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits {
            max_table_elements: 1 << 20,
            max_memories: 16,
            max_tables: 64,
            max_instances: 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(inner: u8) -> PlannedModule {
        PlannedModule {
            name: "main".into(),
            module: Arc::new(CompiledModule::new(inner, Vec::new(), Vec::new())),
            imports: Vec::new(),
        }
    }

    #[test]
    fn a_backend_links_only_the_modules_it_compiled_with_these_options() {
        let planned = planned(7);
        assert_eq!(planned.compiled::<u8>("test", |m| *m == 7).ok(), Some(&7));
        let other_options = planned.compiled::<u8>("test", |m| *m == 8).unwrap_err();
        assert_eq!(
            other_options.to_string(),
            XtismError::Invalid(
                "module main was not compiled by this test engine with these options".into()
            )
            .to_string()
        );
        assert!(matches!(
            planned.compiled::<u16>("test", |_| true),
            Err(XtismError::Invalid(_))
        ));
    }
}
