//! [`MemoryBudget`]: `memory.max_pages` as the official runtime counts it, one budget of
//! pages shared by every linear memory of a plug-in instance (the plug-in's modules' and the
//! kernel's).
//!
//! Growing a memory takes the pages it grows by out of the budget; what the instance was
//! created with is not counted (core checks, from the modules' bytes, that the main
//! module's memories start within the budget, and fails every call when they do not), and
//! the budget is full again after every instantiation. A
//! growth the budget cannot pay for is refused and remembered: an engine that asks a limiter
//! first (wasmtime, wasmi) traps on it, and so does the check wasmer's backend puts after
//! each `memory.grow`; core then reports the call as
//! [`XtismError::MemoryLimit`](crate::XtismError::MemoryLimit), root cause `oom`, whatever
//! the trap said. A growth the host makes (placing a block in kernel memory) is refused as
//! an error the host sees.
//!
//! Source: the official runtime's `MemoryLimiter` (extism 1.41, `current_plugin.rs`),
//! reset once the main module is instantiated (`Plugin::instantiate`). Unlike it, a growth
//! to exactly a memory's declared maximum is allowed (it refuses `desired >= maximum`), and
//! a growth past the maximum is left to the engine, which refuses it with -1 as Wasm says.
//!
//! The budget is shared (`Arc`) between the store's limiter or memories, which charge it,
//! and core, which reads the refusal after the call; one store at a time uses it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::limiter::PAGE_SIZE;

/// One plug-in instance's budget of linear-memory growth, in bytes.
#[derive(Debug)]
pub struct MemoryBudget {
    /// The whole budget in bytes (`memory.max_pages` × 64 KiB); `None` is no budget.
    max: Option<u64>,
    inner: Mutex<Spent>,
    /// Whether `inner` holds a refusal: every call asks, and almost always the answer is no,
    /// which this gives without taking the lock.
    refused: AtomicBool,
}

#[derive(Debug, Default)]
struct Spent {
    /// Bytes left to grow by; `None` while the instance is being created (nothing is
    /// charged then) or when there is no budget.
    left: Option<u64>,
    /// The last growth refused, in core's words, until core takes it.
    refused: Option<String>,
}

impl MemoryBudget {
    /// A budget of `max_pages` 64 KiB pages (`None`: unlimited), not charging until core has
    /// made the instance.
    pub fn new(max_pages: Option<u32>) -> MemoryBudget {
        MemoryBudget {
            max: max_pages.map(|pages| u64::from(pages) * PAGE_SIZE),
            inner: Mutex::default(),
            refused: AtomicBool::new(false),
        }
    }

    fn spent(&self) -> std::sync::MutexGuard<'_, Spent> {
        // Nothing panics while holding the lock; a poisoned one still holds valid counts.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops charging: the instance is being created.
    pub(crate) fn pause(&self) {
        self.start_over(None);
    }

    /// The whole budget again, charging every growth from now on: the instance is created.
    pub(crate) fn restart(&self) {
        self.start_over(self.max);
    }

    /// `left` bytes to grow by, and no refusal.
    fn start_over(&self, left: Option<u64>) {
        let mut spent = self.spent();
        spent.left = left;
        spent.refused = None;
        self.refused.store(false, Ordering::Release);
    }

    /// Charges a memory's growth from `current` to `desired` bytes; the bytes charged (0
    /// while the instance is being made or without a budget), to [`refund`](Self::refund)
    /// if the growth then fails.
    ///
    /// # Errors
    ///
    /// The refusal, in core's words, when the growth takes more than is left (also kept,
    /// for core to report once the call ends).
    pub fn charge(&self, current: u64, desired: u64) -> Result<u64, String> {
        let mut spent = self.spent();
        let (Some(max), Some(left)) = (self.max, spent.left) else {
            return Ok(0);
        };
        let growth = desired.saturating_sub(current);
        if growth <= left {
            spent.left = Some(left - growth);
            return Ok(growth);
        }
        let refusal = format!(
            "a linear memory cannot grow by {}: memory.max_pages ({}) has {} left",
            pages(growth.div_ceil(PAGE_SIZE)),
            pages(max / PAGE_SIZE),
            pages(left / PAGE_SIZE)
        );
        spent.refused = Some(refusal.clone());
        self.refused.store(true, Ordering::Release);
        Err(refusal)
    }

    /// Gives back `bytes` charged for a growth that then failed.
    pub fn refund(&self, bytes: u64) {
        let mut spent = self.spent();
        if let (Some(max), Some(left)) = (self.max, spent.left) {
            spent.left = Some(left.saturating_add(bytes).min(max));
        }
    }

    /// The last growth refused, if one was since the last take; cleared.
    pub(crate) fn take_refusal(&self) -> Option<String> {
        if !self.refused.load(Ordering::Acquire) {
            return None;
        }
        let mut spent = self.spent();
        self.refused.store(false, Ordering::Release);
        spent.refused.take()
    }
}

/// `n` 64 KiB pages, in words.
pub(crate) fn pages(n: u64) -> String {
    match n {
        1 => "1 page".into(),
        n => format!("{n} pages"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = PAGE_SIZE;

    #[test]
    fn growth_is_charged_after_a_restart_and_refusals_are_remembered() {
        let budget = MemoryBudget::new(Some(3));
        // Creating an instance is free.
        budget.charge(0, 100 * PAGE).unwrap();
        budget.restart();
        budget.charge(PAGE, 3 * PAGE).unwrap();
        let refusal = budget.charge(0, 2 * PAGE).unwrap_err();
        assert_eq!(
            refusal,
            "a linear memory cannot grow by 2 pages: memory.max_pages (3 pages) has 1 page left"
        );
        assert_eq!(budget.take_refusal(), Some(refusal));
        assert_eq!(budget.take_refusal(), None);
        budget.charge(5 * PAGE, 6 * PAGE).unwrap();
        assert!(budget.charge(0, 1).is_err());
        budget.refund(PAGE);
        budget.charge(0, PAGE).unwrap();
        // A new instance: the whole budget again, and no refusal carried over.
        assert!(budget.charge(0, PAGE).is_err());
        budget.restart();
        assert_eq!(budget.take_refusal(), None);
        budget.charge(0, 3 * PAGE).unwrap();
        budget.pause();
        budget.charge(0, PAGE).unwrap();
    }

    #[test]
    fn no_max_pages_is_no_budget() {
        let budget = MemoryBudget::new(None);
        budget.restart();
        budget.charge(0, u64::MAX).unwrap();
        assert_eq!(budget.take_refusal(), None);
    }
}
