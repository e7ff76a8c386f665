//! What a plug-in's wasmtime store holds ([`StoreData`]): core's state, the memories host
//! calls reach, the names of its modules for backtraces, the limits of the running call for
//! the epoch callback, and the [`Limiter`] that applies [`ResourceLimits`] to every memory
//! and table the store creates.

use std::sync::Arc;

use wasmtime::{Memory, ResourceLimiter};
use xtism_core::engine::{CallLimits, ResourceLimits};
use xtism_core::{PluginState, XtismError};

/// What the store holds: core's state, the memories host calls need, the limits, and the
/// limits of the call in progress.
pub(crate) struct StoreData {
    pub(crate) state: PluginState,
    pub(crate) kernel: Option<Memory>,
    /// Each module's exported `memory`, in link-plan order (the last is main's).
    pub(crate) memories: Vec<Option<Memory>>,
    pub(crate) limiter: Limiter,
    /// The limits of the running call, for the epoch callback.
    pub(crate) call: Option<CallLimits>,
    /// Why the epoch callback stopped the call.
    pub(crate) stop: Option<XtismError>,
    /// Names of the store's modules, for backtraces.
    pub(crate) names: Arc<ModuleNames>,
}

impl StoreData {
    pub(crate) fn plugin_memory(&self) -> Option<Memory> {
        self.memories.last().copied().flatten()
    }
}

/// The name each module of a plug-in goes by in backtraces: its name in the manifest
/// (`main` for the plug-in itself), and core's name for its kernel.
pub(crate) struct ModuleNames(pub(crate) Vec<(wasmtime::Module, Box<str>)>);

impl ModuleNames {
    pub(crate) fn of<'a>(&'a self, module: &'a wasmtime::Module) -> &'a str {
        self.0
            .iter()
            .find(|(m, _)| wasmtime::Module::same(m, module))
            .map(|(_, name)| &**name)
            .or_else(|| module.name())
            .unwrap_or("<module>")
    }
}

/// [`ResourceLimits`] as a wasmtime resource limiter, remembering what it refused.
pub(crate) struct Limiter {
    max_memory_bytes: Option<usize>,
    limits: ResourceLimits,
    /// The last growth refused, for the error of a failed instantiation.
    pub(crate) refused: Option<Refusal>,
}

/// A growth the [`Limiter`] refused.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refusal {
    Memory { desired: usize, max: usize },
    Table { desired: usize, max: usize },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Memory { desired, max } => write!(
                f,
                "a linear memory of {desired} bytes is above the limit of {max} bytes ({} pages)",
                *max as u64 / xtism_core::PAGE_SIZE
            ),
            Refusal::Table { desired, max } => write!(
                f,
                "a table of {desired} elements is above the limit of {max} elements"
            ),
        }
    }
}

impl Limiter {
    pub(crate) fn new(limits: ResourceLimits) -> Limiter {
        Limiter {
            max_memory_bytes: limits.max_pages.map(|pages| {
                usize::try_from(u64::from(pages) * xtism_core::PAGE_SIZE).unwrap_or(usize::MAX)
            }),
            limits,
            refused: None,
        }
    }
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match self.max_memory_bytes {
            Some(max) if desired > max => {
                self.refused = Some(Refusal::Memory { desired, max });
                Ok(false)
            }
            _ => Ok(true),
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let max = to_usize(self.limits.max_table_elements);
        if desired > max {
            self.refused = Some(Refusal::Table { desired, max });
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        to_usize(self.limits.max_instances)
    }

    fn tables(&self) -> usize {
        to_usize(self.limits.max_tables)
    }

    fn memories(&self) -> usize {
        to_usize(self.limits.max_memories)
    }
}
