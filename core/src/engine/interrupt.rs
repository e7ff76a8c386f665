//! Stopping a call: the [`CallLimits`] a backend enforces (fuel, deadline, cancel flag, and
//! for an async call how often it yields) and the [`CancelState`] that numbers a plug-in's
//! calls so a cancel reaches only the call it was meant for.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use atomic_waker::AtomicWaker;

use crate::error::XtismError;

/// The limits of one call.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CallLimits {
    /// Fuel budget, when the module was compiled with fuel.
    pub fuel: Option<u64>,
    /// When to stop the call with [`XtismError::Timeout`], when compiled interruptible.
    pub deadline: Option<Instant>,
    /// Stop the call with [`XtismError::Cancelled`] once this says so, when compiled
    /// interruptible.
    pub cancel: Option<Arc<CancelState>>,
    /// For an async call: the longest the guest may run without giving its thread back to
    /// the executor. A backend yields at its interruption points once this much time has
    /// passed since the call last started or yielded. `None` for a sync call.
    pub yield_every: Option<Duration>,
}

impl CallLimits {
    /// Whether the call can be interrupted: it has a deadline or a cancel flag.
    pub fn interruptible(&self) -> bool {
        self.deadline.is_some() || self.cancel.is_some()
    }

    /// For an async call: whether it is time to yield to the executor, `yield_every` having
    /// passed since `last` (when the call started, resumed from a host call or last
    /// yielded); if so, `last` becomes now. Always false for a sync call.
    pub fn yield_due(&self, last: &mut Instant) -> bool {
        let due = self
            .yield_every
            .is_some_and(|every| last.elapsed() >= every);
        if due {
            *last = Instant::now();
        }
        due
    }

    /// Why the call must stop now, if it must: [`XtismError::Cancelled`] or [`XtismError::Timeout`].
    /// Backends ask this at their interruption points.
    pub fn interruption(&self) -> Option<XtismError> {
        if self.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            Some(XtismError::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(XtismError::Timeout(0))
        } else {
            None
        }
    }
}

/// Marks a call as running until dropped.
pub(crate) struct RunningCall<'a>(&'a CancelState);

impl Drop for RunningCall<'_> {
    fn drop(&mut self) {
        self.0.call.fetch_add(1, Ordering::AcqRel);
    }
}

/// Which call of a plug-in, if any, has been cancelled.
///
/// Calls are numbered: the number is odd while a call runs. Cancelling records the running
/// call's number, so a cancel that arrives between calls, or late, never touches a later
/// call.
#[derive(Debug, Default)]
pub struct CancelState {
    call: AtomicU64,
    cancelled: AtomicU64,
    /// The task of an async call waiting on a host function, woken by a cancel.
    waiting: AtomicWaker,
}

impl CancelState {
    /// Whether the running call has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        let call = self.call.load(Ordering::Acquire);
        call % 2 == 1 && self.cancelled.load(Ordering::Acquire) == call
    }

    /// A call starts; it ends when the guard drops (even if a host function panics).
    pub(crate) fn start_call(&self) -> RunningCall<'_> {
        self.call.fetch_add(1, Ordering::AcqRel);
        RunningCall(self)
    }

    /// Cancels the running call, if there is one.
    pub(crate) fn cancel(&self) {
        let call = self.call.load(Ordering::Acquire);
        if call % 2 == 1 {
            self.cancelled.store(call, Ordering::Release);
            self.waiting.wake();
        }
    }

    /// Wakes `waker` at the next cancel (replacing the waker registered before).
    pub(crate) fn wake_on_cancel(&self, waker: &Waker) {
        self.waiting.register(waker);
    }
}
