//! wasmtime's pooling instance allocator, for a host that opts in with
//! [`WasmtimeEngine::with_instance_pool`](crate::WasmtimeEngine::with_instance_pool).

use wasmtime::{InstanceAllocationStrategy, PoolConcurrencyLimitError, PoolingAllocationConfig};

/// What one slot of the pool holds: wasmtime instances, linear memories and tables. A
/// plug-in of one module merged with the kernel's data path is one instance with two
/// memories (its own and the kernel memory); one whose kernel stays a separate instance is
/// two instances with a memory each.
const PER_SLOT: u32 = 2;

/// The most memories and tables any one module may define: a merged plug-in has two
/// memories, and a multi-memory plug-in more.
const PER_MODULE: u32 = 4;

/// The allocation strategy of an engine with room for `slots` live plug-ins.
///
/// Each slot reserves two linear memories' worth of address space when the engine is made
/// (wasmtime's default reservation, 4 GiB and a guard region each on 64-bit hosts), none of
/// it resident until used, and one fiber stack for an async call (a plug-in runs one call
/// at a time); tables hold at most wasmtime's default 20,000 elements.
pub(crate) fn strategy(slots: u32) -> InstanceAllocationStrategy {
    let total = slots.saturating_mul(PER_SLOT);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(total)
        .total_memories(total)
        .total_tables(total)
        .total_gc_heaps(slots)
        .total_stacks(slots)
        .max_memories_per_module(PER_MODULE)
        .max_tables_per_module(PER_MODULE);
    InstanceAllocationStrategy::Pooling(pool)
}

/// The message of an instantiation refused because the pool is full, if `error` is one.
pub(crate) fn full(error: &wasmtime::Error, slots: u32) -> Option<String> {
    error.downcast_ref::<PoolConcurrencyLimitError>().map(|e| {
        format!(
            "the wasmtime instance pool is full ({e}; the engine has {slots} slots): drop a \
             plug-in or make the pool larger"
        )
    })
}
