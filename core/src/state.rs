//! Per-plug-in state the host keeps beside the engine: kernel bookkeeping, vars, config,
//! limits and the context of the call in progress.
//!
//! Backends keep a [`PluginState`] in their store and hand it back through
//! [`HostAccess`](crate::engine::HostAccess); they never look inside. `PluginState` itself is
//! defined by the engine layer below, with the part that layer uses (the pending error, the
//! deadline, the cancel flag); the Extism part, [`ExtismState`], is defined here and fills
//! the engine layer's type slot for it.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::alloc::{Allocator, HEADER_SIZE};
use crate::engine::{CancelState, Core, ExtismStateSlot, MemoryBudget, PluginState};
use crate::error::XtismError;

/// Default cap on the bytes held in vars (keys plus values), as in the official runtime.
pub const DEFAULT_MAX_VAR_BYTES: u64 = 1024 * 1024;

/// Default cap on an HTTP response body.
pub const DEFAULT_MAX_HTTP_RESPONSE_BYTES: u64 = 50 * 1024 * 1024;

/// A byte range of kernel memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Region {
    pub offset: u64,
    pub len: u64,
}

/// The kernel's bookkeeping: blocks, and the call's input, output and error.
#[derive(Debug, Default)]
pub(crate) struct KernelState {
    pub alloc: Allocator,
    pub input: Region,
    pub output: Region,
    pub error: u64,
}

impl KernelState {
    /// Frees every block and forgets input, output and error.
    pub fn reset(&mut self, memory: &mut [u8]) {
        self.alloc.reset();
        self.input = Region::default();
        self.output = Region::default();
        self.error = 0;
        self.write_header(memory);
    }

    /// Mirrors input, output and the bounds of the memory into the kernel header that the
    /// Wasm data path reads (see `kernel.wat`). Called whenever one of them changes, the
    /// memory's size included: core grows the kernel memory, and nothing else can.
    pub fn write_header(&self, memory: &mut [u8]) {
        let size = memory.len() as u64;
        // The data path reads the input at `HEADER_SIZE`, where a call places it (the first
        // block after a reset); anywhere else, it reads no input at all.
        let input = if self.input.offset == HEADER_SIZE {
            self.input.len
        } else {
            0
        };
        let words = [
            self.input.offset,
            self.input.len,
            self.output.offset,
            self.output.len,
            size,
            size.saturating_sub(7),
            size.saturating_sub(HEADER_SIZE),
            size.saturating_sub(HEADER_SIZE + 7),
            input,
            // 0 for an input shorter than 8 bytes, where no u64 lies inside it.
            input.saturating_sub(7),
        ];
        for (i, word) in words.iter().enumerate() {
            if let Some(slot) = memory.get_mut(i * 8..i * 8 + 8) {
                slot.copy_from_slice(&word.to_le_bytes());
            }
        }
    }

    /// Frees the block at `offset`; freeing the input block empties the input.
    pub fn free(&mut self, memory: &mut [u8], offset: u64) {
        if self.alloc.free(offset) && offset == self.input.offset {
            self.input.len = 0;
            self.write_header(memory);
        }
    }
}

/// The byte range `[offset, offset + len)` of `memory`, if it lies inside it.
pub(crate) fn range(memory_len: usize, offset: u64, len: u64) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end <= memory_len).then_some(start..end)
}

/// Limits that apply to one plug-in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_var_bytes: u64,
}

/// Plug-in vars and the bytes they use.
#[derive(Debug, Default)]
pub(crate) struct Vars {
    map: BTreeMap<String, Vec<u8>>,
    bytes: u64,
    /// The map was lent out to change ([`map_mut`](Self::map_mut)): `bytes` must be
    /// counted again before it is trusted.
    stale: bool,
}

impl Vars {
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// Every var.
    pub fn map(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.map
    }

    /// Every var, to change directly (a host function's `vars_mut`); the bytes are counted
    /// again at the next [`recount`](Self::recount) or [`set`](Self::set).
    pub fn map_mut(&mut self) -> &mut BTreeMap<String, Vec<u8>> {
        self.stale = true;
        &mut self.map
    }

    /// Counts the bytes the vars hold, as [`set`](Self::set) counts them, and returns them.
    pub fn recount(&mut self) -> u64 {
        self.bytes = self
            .map
            .iter()
            .map(|(key, value)| entry_size(key, value.len()))
            .sum();
        self.stale = false;
        self.bytes
    }

    /// Sets (`Some`) or removes (`None`) a var, keeping the total under `max_bytes`. Every
    /// entry counts its key, its value and [`VAR_ENTRY_OVERHEAD`], as in the official
    /// runtime, so plug-ins meet the limit at the same point. `max_bytes` 0 disables vars.
    pub fn set(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
        max_bytes: u64,
    ) -> Result<(), XtismError> {
        if max_bytes == 0 {
            return Err(XtismError::Invalid(
                "vars are disabled for this plug-in (max_var_bytes is 0)".into(),
            ));
        }
        if self.stale {
            self.recount();
        }
        let size = |value_len: usize| entry_size(key, value_len);
        let old = self.map.get(key).map_or(0, |v| size(v.len()));
        let Some(value) = value else {
            self.map.remove(key);
            self.bytes -= old;
            return Ok(());
        };
        let total = self.bytes - old + size(value.len());
        if total > max_bytes {
            return Err(XtismError::MemoryLimit(format!(
                "the variable store is full: setting var {key:?} would hold {total} bytes, above max_var_bytes = {max_bytes}"
            )));
        }
        self.map.insert(key.to_owned(), value.to_vec());
        self.bytes = total;
        Ok(())
    }
}

/// Bytes each var counts beyond its key and value (the official runtime's bookkeeping).
pub const VAR_ENTRY_OVERHEAD: u64 = 48;

/// The bytes one var counts toward `max_var_bytes`.
fn entry_size(key: &str, value_len: usize) -> u64 {
    (key.len() + value_len) as u64 + VAR_ENTRY_OVERHEAD
}

/// Core's Extism bookkeeping for one plug-in instance: the part of [`PluginState`] the
/// engine layer carries without knowing it (see `engine/plugin_state.rs`).
pub(crate) struct ExtismState {
    pub(crate) kernel: KernelState,
    pub(crate) vars: Vars,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) limits: Limits,
    pub(crate) id: uuid::Uuid,
    /// The manifest the plug-in was built from, its config merged with the builder's.
    pub(crate) manifest: Arc<xtism_manifest::Manifest>,
    pub(crate) host_context: Option<Box<dyn Any + Send>>,
    /// What the plug-in's HTTP requests may do, and the last response's status and headers.
    pub(crate) http: crate::http::HttpState,
    /// The instance's WASI context, when the plug-in imports WASI.
    #[cfg(feature = "wasi")]
    pub(crate) wasi: Option<crate::wasi::WasiState>,
    /// The code the guest passed to WASI `proc_exit` in the running call.
    pub(crate) exit_code: Option<i32>,
    /// The main module's index in the link plan (the last): its memory is the plug-in's.
    pub(crate) main_module: usize,
}

impl ExtismStateSlot for Core {
    type State = ExtismState;
}

impl std::fmt::Debug for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginState")
            .field("id", &self.extism.id)
            .field("kernel", &self.extism.kernel)
            .finish_non_exhaustive()
    }
}

impl PluginState {
    pub(crate) fn new(
        id: uuid::Uuid,
        config: BTreeMap<String, String>,
        limits: Limits,
        cancel: Arc<CancelState>,
        memory: Arc<MemoryBudget>,
    ) -> Self {
        PluginState {
            extism: ExtismState {
                kernel: KernelState::default(),
                vars: Vars::default(),
                config,
                limits,
                id,
                manifest: Arc::default(),
                host_context: None,
                http: Default::default(),
                #[cfg(feature = "wasi")]
                wasi: None,
                exit_code: None,
                main_module: 0,
            },
            pending_error: None,
            deadline: None,
            cancel,
            memory,
            suspended: None,
        }
    }
}

const _: () = assert!(
    HEADER_SIZE == 80,
    "the header holds ten u64 words, and kernel.wat reads the input at 80"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vars_respect_the_byte_limit() {
        let max = VAR_ENTRY_OVERHEAD + 10;
        let mut vars = Vars::default();
        vars.set("a", Some(&[0; 6]), max).unwrap();
        assert_eq!(vars.bytes, VAR_ENTRY_OVERHEAD + 7);
        let err = vars.set("b", Some(&[0; 3]), max).unwrap_err();
        assert!(err.to_string().contains("max_var_bytes"), "{err}");
        // Replacing a value counts the new size only.
        vars.set("a", Some(&[1; 9]), max).unwrap();
        assert_eq!(vars.get("a"), Some(&[1u8; 9][..]));
        vars.set("a", None, max).unwrap();
        assert_eq!(vars.bytes, 0);
        vars.set("gone", None, max).unwrap();
        assert_eq!(vars.bytes, 0);
        let disabled = |r: Result<(), XtismError>| r.unwrap_err().to_string().contains("disabled");
        assert!(disabled(vars.set("a", Some(b"x"), 0)));
        assert!(disabled(vars.set("a", None, 0)), "removal is refused too");
    }

    #[test]
    fn vars_changed_directly_are_counted_again() {
        let max = 2 * VAR_ENTRY_OVERHEAD + 10;
        let mut vars = Vars::default();
        vars.set("a", Some(&[0; 4]), max).unwrap();
        vars.map_mut().insert("b".into(), vec![0; 5]);
        // Counted before the next change: "c" would pass the limit.
        assert!(vars.set("c", Some(&[]), max).is_err());
        vars.map_mut().clear();
        vars.set("a", Some(&[0; 9]), max).unwrap();
        assert_eq!(vars.recount(), VAR_ENTRY_OVERHEAD + 10);
        // A map changed and never handed back is counted again too.
        vars.map_mut().insert("b".into(), vec![0; 100]);
        vars.set("b", None, max).unwrap();
        assert_eq!(vars.bytes, VAR_ENTRY_OVERHEAD + 10);
    }

    #[test]
    fn ranges_are_checked() {
        assert_eq!(range(100, 10, 5), Some(10..15));
        assert_eq!(range(100, 99, 2), None);
        assert_eq!(range(100, u64::MAX, 2), None);
        assert_eq!(range(100, 2, u64::MAX), None);
    }
}
