//! What a plug-in's wasmtime store holds ([`StoreData`]): core's state, the memories host
//! calls reach, the limits of the running call for the epoch callback, and the [`Limiter`]
//! through which core's [`StoreLimiter`] applies the plug-in's resource limits to every
//! memory and table the store creates; and the kernel memory and module memories borrowed
//! with the plug-in state from the store or a caller ([`WithData`]): core's
//! [`HostAccess`](xtism_core::engine::HostAccess) over either.

use std::time::Instant;

use wasmtime::{AsContextMut, Caller, Memory, ResourceLimiter, Store};
use xtism_core::XtismError;
use xtism_core::engine::PluginState;
use xtism_core::engine::{CallLimits, StoreLimiter};

/// What the store holds: core's state, the memories host calls need, the limits, and the
/// limits of the call in progress.
pub(crate) struct StoreData {
    pub(crate) state: PluginState,
    pub(crate) kernel: Option<Memory>,
    /// Each module's exported `memory`, in link-plan order (the last is main's).
    pub(crate) memories: Vec<Option<Memory>>,
    pub(crate) limiter: Limiter,
    /// The limits of the running call, for the epoch callback.
    pub(crate) call: Option<CallLimits>,
    /// Why the epoch callback stopped the call.
    pub(crate) stop: Option<XtismError>,
    /// When the running async call started or last yielded to the executor.
    pub(crate) yielded: Instant,
}

/// A wasmtime context that owns [`StoreData`]: the store, or the caller inside a host call.
/// Core's [`HostAccess`](xtism_core::engine::HostAccess) over either is these functions.
pub(crate) trait WithData: AsContextMut<Data = StoreData> {
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

/// Core's [`StoreLimiter`] as wasmtime's resource limiter.
pub(crate) struct Limiter(pub(crate) StoreLimiter);

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.0
            .memory_growing(current, desired, maximum)
            .map_err(wasmtime::Error::msg)?;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
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
