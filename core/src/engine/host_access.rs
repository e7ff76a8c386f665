//! The host's side of a running plug-in: [`HostAccess`], which a backend implements over its
//! caller and store so that core's kernel imports and host functions can borrow the kernel
//! memory and the plug-in state together, and [`HostTrap`], the marker a failing host call
//! returns for the backend to trap with.

use super::plugin_state::PluginState;

/// The marker a failing host call returns: the real error is kept in the [`PluginState`]
/// and core reports it once the backend's trap unwinds the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostTrap;

impl std::fmt::Display for HostTrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("host function failed")
    }
}

impl std::error::Error for HostTrap {}

/// The host's view of a running plug-in, implemented by backends over their caller (inside
/// a host call) and store (between calls).
pub trait HostAccess {
    /// The kernel memory and the plug-in state, borrowed together.
    fn kernel(&mut self) -> (&mut [u8], &mut PluginState);

    /// Grows the kernel memory by `pages`; false when a limit refuses it.
    fn grow_kernel(&mut self, pages: u64) -> bool;

    /// The exported `memory` of module `module` (an index into [`LinkPlan::modules`]; the
    /// last is the main module), if it exports one, borrowed with the plug-in state.
    ///
    /// [`LinkPlan::modules`]: super::LinkPlan::modules
    fn module_memory(&mut self, module: usize) -> (Option<&mut [u8]>, &mut PluginState);

    /// The plug-in state.
    fn state(&mut self) -> &mut PluginState {
        self.kernel().1
    }

    /// The plug-in state, shared: for reads that borrow nothing else (a host function's
    /// `id`, vars, manifest, remaining time).
    fn shared_state(&self) -> &PluginState;
}
