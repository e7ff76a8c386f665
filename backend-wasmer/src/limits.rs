//! Resource limits, applied where wasmer creates memories and tables: by our own `Tunables`,
//! [`LimitingTunables`], which hold one plug-in's [`ResourceLimits`] (each linked plug-in's
//! stores come from an engine of its own that carries them) and apply the policy of this
//! module. They live in [`raw`] because wasmer's trait has unsafe methods.
//!
//! - A memory's maximum is clamped to `max_pages`, so `memory.grow` past it returns -1 and
//!   growing the kernel from the host fails.
//! - A table's maximum is clamped to `max_table_elements`, so `table.grow` past it returns -1.
//!
//! What a plug-in may make at instantiation (how many instances, memories and tables, and
//! none that starts above its cap) is core's to decide: it reads them from the modules' bytes
//! and refuses the plug-in before it is linked. A memory or table that starts above its cap
//! anyway is refused here too, in core's words inside wasmer's: an "insufficient resources"
//! link error, which the backend turns into [`XtismError::MemoryLimit`].
//!
//! [`XtismError::MemoryLimit`]: xtism_core::XtismError::MemoryLimit
//! [`raw`]: crate::raw
//! [`LimitingTunables`]: crate::raw::LimitingTunables

use wasmer::sys::vm::MemoryError;
use wasmer::{MemoryType, Pages, TableType};
use xtism_core::engine::ResourceLimits;

/// `ty` with its maximum clamped to `limits`, or why it cannot be created, in core's words.
pub(crate) fn allowed_memory(
    ty: &MemoryType,
    limits: &ResourceLimits,
) -> Result<MemoryType, MemoryError> {
    if let Some(refusal) = limits.memory_refusal(ty.minimum.0.into()) {
        return Err(MemoryError::Generic(refusal));
    }
    let mut ty = *ty;
    if let Some(cap) = limits.max_pages.map(Pages) {
        ty.maximum = Some(ty.maximum.map_or(cap, |max| max.min(cap)));
    }
    Ok(ty)
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
    fn clamps_maxima_and_refuses_minima_above_the_caps() {
        let mut limits = ResourceLimits::default();
        limits.max_pages = Some(4);
        limits.max_table_elements = 10;
        let memory = |min, max| allowed_memory(&MemoryType::new(min, max, false), &limits);
        assert_eq!(memory(1, None).unwrap().maximum, Some(Pages(4)));
        assert_eq!(memory(1, Some(9)).unwrap().maximum, Some(Pages(4)));
        assert_eq!(memory(1, Some(2)).unwrap().maximum, Some(Pages(2)));
        // Wasmer words a memory error around ours.
        let refusal = memory(5, None).unwrap_err().to_string();
        assert!(
            refusal.ends_with(": a linear memory of 5 pages is above the limit of 4 pages"),
            "{refusal}"
        );
        let table =
            |min, max| allowed_table(&TableType::new(wasmer::Type::FuncRef, min, max), &limits);
        assert_eq!(table(1, None).unwrap().maximum, Some(10));
        assert_eq!(table(1, Some(3)).unwrap().maximum, Some(3));
        assert_eq!(
            table(11, None).unwrap_err(),
            "a table of 11 elements is above the limit of 10 elements"
        );
    }
}
