//! The `extism:host/env` imports.
//!
//! Half of the ABI is plain Wasm in the kernel module (the data path: byte and word loads
//! and stores, input and output getters); the other half is here, in Rust, working on the
//! kernel memory through [`HostAccess`]. Backends bind each [`HostImport`] with their
//! engine's typed-function API; the enum (defined by the engine layer, below this module)
//! groups the imports by signature so a backend needs one binding per signature, not one
//! per import, and [`HOST_IMPORTS`] gives each import its class.
//!
//! Every argument comes from the guest and may be hostile: handles are checked against the
//! allocator, ranges against the memory, strings for UTF-8. A bad argument becomes a 0 or an
//! error, never a panic.

use crate::engine::ValType::{self, I32, I64};
use crate::engine::{HostAccess, HostImport, HostTrap, PluginState};
use crate::error::XtismError;
use crate::http;
use crate::state::{Region, range};

/// Namespace of the Extism kernel imports.
pub const EXTISM_ENV_MODULE: &str = "extism:host/env";

/// Namespace of WASI preview 1.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// Default namespace of user host functions.
pub const EXTISM_USER_MODULE: &str = "extism:host/user";

pub use crate::engine::PAGE_SIZE;

/// Kernel memory is a 32-bit memory: at most 65536 pages.
const MAX_KERNEL_BYTES: u64 = 1 << 32;

/// Imports served by exports of the kernel module, with their signatures.
pub const KERNEL_EXPORTS: &[(&str, &[ValType], &[ValType])] = &[
    ("load_u8", &[I64], &[I32]),
    ("load_u64", &[I64], &[I64]),
    ("store_u8", &[I64, I32], &[]),
    ("store_u64", &[I64, I64], &[]),
    ("input_offset", &[], &[I64]),
    ("input_length", &[], &[I64]),
    ("output_offset", &[], &[I64]),
    ("output_length", &[], &[I64]),
    ("input_load_u8", &[I64], &[I32]),
    ("input_load_u64", &[I64], &[I64]),
];

/// The kernel imports implemented in Rust.
pub const HOST_IMPORTS: &[(&str, HostImport)] = &[
    ("alloc", HostImport::I64ToI64(alloc)),
    ("free", HostImport::I64ToNone(free)),
    ("length", HostImport::I64ToI64(length)),
    ("length_unsafe", HostImport::I64ToI64(length)),
    ("output_set", HostImport::I64I64ToNone(output_set)),
    ("error_set", HostImport::I64ToNone(error_set)),
    ("error_get", HostImport::NoneToI64(error_get)),
    ("reset", HostImport::NoneToNone(reset)),
    ("memory_bytes", HostImport::NoneToI64(memory_bytes)),
    ("config_get", HostImport::I64ToI64(config_get)),
    ("var_get", HostImport::I64ToI64(var_get)),
    ("var_set", HostImport::I64I64ToNone(var_set)),
    ("http_request", HostImport::I64I64ToI64(http::http_request)),
    (
        "http_status_code",
        HostImport::NoneToI32(http::http_status_code),
    ),
    ("http_headers", HostImport::NoneToI64(http::http_headers)),
    ("log_trace", HostImport::I64ToNone(log_trace)),
    ("log_debug", HostImport::I64ToNone(log_debug)),
    ("log_info", HostImport::I64ToNone(log_info)),
    ("log_warn", HostImport::I64ToNone(log_warn)),
    ("log_error", HostImport::I64ToNone(log_error)),
    ("get_log_level", HostImport::NoneToI32(get_log_level)),
];

/// Places a block of `len` bytes, growing the kernel memory when needed; 0 when `len` is 0
/// or the memory cannot grow that far (past 4 GiB, or the engine could not).
///
/// # Errors
///
/// [`XtismError::MemoryLimit`] when growing it is past `memory.max_pages` (the budget's
/// refusal is taken: the caller decides what it does to the call).
pub(crate) fn alloc_block(host: &mut dyn HostAccess, len: u64) -> Result<u64, XtismError> {
    if len == 0 {
        return Ok(0);
    }
    // At most one growth: after growing to `required` bytes the same request fits.
    for _ in 0..2 {
        let (memory, state) = host.kernel();
        let memory_len = memory.len() as u64;
        match state.extism.kernel.alloc.alloc(len, memory_len) {
            Ok(offset) => return Ok(offset),
            Err(required) if required <= MAX_KERNEL_BYTES => {
                let Some(missing) = required.checked_sub(memory_len).filter(|&m| m > 0) else {
                    return Ok(0);
                };
                let pages = missing.div_ceil(PAGE_SIZE);
                if !host.grow_kernel(pages) {
                    return match host.state().memory.take_refusal() {
                        Some(refusal) => Err(XtismError::MemoryLimit(refusal)),
                        None => Ok(0),
                    };
                }
                // The data path reads the memory's size from the header.
                let (memory, state) = host.kernel();
                state.extism.kernel.write_header(memory);
            }
            Err(_) => return Ok(0),
        }
    }
    Ok(0)
}

/// Copies `bytes` into a new block if one fits in kernel memory as it is, without growing
/// it; returns its offset (0 for no bytes), or `None` when kernel memory must grow first
/// (then [`new_block`] does).
pub(crate) fn place_block(memory: &mut [u8], state: &mut PluginState, bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return Some(0);
    }
    let len = bytes.len() as u64;
    let offset = state
        .extism
        .kernel
        .alloc
        .alloc(len, memory.len() as u64)
        .ok()?;
    // The allocator hands out blocks inside the memory it was given.
    let r = range(memory.len(), offset, len)?;
    memory[r].copy_from_slice(bytes);
    Some(offset)
}

/// Copies `bytes` into a new block and returns its offset.
pub(crate) fn new_block(host: &mut dyn HostAccess, bytes: &[u8]) -> Result<u64, XtismError> {
    let offset = alloc_block(host, bytes.len() as u64)?;
    if offset == 0 && !bytes.is_empty() {
        return Err(XtismError::MemoryLimit(format!(
            "no room for a block of {} bytes in kernel memory",
            bytes.len()
        )));
    }
    let (memory, _) = host.kernel();
    let Some(r) = range(memory.len(), offset, bytes.len() as u64) else {
        return Err(XtismError::MemoryLimit(format!(
            "a block of {} bytes at {offset} lies outside kernel memory ({} bytes)",
            bytes.len(),
            memory.len()
        )));
    };
    memory[r].copy_from_slice(bytes);
    Ok(offset)
}

/// The bytes of the block starting at `offset`, if one does.
///
/// Handle 0 is the empty block, as in the official runtime (`alloc(0)` returns 0, and PDKs
/// pass it for empty strings).
pub(crate) fn block<'m>(memory: &'m [u8], state: &PluginState, offset: u64) -> Option<&'m [u8]> {
    if offset == 0 {
        return Some(&[]);
    }
    let len = state.extism.kernel.alloc.length(offset)?;
    memory.get(range(memory.len(), offset, len)?)
}

/// Mutable bytes of the block starting at `offset`, if one does (none for handle 0, the
/// empty block).
pub(crate) fn block_mut<'m>(
    memory: &'m mut [u8],
    state: &PluginState,
    offset: u64,
) -> Option<&'m mut [u8]> {
    if offset == 0 {
        return Some(&mut []);
    }
    let len = state.extism.kernel.alloc.length(offset)?;
    let r = range(memory.len(), offset, len)?;
    memory.get_mut(r)
}

/// The UTF-8 string in the block at `offset`, or an error naming the import.
/// The UTF-8 text of the block at `offset` (a key), borrowed from kernel memory: nothing is
/// copied before a limit applies.
fn block_str<'m>(
    memory: &'m [u8],
    state: &PluginState,
    import: &str,
    offset: i64,
) -> Result<&'m str, XtismError> {
    match block(memory, state, offset as u64).map(std::str::from_utf8) {
        Some(Ok(s)) => Ok(s),
        Some(Err(_)) => Err(XtismError::Guest(format!(
            "{import}: the block at {offset} is not valid UTF-8"
        ))),
        None => Err(bad_handle(import, offset)),
    }
}

#[cold]
pub(crate) fn bad_handle(import: &str, offset: i64) -> XtismError {
    XtismError::Guest(format!(
        "{import}: {} is not the start of an allocated block",
        offset as u64
    ))
}

/// `alloc(len) -> offset`: 0 when the block cannot be placed; a growth past
/// `memory.max_pages` fails the call (the official kernel traps with `oom`).
fn alloc(host: &mut dyn HostAccess, len: i64) -> Result<i64, HostTrap> {
    match alloc_block(host, len as u64) {
        Ok(offset) => Ok(offset as i64),
        Err(e) => Err(host.state().fail(e)),
    }
}

fn free(host: &mut dyn HostAccess, offset: i64) -> Result<(), HostTrap> {
    let (memory, state) = host.kernel();
    state.extism.kernel.free(memory, offset as u64);
    Ok(())
}

fn length(host: &mut dyn HostAccess, offset: i64) -> Result<i64, HostTrap> {
    let (_, state) = host.kernel();
    Ok(state.extism.kernel.alloc.length(offset as u64).unwrap_or(0) as i64)
}

fn output_set(host: &mut dyn HostAccess, offset: i64, len: i64) -> Result<(), HostTrap> {
    let (memory, state) = host.kernel();
    let (offset, len) = (offset as u64, len as u64);
    if len != 0 && range(memory.len(), offset, len).is_none() {
        return Err(state.fail(XtismError::Guest(format!(
            "output_set: {len} bytes at {offset} lie outside kernel memory ({} bytes)",
            memory.len()
        ))));
    }
    state.extism.kernel.output = Region { offset, len };
    state.extism.kernel.write_header(memory);
    Ok(())
}

fn error_set(host: &mut dyn HostAccess, offset: i64) -> Result<(), HostTrap> {
    let (_, state) = host.kernel();
    state.extism.kernel.error = offset as u64;
    Ok(())
}

fn error_get(host: &mut dyn HostAccess) -> Result<i64, HostTrap> {
    Ok(host.state().extism.kernel.error as i64)
}

fn reset(host: &mut dyn HostAccess) -> Result<(), HostTrap> {
    let (memory, state) = host.kernel();
    state.extism.kernel.reset(memory);
    Ok(())
}

fn memory_bytes(host: &mut dyn HostAccess) -> Result<i64, HostTrap> {
    Ok(host.state().extism.kernel.alloc.bytes_in_use() as i64)
}

/// Answers a lookup with a new block (0 when absent), then frees the key block, as the
/// official runtime does ("consumes key"). The answer is placed before the key is freed,
/// so a guest that frees the key again cannot free the answer by accident.
fn answer_and_consume(
    host: &mut dyn HostAccess,
    key_offset: i64,
    value: Option<Vec<u8>>,
) -> Result<i64, HostTrap> {
    let answer = match value {
        Some(v) => match new_block(host, &v) {
            Ok(offset) => offset,
            Err(e) => return Err(host.state().fail(e)),
        },
        None => 0,
    };
    let (memory, state) = host.kernel();
    state.extism.kernel.free(memory, key_offset as u64);
    unless_stopping(state)?;
    Ok(answer as i64)
}

/// Fails the host call when the running call must stop (its deadline passed, it was
/// cancelled). The kernel imports that copy as many bytes as the guest asks (vars, config,
/// logs) ask this when they are done: each costs the guest a few units of fuel whatever it
/// copies, and wasmi notices a deadline only between fuel slices, so a guest looping over
/// a 1 MB var ran seconds past a 100 ms timeout there.
fn unless_stopping(state: &mut PluginState) -> Result<(), HostTrap> {
    match state.interruption() {
        Some(stop) => Err(state.fail(stop)),
        None => Ok(()),
    }
}

fn config_get(host: &mut dyn HostAccess, key: i64) -> Result<i64, HostTrap> {
    let (memory, state) = host.kernel();
    let value = match block_str(memory, state, "config_get", key) {
        Ok(name) => state.extism.config.get(name).map(|v| v.as_bytes().to_vec()),
        Err(e) => return Err(state.fail(e)),
    };
    answer_and_consume(host, key, value)
}

fn var_get(host: &mut dyn HostAccess, key: i64) -> Result<i64, HostTrap> {
    let (memory, state) = host.kernel();
    let value = match block_str(memory, state, "var_get", key) {
        Ok(name) => state.extism.vars.get(name).map(<[u8]>::to_vec),
        Err(e) => return Err(state.fail(e)),
    };
    answer_and_consume(host, key, value)
}

/// Sets (or, for value 0, removes) a var. Like the official runtime it takes ownership of
/// both blocks: they are freed once the value is copied, and when the var cannot be set.
fn var_set(host: &mut dyn HostAccess, key: i64, value: i64) -> Result<(), HostTrap> {
    let (memory, state) = host.kernel();
    let outcome = set_var(memory, state, key, value);
    state.extism.kernel.free(memory, value as u64);
    state.extism.kernel.free(memory, key as u64);
    outcome.map_err(|e| state.fail(e))?;
    unless_stopping(state)
}

fn set_var(memory: &[u8], state: &mut PluginState, key: i64, value: i64) -> Result<(), XtismError> {
    let name = block_str(memory, state, "var_set", key)?;
    let bytes = match value {
        0 => None,
        _ => Some(block(memory, state, value as u64).ok_or_else(|| bad_handle("var_set", value))?),
    };
    let max = state.extism.limits.max_var_bytes;
    state.extism.vars.set(name, bytes, max)
}

fn log(
    host: &mut dyn HostAccess,
    import: &str,
    level: tracing::Level,
    msg: i64,
) -> Result<(), HostTrap> {
    let (memory, state) = host.kernel();
    let Some(bytes) = block(memory, state, msg as u64) else {
        return Err(state.fail(bad_handle(import, msg)));
    };
    let text = String::from_utf8_lossy(bytes);
    let plugin = state.extism.id;
    match level {
        tracing::Level::TRACE => tracing::trace!(target: "xtism::plugin", %plugin, "{text}"),
        tracing::Level::DEBUG => tracing::debug!(target: "xtism::plugin", %plugin, "{text}"),
        tracing::Level::INFO => tracing::info!(target: "xtism::plugin", %plugin, "{text}"),
        tracing::Level::WARN => tracing::warn!(target: "xtism::plugin", %plugin, "{text}"),
        tracing::Level::ERROR => tracing::error!(target: "xtism::plugin", %plugin, "{text}"),
    }
    state.extism.kernel.free(memory, msg as u64);
    unless_stopping(state)
}

fn log_trace(host: &mut dyn HostAccess, msg: i64) -> Result<(), HostTrap> {
    log(host, "log_trace", tracing::Level::TRACE, msg)
}

fn log_debug(host: &mut dyn HostAccess, msg: i64) -> Result<(), HostTrap> {
    log(host, "log_debug", tracing::Level::DEBUG, msg)
}

fn log_info(host: &mut dyn HostAccess, msg: i64) -> Result<(), HostTrap> {
    log(host, "log_info", tracing::Level::INFO, msg)
}

fn log_warn(host: &mut dyn HostAccess, msg: i64) -> Result<(), HostTrap> {
    log(host, "log_warn", tracing::Level::WARN, msg)
}

fn log_error(host: &mut dyn HostAccess, msg: i64) -> Result<(), HostTrap> {
    log(host, "log_error", tracing::Level::ERROR, msg)
}

/// The most verbose level enabled for plug-in logs: 0 trace .. 4 error, `i32::MAX` when off.
fn get_log_level(_host: &mut dyn HostAccess) -> Result<i32, HostTrap> {
    use tracing::level_filters::LevelFilter;
    Ok(match LevelFilter::current() {
        LevelFilter::TRACE => 0,
        LevelFilter::DEBUG => 1,
        LevelFilter::INFO => 2,
        LevelFilter::WARN => 3,
        LevelFilter::ERROR => 4,
        _ => i32::MAX,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::MemoryBudget;
    use crate::state::Limits;

    /// A kernel memory and plug-in state without an engine.
    struct Host {
        memory: Vec<u8>,
        state: PluginState,
    }

    impl Host {
        fn new(max_var_bytes: u64) -> Host {
            let limits = Limits { max_var_bytes };
            let state = PluginState::new(
                uuid::Uuid::nil(),
                Default::default(),
                limits,
                Arc::default(),
                Arc::new(MemoryBudget::new(None)),
            );
            Host {
                memory: vec![0; PAGE_SIZE as usize],
                state,
            }
        }

        fn live(&self, offset: i64) -> bool {
            self.state
                .extism
                .kernel
                .alloc
                .length(offset as u64)
                .is_some()
        }
    }

    impl HostAccess for Host {
        fn shared_state(&self) -> &PluginState {
            &self.state
        }

        fn kernel(&mut self) -> (&mut [u8], &mut PluginState) {
            (&mut self.memory, &mut self.state)
        }

        fn grow_kernel(&mut self, _pages: u64) -> bool {
            false
        }

        fn module_memory(&mut self, _module: usize) -> (Option<&mut [u8]>, &mut PluginState) {
            (None, &mut self.state)
        }
    }

    /// var_set owns both blocks whatever happens: a var over the limit, a key that is not
    /// UTF-8 and a bogus value handle all fail the import and free what they were handed.
    #[test]
    fn a_failed_var_set_frees_its_blocks() {
        let mut host = Host::new(100);
        let cases: [(&[u8], Option<&[u8]>); 3] = [
            (b"key", Some(&[7; 200])),
            (b"\xff\xfe", Some(b"v")),
            (b"key", None),
        ];
        for (key, value) in cases {
            let key = new_block(&mut host, key).unwrap() as i64;
            let value = match value {
                Some(v) => new_block(&mut host, v).unwrap() as i64,
                None => 12_345,
            };
            assert!(var_set(&mut host, key, value).is_err());
            assert!(host.state.pending_error.take().is_some());
            assert!(!host.live(key) && !host.live(value), "{key} {value}");
        }
        assert!(host.state.extism.vars.get("key").is_none());
        let key = new_block(&mut host, b"key").unwrap() as i64;
        let value = new_block(&mut host, b"v").unwrap() as i64;
        assert!(var_set(&mut host, key, value).is_ok());
        assert_eq!(host.state.extism.vars.get("key"), Some(&b"v"[..]));
        assert!(!host.live(key) && !host.live(value));
    }
}
