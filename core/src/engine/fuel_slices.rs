//! [`FuelSlices`]: a call's fuel budget handed out in slices, for an engine whose metered
//! call can be resumed after it runs out of fuel (wasmi). Between slices core decides
//! whether the call goes on: it stops with the call's interruption (a passed deadline, a
//! cancel) or, once the budget is spent, with [`XtismError::OutOfFuel`].

use super::interrupt::CallLimits;
use crate::error::XtismError;

/// The fuel of one call run in slices: its budget, the slice, and what it has been given.
#[derive(Debug)]
pub struct FuelSlices {
    budget: u64,
    slice: u64,
    given: u64,
}

impl FuelSlices {
    /// The slices of a call under `limits`, and the fuel to give it first. A call that can
    /// be interrupted ([`CallLimits::interruptible`]) gets `slice` units at a time, so that
    /// it stops within a slice of its deadline or cancel; any other gets its whole budget
    /// ([`CallLimits::fuel`], or `u64::MAX` units without one) at once.
    pub fn begin(limits: &CallLimits, slice: u64) -> (FuelSlices, u64) {
        let slice = if limits.interruptible() {
            slice
        } else {
            u64::MAX
        };
        let budget = limits.fuel.unwrap_or(u64::MAX);
        let given = budget.min(slice);
        (
            FuelSlices {
                budget,
                slice,
                given,
            },
            given,
        )
    }

    /// The call ran out of its slice and needs `missing` more units than it has left to go
    /// on: the fuel to add to what it has left, a slice or, when one operation needs more
    /// (wasmi charges `memory.grow` by the byte), what it is missing; no more than the
    /// budget has left.
    ///
    /// # Errors
    ///
    /// The call's interruption ([`XtismError::Timeout`], [`XtismError::Cancelled`]), else
    /// [`XtismError::OutOfFuel`] when what is left of the budget is less than `missing`.
    pub fn next(&mut self, missing: u64, limits: &CallLimits) -> Result<u64, XtismError> {
        if let Some(stop) = limits.interruption() {
            return Err(stop);
        }
        let left = self.budget - self.given;
        let next = left.min(self.slice.max(missing));
        if next == 0 || next < missing {
            return Err(XtismError::OutOfFuel);
        }
        self.given += next;
        Ok(next)
    }

    /// The fuel the call used, `left` units of its last slice being unspent; `None` when
    /// it had no budget.
    pub fn consumed(&self, left: u64, limits: &CallLimits) -> Option<u64> {
        limits.fuel.map(|_| self.given.saturating_sub(left))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::engine::CancelState;

    #[test]
    fn a_call_that_cannot_be_interrupted_gets_its_budget_at_once() {
        let limits = CallLimits {
            fuel: Some(1_000),
            ..CallLimits::default()
        };
        let (mut slices, first) = FuelSlices::begin(&limits, 10);
        assert_eq!(first, 1_000);
        assert!(matches!(
            slices.next(1, &limits),
            Err(XtismError::OutOfFuel)
        ));
        assert_eq!(slices.consumed(400, &limits), Some(600));
    }

    #[test]
    fn an_interruptible_call_gets_slices_until_its_budget_is_spent() {
        let cancel = Arc::new(CancelState::default());
        let limits = CallLimits {
            fuel: Some(25),
            cancel: Some(cancel),
            ..CallLimits::default()
        };
        let (mut slices, first) = FuelSlices::begin(&limits, 10);
        assert_eq!(first, 10);
        assert_eq!(slices.next(1, &limits).unwrap(), 10);
        // More than a slice when the engine needs it, less when the budget has less left.
        assert_eq!(slices.next(1, &limits).unwrap(), 5);
        assert!(matches!(
            slices.next(1, &limits),
            Err(XtismError::OutOfFuel)
        ));
        assert_eq!(slices.consumed(2, &limits), Some(23));
        let (mut slices, _) = FuelSlices::begin(&limits, 10);
        assert_eq!(slices.next(12, &limits).unwrap(), 12);
        assert!(matches!(
            slices.next(4, &limits),
            Err(XtismError::OutOfFuel)
        ));
    }

    #[test]
    fn a_call_past_its_deadline_stops_at_the_next_slice() {
        let limits = CallLimits {
            deadline: Some(Instant::now()),
            ..CallLimits::default()
        };
        let (mut slices, first) = FuelSlices::begin(&limits, 10);
        assert_eq!(first, 10);
        assert!(matches!(
            slices.next(1, &limits),
            Err(XtismError::Timeout(_))
        ));
        assert_eq!(slices.consumed(0, &limits), None);
    }
}
