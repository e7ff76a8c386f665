//! Resource limits, applied where wasmer creates memories and tables: by our own `Tunables`,
//! [`LimitingTunables`], which hold one plug-in's [`ResourceLimits`] (each linked plug-in's
//! stores come from an engine of its own that carries them) and apply the policy of this
//! module. They live in [`raw`] because wasmer's traits have unsafe methods.
//!
//! - Every memory they create is a [`BudgetedMemory`]: it charges each growth to the
//!   instance's [`MemoryBudget`] (`memory.max_pages`, shared by all its memories) and fails
//!   one the budget refuses, so `memory.grow` returns -1 and growing the kernel from the
//!   host fails. The budget keeps the refusal: core's watchdog then stops the call and core
//!   reports it as a memory limit. Wasmer's tunables see no store, so the budget of the
//!   instance being made reaches them through [`instantiating`], on the instantiating
//!   thread.
//! - A table's maximum is clamped to `max_table_elements`, so `table.grow` past it returns -1.
//!
//! What a plug-in may make at instantiation (how many instances, memories and tables, and
//! how many pages its main module's memories start with) is core's to decide: it reads them
//! from the modules' bytes and refuses the plug-in (or, for the pages, its calls) before
//! any engine makes them. A table that starts above
//! its cap anyway is refused here too, in core's words inside wasmer's: an "insufficient
//! resources" link error, which the backend turns into [`XtismError::MemoryLimit`].
//!
//! [`XtismError::MemoryLimit`]: xtism_core::XtismError::MemoryLimit
//! [`raw`]: crate::raw
//! [`LimitingTunables`]: crate::raw::LimitingTunables
//! [`BudgetedMemory`]: crate::raw::BudgetedMemory

use std::cell::RefCell;
use std::sync::Arc;

use wasmer::sys::vm::{LinearMemory, MemoryError};
use wasmer::{Pages, TableType};
use xtism_core::engine::{MemoryBudget, PAGE_SIZE, ResourceLimits};

thread_local! {
    /// The budget of the instance this thread is making, while it makes it.
    static INSTANTIATING: RefCell<Option<Arc<MemoryBudget>>> = const { RefCell::new(None) };
}

/// Runs `f`, which instantiates a plug-in, with `budget` for the memories it creates.
pub(crate) fn instantiating<R>(budget: &Arc<MemoryBudget>, f: impl FnOnce() -> R) -> R {
    /// Clears the slot when `f` returns or unwinds.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            INSTANTIATING.with(|slot| slot.borrow_mut().take());
        }
    }
    INSTANTIATING.with(|slot| *slot.borrow_mut() = Some(Arc::clone(budget)));
    let _clear = Clear;
    f()
}

/// The budget of the instance being made on this thread, if one is.
pub(crate) fn budget_of_this_instantiation() -> Option<Arc<MemoryBudget>> {
    INSTANTIATING.with(|slot| slot.borrow().clone())
}

/// Charges `budget` for growing `memory` by `delta` pages; the bytes charged (to refund if
/// the growth then fails). A growth past the memory's maximum charges nothing: wasmer
/// refuses it itself.
///
/// # Errors
///
/// The budget's refusal, in core's words.
pub(crate) fn charge_growth(
    memory: &dyn LinearMemory,
    delta: Pages,
    budget: &MemoryBudget,
) -> Result<u64, MemoryError> {
    let current = u64::from(memory.size().0);
    let desired = current + u64::from(delta.0);
    let maximum = memory
        .ty()
        .maximum
        .map_or(u64::from(Pages::max_value().0), |max| u64::from(max.0));
    if desired > maximum {
        return Ok(0);
    }
    budget
        .charge(current * PAGE_SIZE, desired * PAGE_SIZE)
        .map_err(MemoryError::Generic)
}

/// `ty` with its maximum clamped to `limits`, or why it cannot be created, in core's words.
pub(crate) fn allowed_table(ty: &TableType, limits: &ResourceLimits) -> Result<TableType, String> {
    if let Some(refusal) = limits.table_refusal(ty.minimum.into()) {
        return Err(refusal);
    }
    let mut ty = *ty;
    let cap = limits.max_table_elements;
    ty.maximum = Some(ty.maximum.map_or(cap, |max| max.min(cap)));
    Ok(ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_table_maxima_and_refuses_minima_above_the_cap() {
        let mut limits = ResourceLimits::default();
        limits.max_table_elements = 10;
        let table =
            |min, max| allowed_table(&TableType::new(wasmer::Type::FuncRef, min, max), &limits);
        assert_eq!(table(1, None).unwrap().maximum, Some(10));
        assert_eq!(table(1, Some(3)).unwrap().maximum, Some(3));
        assert_eq!(
            table(11, None).unwrap_err(),
            "a table of 11 elements is above the limit of 10 elements"
        );
    }

    #[test]
    fn the_budget_reaches_only_the_instantiating_thread_while_it_instantiates() {
        let budget = Arc::new(MemoryBudget::new(Some(1)));
        assert!(budget_of_this_instantiation().is_none());
        instantiating(&budget, || {
            let seen = budget_of_this_instantiation().unwrap();
            assert!(Arc::ptr_eq(&seen, &budget));
            std::thread::spawn(|| assert!(budget_of_this_instantiation().is_none()))
                .join()
                .unwrap();
        });
        assert!(budget_of_this_instantiation().is_none());
    }
}
