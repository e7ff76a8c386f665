//! The data a backend's store carries for core: [`PluginState`].
//!
//! A backend keeps it in its store, hands it back through [`HostAccess`](super::HostAccess)
//! and never looks inside. This layer holds in it only what it uses itself: the error a
//! failing host call recorded ([`PluginState::fail`]), the running call's deadline and
//! cancel flag ([`PluginState::interruption`]), and the instance's budget of memory growth
//! ([`PluginState::memory_budget`]).
//!
//! Everything else is core's Extism bookkeeping (kernel blocks, vars, config, limits, the
//! HTTP and WASI context of the instance), defined in `state`, above this layer. Rather than
//! import it, this layer declares a type slot, [`ExtismStateSlot`], and keeps that state in
//! a field of the slot's type; `state` fills the slot, once, for [`Core`]. The slot is
//! crate-private and resolves at compile time to the concrete type, so the kernel imports
//! reach their bookkeeping directly (no trait object, no downcast on the hot path of every
//! host call), while nothing in this layer names or reads it.

use std::sync::Arc;
use std::time::Instant;

use super::host_access::HostTrap;
use super::interrupt::CancelState;
use super::memory_budget::MemoryBudget;
use super::pending_call::PendingHostCall;
use crate::error::XtismError;

/// The slot through which `state` names the Extism part of [`PluginState`], which this
/// layer carries without knowing its type.
pub(crate) trait ExtismStateSlot {
    /// Core's per-instance Extism bookkeeping.
    type State;
}

/// The one type that fills [`ExtismStateSlot`] (in `state`).
pub(crate) enum Core {}

/// Everything the host keeps for one plug-in instance.
///
/// Created by core and moved into the backend's store; survives re-instantiation, so vars
/// persist until the plug-in is dropped.
pub struct PluginState {
    /// Core's Extism bookkeeping: kernel blocks, vars, config, limits, the call's context,
    /// HTTP and WASI.
    pub(crate) extism: <Core as ExtismStateSlot>::State,
    pub(crate) pending_error: Option<XtismError>,
    /// The running call's deadline, for host imports that block (HTTP, WASI sleeps).
    pub(crate) deadline: Option<Instant>,
    /// The plug-in's cancel flag, shared with its [`CancelHandle`](crate::CancelHandle)s.
    pub(crate) cancel: Arc<CancelState>,
    /// `memory.max_pages`, charged by the store's limiter or memories.
    pub(crate) memory: Arc<MemoryBudget>,
    /// The async host call a backend without futures of its own suspended its guest's call
    /// on ([`suspend`](Self::suspend)).
    pub(crate) suspended: Option<PendingHostCall>,
}

impl PluginState {
    /// The budget of linear-memory growth the store's memories charge: a backend's
    /// [`StoreLimiter`](super::StoreLimiter) or its own memories charge it with every growth.
    pub fn memory_budget(&self) -> &Arc<MemoryBudget> {
        &self.memory
    }

    /// Why the running call must stop now, if it must: [`XtismError::Cancelled`], or
    /// [`XtismError::Timeout`] (core fills in the duration). Host calls that wait ask it as they
    /// wait, and every host function and WASI call asks it when it returns, so a call stops
    /// as soon as its host call is done on every engine (wasmi checks the deadline between
    /// fuel slices only).
    pub(crate) fn interruption(&self) -> Option<XtismError> {
        if self.cancel.is_cancelled() {
            Some(XtismError::Cancelled)
        } else if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(XtismError::Timeout(0))
        } else {
            None
        }
    }

    /// The time left before the running call's deadline; `None` when it has none.
    pub(crate) fn time_left(&self) -> Option<std::time::Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// Records the error of a failing host call; the backend then traps and core reports
    /// this error instead of the trap.
    pub fn fail(&mut self, error: XtismError) -> HostTrap {
        self.pending_error = Some(error);
        HostTrap
    }

    /// For a backend whose engine suspends a call when a host function traps and resumes
    /// it with that function's results (wasmi's resumable calls): keeps the async host call
    /// the guest is waiting on, and gives the marker to trap with. The backend then takes
    /// it back with [`take_suspended`](Self::take_suspended), polls it, and resumes the
    /// guest with its results.
    pub fn suspend(&mut self, call: PendingHostCall) -> HostTrap {
        self.suspended = Some(call);
        HostTrap
    }

    /// The async host call kept by [`suspend`](Self::suspend), if the guest's call was
    /// suspended on one; `None` when the trap was a failure.
    pub fn take_suspended(&mut self) -> Option<PendingHostCall> {
        self.suspended.take()
    }
}
