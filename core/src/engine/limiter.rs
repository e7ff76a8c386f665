//! [`StoreLimiter`]: a plug-in's [`ResourceLimits`] as its store grows memories and tables,
//! in core's words, so that a refusal reads the same on every engine. A backend whose engine
//! asks a limiter before each growth (wasmtime, wasmi) forwards to one; a backend that
//! creates memories and tables itself (wasmer's tunables) asks [`ResourceLimits`] directly.
//!
//! How many instances, memories and tables a plug-in makes is counted by core before any
//! engine is asked (`plugin::resources`); the counts here are the engine's backstop.

use super::link_plan::ResourceLimits;

/// The size of a WebAssembly page, in bytes (64 KiB).
pub const PAGE_SIZE: u64 = 65_536;

impl ResourceLimits {
    /// Why a linear memory of `pages` (64 KiB pages) is refused, if it is: above
    /// [`max_pages`](Self::max_pages).
    pub fn memory_refusal(&self, pages: u64) -> Option<String> {
        let max = self.max_pages?;
        (pages > u64::from(max))
            .then(|| format!("a linear memory of {pages} pages is above the limit of {max} pages"))
    }

    /// Why a table of `elements` is refused, if it is: above
    /// [`max_table_elements`](Self::max_table_elements).
    pub fn table_refusal(&self, elements: u64) -> Option<String> {
        let max = self.max_table_elements;
        (elements > u64::from(max))
            .then(|| format!("a table of {elements} elements is above the limit of {max} elements"))
    }
}

/// [`ResourceLimits`] applied to one store, remembering the last growth it refused for the
/// error of a failed instantiation.
#[derive(Debug)]
pub struct StoreLimiter {
    limits: ResourceLimits,
    refused: Option<String>,
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl StoreLimiter {
    /// A limiter for a store under `limits`.
    pub fn new(limits: ResourceLimits) -> StoreLimiter {
        StoreLimiter {
            limits,
            refused: None,
        }
    }

    /// Whether a linear memory may grow to `desired` bytes (a `memory.grow` past it returns
    /// -1 in the guest; an instantiation fails).
    pub fn memory_growing(&mut self, desired: usize) -> bool {
        let pages = (desired as u64).div_ceil(PAGE_SIZE);
        self.allow(self.limits.memory_refusal(pages))
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
            max_pages: Some(2),
            max_table_elements: 10,
            ..ResourceLimits::default()
        };
        let mut limiter = StoreLimiter::new(limits);
        assert!(limiter.memory_growing(2 * 65_536));
        assert_eq!(limiter.take_refusal(), None);
        assert!(!limiter.memory_growing(2 * 65_536 + 1));
        assert_eq!(
            limiter.take_refusal().as_deref(),
            Some("a linear memory of 3 pages is above the limit of 2 pages")
        );
        assert!(limiter.table_growing(10));
        assert!(!limiter.table_growing(11));
        assert_eq!(
            limiter.take_refusal().as_deref(),
            Some("a table of 11 elements is above the limit of 10 elements")
        );
        assert_eq!(limiter.take_refusal(), None);
    }
}
