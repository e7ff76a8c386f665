//! [`StoreLimiter`]: a plug-in's [`ResourceLimits`] and its [`MemoryBudget`] as its store
//! grows memories and tables, in core's words, so that a refusal reads the same on every
//! engine. A backend whose engine asks a limiter before each growth (wasmtime, wasmi)
//! forwards to one; a backend that creates memories and tables itself (wasmer's tunables)
//! asks [`ResourceLimits`] and charges the [`MemoryBudget`] directly.
//!
//! How many instances, memories and tables a plug-in makes is counted by core before any
//! engine is asked (`plugin::resources`); the counts here are the engine's backstop.

use std::sync::Arc;

use super::link_plan::ResourceLimits;
use super::memory_budget::MemoryBudget;

/// The size of a WebAssembly page, in bytes (64 KiB).
pub const PAGE_SIZE: u64 = 65_536;

impl ResourceLimits {
    /// Why a table of `elements` is refused, if it is: above
    /// [`max_table_elements`](Self::max_table_elements).
    pub fn table_refusal(&self, elements: u64) -> Option<String> {
        let max = self.max_table_elements;
        (elements > u64::from(max))
            .then(|| format!("a table of {elements} elements is above the limit of {max} elements"))
    }
}

/// [`ResourceLimits`] and the instance's [`MemoryBudget`] applied to one store, remembering
/// the last table growth it refused for the error of a failed instantiation.
#[derive(Debug)]
pub struct StoreLimiter {
    limits: ResourceLimits,
    memory: Arc<MemoryBudget>,
    /// Bytes charged for the last memory growth allowed, until it is known to have failed.
    charged: u64,
    refused: Option<String>,
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl StoreLimiter {
    /// A limiter for a store under `limits`, charging memory growth to `memory` (the
    /// [`PluginState::memory_budget`](super::PluginState::memory_budget) of the state the
    /// store holds).
    pub fn new(limits: ResourceLimits, memory: Arc<MemoryBudget>) -> StoreLimiter {
        StoreLimiter {
            limits,
            memory,
            charged: 0,
            refused: None,
        }
    }

    /// Whether a linear memory may grow from `current` to `desired` bytes, its declared
    /// maximum being `maximum` bytes. A growth past the maximum is allowed here: the engine
    /// refuses it itself (`memory.grow` gives -1).
    ///
    /// # Errors
    ///
    /// The budget's refusal, in core's words: the backend makes it a trap (core reports
    /// the call as [`XtismError::MemoryLimit`](crate::XtismError::MemoryLimit)).
    pub fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<(), String> {
        self.charged = 0;
        if maximum.is_some_and(|max| desired > max) {
            return Ok(());
        }
        self.charged = self.memory.charge(current as u64, desired as u64)?;
        Ok(())
    }

    /// The growth last allowed by [`memory_growing`](Self::memory_growing) failed after all:
    /// its charge is given back. Only for an engine that says so for every growth its
    /// limiter allowed and that then fails, and for no other (wasmi, which also fails a
    /// growth the call's fuel cannot pay for and runs it again once refuelled); wasmtime
    /// also reports growths it refused before asking its limiter.
    pub fn memory_grow_failed(&mut self) {
        self.memory.refund(std::mem::take(&mut self.charged));
    }

    /// Whether a table may grow to `desired` elements.
    pub fn table_growing(&mut self, desired: usize) -> bool {
        self.allow(self.limits.table_refusal(desired as u64))
    }

    fn allow(&mut self, refusal: Option<String>) -> bool {
        let allowed = refusal.is_none();
        if !allowed {
            self.refused = refusal;
        }
        allowed
    }

    /// The last growth refused, in core's words; cleared.
    pub fn take_refusal(&mut self) -> Option<String> {
        self.refused.take()
    }

    /// Module instances the store may hold.
    pub fn instances(&self) -> usize {
        to_usize(self.limits.max_instances)
    }

    /// Linear memories the store may hold.
    pub fn memories(&self) -> usize {
        to_usize(self.limits.max_memories)
    }

    /// Tables the store may hold.
    pub fn tables(&self) -> usize {
        to_usize(self.limits.max_tables)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_remembered_in_core_words() {
        let limits = ResourceLimits {
            max_table_elements: 10,
            ..ResourceLimits::default()
        };
        let budget = Arc::new(MemoryBudget::new(Some(2)));
        budget.restart();
        let mut limiter = StoreLimiter::new(limits, Arc::clone(&budget));
        let page = PAGE_SIZE as usize;
        limiter.memory_growing(page, 2 * page, None).unwrap();
        // Past the declared maximum: the engine's to refuse, nothing charged.
        limiter.memory_growing(0, 9 * page, Some(4 * page)).unwrap();
        limiter
            .memory_growing(page, 2 * page, Some(2 * page))
            .unwrap();
        let refusal = limiter.memory_growing(0, page, None).unwrap_err();
        assert_eq!(budget.take_refusal(), Some(refusal));
        // A growth allowed and then failed costs nothing.
        budget.refund(page as u64);
        limiter.memory_growing(0, page, None).unwrap();
        limiter.memory_grow_failed();
        limiter.memory_growing(0, page, None).unwrap();
        limiter.memory_grow_failed();
        limiter.memory_grow_failed();
        assert!(limiter.memory_growing(0, 2 * page, None).is_err());
        budget.take_refusal();
        assert_eq!(limiter.take_refusal(), None);
        assert!(limiter.table_growing(10));
        assert!(!limiter.table_growing(11));
        assert_eq!(
            limiter.take_refusal().as_deref(),
            Some("a table of 11 elements is above the limit of 10 elements")
        );
        assert_eq!(limiter.take_refusal(), None);
    }
}
