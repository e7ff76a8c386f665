//! What a plug-in's wasmi store holds ([`StoreData`]), the [`Limiter`] through which core's
//! [`StoreLimiter`] applies the plug-in's resource limits, and the kernel memory and module
//! memories borrowed with the plug-in state from the store or a caller ([`WithData`]): core's
//! [`HostAccess`](xtism_core::engine::HostAccess) over either.

use wasmi::{Caller, Memory, Store};
use xtism_core::engine::{PluginState, StoreLimiter};

/// What the store holds: core's state, the memories host calls need, and the limits.
pub(crate) struct StoreData {
    pub(crate) state: PluginState,
    pub(crate) kernel: Option<Memory>,
    /// Each module's exported `memory`, in link-plan order (the last is main's).
    pub(crate) memories: Vec<Option<Memory>>,
    pub(crate) limiter: Limiter,
}

/// Core's [`StoreLimiter`] as wasmi's resource limiter.
pub(crate) struct Limiter(pub(crate) StoreLimiter);

impl wasmi::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        // The refusal is a trap; core reports the budget's words.
        self.0
            .memory_growing(current, desired, maximum)
            .map_err(|_| wasmi_core::LimiterError::ResourceLimiterDeniedAllocation)?;
        Ok(true)
    }

    fn memory_grow_failed(
        &mut self,
        _error: &wasmi_core::MemoryError,
    ) -> Result<(), wasmi_core::LimiterError> {
        // wasmi fails a growth the call's fuel slice cannot pay for, and runs it again once
        // refuelled: the first attempt must not stay charged.
        self.0.memory_grow_failed();
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        Ok(self.0.table_growing(desired))
    }

    fn instances(&self) -> usize {
        self.0.instances()
    }

    fn tables(&self) -> usize {
        self.0.tables()
    }

    fn memories(&self) -> usize {
        self.0.memories()
    }
}

/// A wasmi context that owns [`StoreData`]: the store, or the caller inside a host call.
pub(crate) trait WithData: wasmi::AsContextMut<Data = StoreData> {
    fn store_data(&mut self) -> &mut StoreData;
}

impl WithData for Store<StoreData> {
    fn store_data(&mut self) -> &mut StoreData {
        self.data_mut()
    }
}

impl WithData for Caller<'_, StoreData> {
    fn store_data(&mut self) -> &mut StoreData {
        self.data_mut()
    }
}

/// `memory`'s bytes, if there is one, and the state, borrowed together.
fn bytes_and_state<C: WithData>(
    ctx: &mut C,
    memory: Option<Memory>,
) -> (Option<&mut [u8]>, &mut PluginState) {
    match memory {
        Some(memory) => {
            let (bytes, data) = memory.data_and_store_mut(ctx);
            (Some(bytes), &mut data.state)
        }
        None => (None, &mut ctx.store_data().state),
    }
}

/// Borrows the kernel memory and the state together; no bytes before the kernel is
/// instantiated (no block can exist yet). Inlined: it is on every call's path, and through
/// [`bytes_and_state`] it cost the 16-byte echo about 60 instructions (callgrind).
#[inline]
pub(crate) fn kernel_of<C: WithData>(ctx: &mut C) -> (&mut [u8], &mut PluginState) {
    match ctx.store_data().kernel {
        Some(memory) => {
            let (bytes, data) = memory.data_and_store_mut(ctx);
            (bytes, &mut data.state)
        }
        None => (&mut [], &mut ctx.store_data().state),
    }
}

/// Grows the kernel memory by `pages`; whether it grew.
pub(crate) fn grow_kernel_of<C: WithData>(ctx: &mut C, pages: u64) -> bool {
    match ctx.store_data().kernel {
        Some(memory) => memory.grow(ctx, pages).is_ok(),
        None => false,
    }
}

/// Borrows module `module`'s memory (the last is main's) and the state together.
pub(crate) fn module_memory_of<C: WithData>(
    ctx: &mut C,
    module: usize,
) -> (Option<&mut [u8]>, &mut PluginState) {
    let memory = ctx.store_data().memories.get(module).copied().flatten();
    bytes_and_state(ctx, memory)
}
