//! Resource limits, enforced where wasmer creates memories, tables and globals: by our own
//! `Tunables`, [`LimitingTunables`], which apply the policy of this module (they live in
//! [`raw`] because wasmer's trait has unsafe methods).
//!
//! Tunables belong to a wasmer engine, shared by every store, while limits belong to one
//! plug-in. So [`Linked::instantiate`](xtism_core::engine::Linked::instantiate) opens a
//! [`Budget`] on its thread for the duration of the instantiation (instantiation is
//! synchronous), and the tunables charge every memory and table they create to it:
//!
//! - a memory's maximum is clamped to `max_pages`, so `memory.grow` past it returns -1 and
//!   growing the kernel from the host fails; a memory whose minimum is above the cap is
//!   refused;
//! - a table's maximum is clamped to `max_table_elements`, and a larger minimum (a "table
//!   bomb") is refused before anything is allocated.
//!
//! How many memories and tables a plug-in may make is core's to decide: it counts them
//! from the modules' bytes and refuses the plug-in before it is linked.
//!
//! Wasmer reports a refusal as an "insufficient resources" link error, which the backend
//! turns into [`XtismError::MemoryLimit`](xtism_core::XtismError::MemoryLimit). The budget also
//! collects what only the tunables get to see: the storage address of each instance's
//! interruption flag (see [`interrupt`]), and where the kernel memory's base and length live
//! ([`MemorySpan`]).
//!
//! [`interrupt`]: crate::interrupt
//! [`raw`]: crate::raw
//! [`LimitingTunables`]: crate::raw::LimitingTunables

use std::cell::RefCell;

use wasmer::sys::vm::MemoryError;
use wasmer::{MemoryType, Pages, TableType};
use xtism_core::engine::ResourceLimits;

use crate::raw::{Flag, MemorySpan};

/// What the instantiation in progress on this thread may still create.
#[derive(Debug)]
struct Allowance {
    limits: ResourceLimits,
    flag: Option<Flag>,
    /// The export name of the memory to note the span of, while one is watched.
    watched: Option<&'static str>,
    memory: Option<MemorySpan>,
    /// Why the last memory or table was refused, in core's words.
    refused: Option<String>,
}

thread_local! {
    static ALLOWANCE: RefCell<Option<Allowance>> = const { RefCell::new(None) };
}

/// The limits of the instantiation in progress on this thread; closed when dropped (the
/// previous one, for a nested instantiation from a host function, is restored).
pub(crate) struct Budget {
    previous: Option<Allowance>,
}

impl Budget {
    /// Charges what this thread instantiates to `limits` until the budget is dropped.
    pub(crate) fn open(limits: ResourceLimits) -> Budget {
        let allowance = Allowance {
            limits,
            flag: None,
            watched: None,
            memory: None,
            refused: None,
        };
        Budget {
            previous: ALLOWANCE.with(|a| a.borrow_mut().replace(allowance)),
        }
    }

    /// The interruption flag of the module instantiated last, if it has one.
    pub(crate) fn take_flag(&self) -> Option<Flag> {
        ALLOWANCE.with(|a| a.borrow_mut().as_mut().and_then(|a| a.flag.take()))
    }

    /// Notes the span of the memory exported as `name` by the modules instantiated from now
    /// on, until [`take_memory`](Self::take_memory).
    pub(crate) fn watch_memory(&self, name: &'static str) {
        charge(|a| a.watched = Some(name));
    }

    /// Why the last memory or table was refused, if one was (wasmer reports the refusal
    /// wrapped in its own words).
    pub(crate) fn take_refusal(&self) -> Option<String> {
        charge(|a| a.refused.take()).flatten()
    }

    /// The span noted since [`watch_memory`](Self::watch_memory), if any; stops watching.
    pub(crate) fn take_memory(&self) -> Option<MemorySpan> {
        charge(|a| {
            a.watched = None;
            a.memory.take()
        })
        .flatten()
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        let previous = self.previous.take();
        ALLOWANCE.with(|a| *a.borrow_mut() = previous);
    }
}

/// Runs `f` on the open allowance, if there is one.
fn charge<R>(f: impl FnOnce(&mut Allowance) -> R) -> Option<R> {
    ALLOWANCE.with(|a| a.borrow_mut().as_mut().map(f))
}

/// Notes the interruption flag of the module being instantiated, for [`Budget::take_flag`].
pub(crate) fn note_flag(flag: Flag) {
    charge(|a| a.flag = Some(flag));
}

/// The export name of the memory whose span the open budget watches, if any.
pub(crate) fn watched_memory() -> Option<&'static str> {
    charge(|a| a.watched).flatten()
}

/// Notes the span of the watched memory, for [`Budget::take_memory`].
pub(crate) fn note_memory(span: MemorySpan) {
    charge(|a| a.memory = Some(span));
}

/// `ty` with its maximum clamped to the allowance, or why it cannot be created.
pub(crate) fn allowed_memory(ty: &MemoryType) -> Result<MemoryType, MemoryError> {
    let mut ty = *ty;
    let refused = charge(|a| {
        if let Some(cap) = a.limits.max_pages.map(Pages) {
            ty.maximum = Some(ty.maximum.map_or(cap, |max| max.min(cap)));
        }
        a.refused = a.limits.memory_refusal(ty.minimum.0.into());
        a.refused.clone()
    });
    match refused.flatten() {
        Some(reason) => Err(MemoryError::Generic(reason)),
        None => Ok(ty),
    }
}

/// `ty` with its maximum clamped to the allowance, or why it cannot be created.
pub(crate) fn allowed_table(ty: &TableType) -> Result<TableType, String> {
    let mut ty = *ty;
    let refused = charge(|a| {
        let cap = a.limits.max_table_elements;
        ty.maximum = Some(ty.maximum.map_or(cap, |max| max.min(cap)));
        a.refused = a.limits.table_refusal(ty.minimum.into());
        a.refused.clone()
    });
    match refused.flatten() {
        Some(reason) => Err(reason),
        None => Ok(ty),
    }
}
