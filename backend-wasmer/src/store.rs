//! What a plug-in's wasmer store holds for its host functions ([`StoreData`]: core's state
//! and the memories host calls reach), and the kernel memory and module memories borrowed
//! with the state from a store and the environment of its host functions.

use wasmer::{AsStoreMut, FunctionEnv, Memory};
use xtism_core::engine::PluginState;

use crate::raw::{self, MemorySpan};

/// What a store's host functions reach: core's state and the memories host calls need.
pub(crate) struct StoreData {
    /// Always present, except after [`Instance::into_state`](xtism_core::engine::Instance::into_state) took it out (wasmer cannot
    /// hand back a store's data by value).
    pub(crate) state: Option<PluginState>,
    /// The kernel memory, to grow it.
    pub(crate) kernel: Option<Memory>,
    /// Where its bytes are, to read and write them.
    pub(crate) kernel_span: Option<MemorySpan>,
    /// Where each module's exported `memory` is, in link-plan order (the last is main's).
    pub(crate) memories: Vec<Option<MemorySpan>>,
}

impl StoreData {
    pub(crate) fn state(&mut self) -> &mut PluginState {
        self.state
            .as_mut()
            .expect("the plug-in state is only taken out of a store being dropped")
    }

    pub(crate) fn shared_state(&self) -> &PluginState {
        self.state
            .as_ref()
            .expect("the plug-in state is only taken out of a store being dropped")
    }
}

/// The bytes of the memory at `span` (when there is one) and the plug-in state, borrowed
/// together from `store` for as long as it is.
pub(crate) fn memory_and_state<'a>(
    store: &'a mut impl AsStoreMut,
    env: &FunctionEnv<StoreData>,
    span: Option<MemorySpan>,
) -> (Option<&'a mut [u8]>, &'a mut PluginState) {
    match span {
        Some(span) => {
            let (bytes, data) = raw::span_and_data(store, env, span);
            (Some(bytes), data.state())
        }
        None => (None, env.as_mut(store).state()),
    }
}

/// Module `module`'s memory (the last is main's) and the plug-in state, borrowed together.
pub(crate) fn module_memory_and_state<'a>(
    store: &'a mut impl AsStoreMut,
    env: &FunctionEnv<StoreData>,
    module: usize,
) -> (Option<&'a mut [u8]>, &'a mut PluginState) {
    let span = env.as_ref(&*store).memories.get(module).copied().flatten();
    memory_and_state(store, env, span)
}

/// The kernel memory's bytes (where `span` says they are; none before the kernel is
/// instantiated, when no block can exist yet) and the plug-in state, borrowed together from
/// `store`.
pub(crate) fn kernel_and_state<'a>(
    store: &'a mut impl AsStoreMut,
    env: &FunctionEnv<StoreData>,
    span: Option<MemorySpan>,
) -> (&'a mut [u8], &'a mut PluginState) {
    let (bytes, state) = memory_and_state(store, env, span);
    (bytes.unwrap_or_default(), state)
}

/// Grows the kernel memory of the store by `pages`.
pub(crate) fn grow_kernel(
    store: &mut impl AsStoreMut,
    env: &FunctionEnv<StoreData>,
    pages: u64,
) -> bool {
    match (env.as_ref(&*store).kernel.clone(), u32::try_from(pages)) {
        (Some(memory), Ok(pages)) => memory.grow(store, pages).is_ok(),
        _ => false,
    }
}
