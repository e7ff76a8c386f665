//! User host functions: how a [`Function`] is made from a closure and named, [`UserData`],
//! and the [`CurrentPlugin`] view a host function gets of the plug-in that called it.
//!
//! The values host functions take ([`Val`], [`ValType`]) and the part of [`Function`] a
//! backend runs belong to the engine layer, below this module; this module turns the user's
//! closure over a [`CurrentPlugin`] into the callback over [`HostAccess`] that layer holds.
//!
//! Names follow the official `extism` crate so that host functions port unchanged.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::abi::{self, EXTISM_USER_MODULE};
use crate::convert::{FromBytes, ToBytes};
use crate::engine::{Callback, FuncType, Function, HostAccess, PluginState, Val, ValType};
use crate::error::Error;
use crate::error::XtismError;
use crate::state::Vars;

/// The type of a pointer to kernel memory: a block handle is an `i64`.
pub const PTR: ValType = ValType::I64;

/// Data shared between the host and its host functions, as in the official `extism` crate.
#[derive(Debug)]
pub struct UserData<T>(Arc<Mutex<T>>);

impl<T> UserData<T> {
    /// Wraps `data`.
    pub fn new(data: T) -> Self {
        UserData(Arc::new(Mutex::new(data)))
    }

    /// The shared data.
    pub fn get(&self) -> Result<Arc<Mutex<T>>, Error> {
        Ok(Arc::clone(&self.0))
    }
}

impl<T> Clone for UserData<T> {
    fn clone(&self) -> Self {
        UserData(Arc::clone(&self.0))
    }
}

impl<T: Default> Default for UserData<T> {
    fn default() -> Self {
        UserData::new(T::default())
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Function({}::{} {})",
            self.import_module(),
            self.name,
            self.ty
        )
    }
}

impl Function {
    /// A host function `name` with the given signature; `f` gets the calling plug-in, the
    /// arguments, the results to fill in and a clone of `user_data`.
    pub fn new<T: Send + 'static, F>(
        name: impl Into<String>,
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
        user_data: UserData<T>,
        f: F,
    ) -> Function
    where
        F: Fn(&mut CurrentPlugin, &[Val], &mut [Val], UserData<T>) -> Result<(), Error>
            + Send
            + Sync
            + 'static,
    {
        Function {
            name: name.into(),
            namespace: None,
            ty: FuncType::new(params, results),
            callback: Callback::Sync(Arc::new(move |host, inputs, outputs| {
                let mut plugin = CurrentPlugin { host };
                f(&mut plugin, inputs, outputs, user_data.clone()).map_err(host_failure)
            })),
        }
    }

    /// The same function in another import namespace.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.set_namespace(namespace);
        self
    }

    /// Sets the import namespace.
    pub fn set_namespace(&mut self, namespace: impl Into<String>) {
        self.namespace = Some(namespace.into());
    }

    /// The import name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The import namespace set with [`with_namespace`](Self::with_namespace), if one was
    /// (the official `Function::namespace`); `None` means `extism:host/user`.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The module the function is imported from: its namespace, else `extism:host/user`.
    pub fn import_module(&self) -> &str {
        self.namespace().unwrap_or(EXTISM_USER_MODULE)
    }

    /// The parameter types, as the official `Function::params`.
    pub fn params(&self) -> &[ValType] {
        self.ty.params()
    }

    /// The result types, as the official `Function::results`.
    pub fn results(&self) -> &[ValType] {
        self.ty.results()
    }
}

/// A host function's error as the call reports it. What [`CurrentPlugin`] says of the
/// guest's handles and of kernel memory stays as it is (`Guest`, `MemoryLimit`, `Invalid`);
/// anything else is the host function's own, whole: an error of another plug-in it called
/// (a timeout, a trap) is not this call's.
pub(crate) fn host_failure(error: Error) -> XtismError {
    match error.downcast_ref::<XtismError>() {
        Some(XtismError::Guest(_) | XtismError::MemoryLimit(_) | XtismError::Invalid(_)) => {
            XtismError::from(error)
        }
        _ => XtismError::Host {
            function: String::new(),
            source: error,
        },
    }
}

/// A decoding error of bytes the guest handed to a host function: the guest's fault.
pub(crate) fn guest_bytes(e: Error) -> XtismError {
    match e.downcast::<XtismError>() {
        Ok(guest @ XtismError::Guest(_)) => guest,
        Ok(other) => XtismError::Guest(format!("bad argument: {other}")),
        Err(other) => XtismError::Guest(format!("bad argument: {other}")),
    }
}

/// A block of kernel memory, its offset (the handle) and length in bytes: the official
/// crate's type, from `extism-convert`, so that a port naming `convert::MemoryHandle` or
/// `MemoryHandle` gets the same one.
pub use crate::convert::MemoryHandle;

/// The plug-in a host function was called from: its kernel memory, its own memory, its
/// vars and error, and the host context passed to the call.
///
/// Its methods follow the official crate's `CurrentPlugin`, with the same receivers (`id`,
/// `vars`, `manifest` and `time_remaining` read through `&self`). `vars_mut` gives a guard
/// ([`VarsMut`]) where the official one gives `&mut BTreeMap`; method calls on it port
/// unchanged.
pub struct CurrentPlugin<'a> {
    pub(crate) host: &'a mut dyn HostAccess,
}

impl CurrentPlugin<'_> {
    /// The plug-in's id, the [`Plugin::id`](crate::Plugin::id) of the plug-in that is
    /// calling (as of the start of the call).
    pub fn id(&self) -> uuid::Uuid {
        self.host.shared_state().extism.id
    }

    /// Copies `data` into a new block.
    pub fn memory_new<'b, T: ToBytes<'b>>(&mut self, data: T) -> Result<MemoryHandle, Error> {
        let bytes = data.to_bytes()?;
        let bytes = bytes.as_ref();
        let offset = abi::new_block(self.host, bytes)?;
        Ok(MemoryHandle {
            offset,
            length: bytes.len() as u64,
        })
    }

    /// Allocates a block of `len` bytes in kernel memory (its contents are unspecified), as
    /// the official crate's `CurrentPlugin::memory_alloc`. `len` 0 gives the empty block.
    ///
    /// # Errors
    ///
    /// [`XtismError::MemoryLimit`] when kernel memory has no room for it, or growing it
    /// would pass `memory.max_pages`.
    pub fn memory_alloc(&mut self, len: u64) -> Result<MemoryHandle, Error> {
        let offset = abi::alloc_block(self.host, len)?;
        if offset == 0 && len != 0 {
            return Err(XtismError::MemoryLimit(format!(
                "no room for a block of {len} bytes in kernel memory"
            ))
            .into());
        }
        Ok(MemoryHandle {
            offset,
            length: len,
        })
    }

    /// The handle of the block starting at `offset`, if one does; offset 0 is the empty
    /// block (length 0), as in the official runtime.
    pub fn memory_handle(&mut self, offset: u64) -> Option<MemoryHandle> {
        if offset == 0 {
            return Some(MemoryHandle {
                offset: 0,
                length: 0,
            });
        }
        let length = self.host.state().extism.kernel.alloc.length(offset)?;
        Some(MemoryHandle { offset, length })
    }

    /// The length of the block starting at `offset`.
    pub fn memory_length(&mut self, offset: u64) -> Result<u64, Error> {
        self.host
            .state()
            .extism
            .kernel
            .alloc
            .length(offset)
            .ok_or_else(|| {
                XtismError::Guest(format!("{offset} is not the start of an allocated block")).into()
            })
    }

    /// The length of the block starting at `offset`, 0 when no block starts there, as the
    /// kernel's `length_unsafe` gives it to the plug-in. The official kernel's
    /// `length_unsafe` skips the check that a block starts at `offset` (and reads garbage
    /// for another offset); xtism's kernel keeps its bookkeeping outside the plug-in's
    /// reach, so the checked answer costs no more.
    ///
    /// # Errors
    ///
    /// None: the `Result` is the official signature's.
    pub fn memory_length_unsafe(&mut self, offset: u64) -> Result<u64, Error> {
        Ok(self
            .host
            .state()
            .extism
            .kernel
            .alloc
            .length(offset)
            .unwrap_or(0))
    }

    /// The bytes of a block, to read or write (the official `memory_bytes` lends them
    /// shared, its `memory_bytes_mut` mutably; this and
    /// [`memory_bytes_mut`](Self::memory_bytes_mut) both lend them mutably). Handle 0 is the
    /// empty block.
    ///
    /// # Errors
    ///
    /// [`XtismError::Guest`] when no allocated block starts at `handle.offset`.
    pub fn memory_bytes(&mut self, handle: MemoryHandle) -> Result<&mut [u8], Error> {
        let (memory, state) = self.host.kernel();
        abi::block_mut(memory, state, handle.offset).ok_or_else(|| {
            XtismError::Guest(format!("{} is not an allocated block", handle.offset)).into()
        })
    }

    /// The bytes of a block, to write, as the official `CurrentPlugin::memory_bytes_mut`;
    /// the same as [`memory_bytes`](Self::memory_bytes).
    ///
    /// # Errors
    ///
    /// [`XtismError::Guest`] when no allocated block starts at `handle.offset`.
    pub fn memory_bytes_mut(&mut self, handle: MemoryHandle) -> Result<&mut [u8], Error> {
        self.memory_bytes(handle)
    }

    /// The bytes of a block as UTF-8, to read or write (see
    /// [`memory_bytes`](Self::memory_bytes)).
    ///
    /// # Errors
    ///
    /// [`XtismError::Guest`] when no allocated block starts at `handle.offset`, or its
    /// bytes are not UTF-8.
    pub fn memory_str(&mut self, handle: MemoryHandle) -> Result<&mut str, Error> {
        let bytes = self.memory_bytes(handle)?;
        std::str::from_utf8_mut(bytes)
            .map_err(|e| XtismError::Guest(format!("block is not UTF-8: {e}")).into())
    }

    /// The bytes of a block as UTF-8, to write, as the official
    /// `CurrentPlugin::memory_str_mut`; the same as [`memory_str`](Self::memory_str).
    ///
    /// # Errors
    ///
    /// As [`memory_str`](Self::memory_str).
    pub fn memory_str_mut(&mut self, handle: MemoryHandle) -> Result<&mut str, Error> {
        self.memory_str(handle)
    }

    /// Decodes a block as `T`, as the official `CurrentPlugin::memory_get`. Handle 0 is the
    /// empty block.
    ///
    /// # Errors
    ///
    /// [`XtismError::Guest`] when no allocated block starts at `handle.offset`, or its bytes
    /// do not decode as `T` (the guest handed them over).
    pub fn memory_get<'b, T: FromBytes<'b>>(
        &'b mut self,
        handle: MemoryHandle,
    ) -> Result<T, Error> {
        let bytes = self.memory_bytes(handle)?;
        Ok(T::from_bytes(bytes).map_err(guest_bytes)?)
    }

    /// Frees a block.
    pub fn memory_free(&mut self, handle: MemoryHandle) -> Result<(), Error> {
        let (memory, state) = self.host.kernel();
        state.extism.kernel.free(memory, handle.offset);
        Ok(())
    }

    /// The block handle held in a value (an `i64` offset); `None` for 0 or a non-block.
    pub fn memory_from_val(&mut self, val: &Val) -> Option<MemoryHandle> {
        match val {
            Val::I64(offset) if *offset != 0 => self.memory_handle(*offset as u64),
            _ => None,
        }
    }

    /// A value holding a block handle.
    pub fn memory_to_val(&self, handle: MemoryHandle) -> Val {
        Val::I64(handle.offset as i64)
    }

    /// Decodes the block a value points to; handle 0 is the empty block, as in the official
    /// runtime.
    ///
    /// # Errors
    ///
    /// [`XtismError::Guest`] when the value is not a block handle or the bytes do not decode as
    /// `T` (the guest handed them over).
    pub fn memory_get_val<'b, T: FromBytes<'b>>(&'b mut self, val: &Val) -> Result<T, Error> {
        if matches!(val, Val::I64(0)) {
            return Ok(T::from_bytes(&[]).map_err(guest_bytes)?);
        }
        let handle = self
            .memory_from_val(val)
            .ok_or_else(|| XtismError::Guest(format!("{val:?} is not a block handle")))?;
        let bytes = self.memory_bytes(handle)?;
        Ok(T::from_bytes(bytes).map_err(guest_bytes)?)
    }

    /// Encodes `data` into a new block and stores its handle in `val`.
    pub fn memory_set_val<'b, T: ToBytes<'b>>(
        &mut self,
        val: &mut Val,
        data: T,
    ) -> Result<(), Error> {
        let handle = self.memory_new(data)?;
        *val = self.memory_to_val(handle);
        Ok(())
    }

    /// The plug-in's vars, by name, as the official `CurrentPlugin::vars`: what the
    /// plug-in stored with `var_set` (and the host through [`vars_mut`](Self::vars_mut)).
    pub fn vars(&self) -> &BTreeMap<String, Vec<u8>> {
        self.host.shared_state().extism.vars.map()
    }

    /// The plug-in's vars, to change, as the official `CurrentPlugin::vars_mut`: a guard
    /// that dereferences to the `BTreeMap` and counts the bytes the vars hold again when it
    /// is dropped.
    ///
    /// What the host stores here is not refused, as in the official runtime, but it counts
    /// toward the plug-in's `max_var_bytes`: while the vars hold more, the plug-in's
    /// `var_set` fails with [`XtismError::MemoryLimit`] for anything but a removal. (Each
    /// var counts its key, its value and [`VAR_ENTRY_OVERHEAD`](crate::VAR_ENTRY_OVERHEAD)
    /// bytes.)
    pub fn vars_mut(&mut self) -> VarsMut<'_> {
        let state = self.host.state();
        let max_bytes = state.extism.limits.max_var_bytes;
        VarsMut {
            vars: &mut state.extism.vars,
            max_bytes,
        }
    }

    /// Sets the plug-in's error message, as the guest's `error_set` does and as the
    /// official `CurrentPlugin::set_error`: `message` goes into a new kernel block, whose
    /// offset and length come back. The call then fails with `message` as its error's root
    /// cause: under the host function's error when the host function then fails, else as
    /// the plug-in's own error ([`XtismError::Plugin`], with the code its export returns),
    /// unless the error is cleared first. An empty message clears it (handle 0).
    ///
    /// # Errors
    ///
    /// [`XtismError::MemoryLimit`] when kernel memory has no room for the message.
    pub fn set_error(&mut self, message: impl AsRef<str>) -> Result<(u64, u64), Error> {
        let handle = self.memory_new(message.as_ref())?;
        self.host.state().extism.kernel.error = handle.offset;
        Ok((handle.offset, handle.length))
    }

    /// The plug-in's error message, set by it (`error_set`) or by a host function
    /// ([`set_error`](Self::set_error)) during this call; `None` when there is none, or its
    /// handle is not a block of UTF-8.
    pub fn get_error(&mut self) -> Option<&str> {
        let (memory, state) = self.host.kernel();
        let handle = state.extism.kernel.error;
        if handle == 0 {
            return None;
        }
        let bytes = abi::block(memory, state, handle)?;
        std::str::from_utf8(bytes).ok()
    }

    /// Clears the plug-in's error message, as the guest's `error_set(0)` does; the call can
    /// then succeed. The message's block stays allocated until the call ends.
    pub fn clear_error(&mut self) {
        self.host.state().extism.kernel.error = 0;
    }

    /// The time left before the call's timeout, `None` when the plug-in has no timeout, as
    /// the official `CurrentPlugin::time_remaining`. The timeout counts from the start of
    /// the call, the guest runtime's initialization (first call) included; zero once it has
    /// passed (the call then stops when the host function returns).
    pub fn time_remaining(&self) -> Option<Duration> {
        self.host.shared_state().time_left()
    }

    /// The manifest the plug-in was built from, with the builder's config merged into its
    /// `config` (the official `CurrentPlugin::manifest`).
    pub fn manifest(&self) -> &xtism_manifest::Manifest {
        &self.host.shared_state().extism.manifest
    }

    /// The kernel memory and the plug-in state, shared.
    pub(crate) fn kernel_and_state(&mut self) -> (&[u8], &PluginState) {
        let (memory, state) = self.host.kernel();
        (memory, state)
    }

    /// The whole kernel memory.
    pub fn kernel_memory(&mut self) -> &mut [u8] {
        self.host.kernel().0
    }

    /// The plug-in's own exported `memory`, if it exports one.
    pub fn plugin_memory(&mut self) -> Option<&mut [u8]> {
        let main = self.host.shared_state().extism.main_module;
        self.host.module_memory(main).0
    }

    /// The host context passed to [`Plugin::call_with_host_context`](crate::Plugin::call_with_host_context).
    pub fn host_context<T: Any>(&mut self) -> Result<&mut T, Error> {
        self.host
            .state()
            .extism
            .host_context
            .as_mut()
            .and_then(|c| c.downcast_mut::<T>())
            .ok_or_else(|| {
                XtismError::Invalid(format!(
                    "no host context of type {} was given to this call",
                    std::any::type_name::<T>()
                ))
                .into()
            })
    }
}

/// The plug-in's vars, lent to a host function to change
/// ([`CurrentPlugin::vars_mut`]): dereferences to the `BTreeMap` of var names to values,
/// and counts the bytes they hold again when dropped.
pub struct VarsMut<'a> {
    vars: &'a mut Vars,
    max_bytes: u64,
}

impl Deref for VarsMut<'_> {
    type Target = BTreeMap<String, Vec<u8>>;

    fn deref(&self) -> &Self::Target {
        self.vars.map()
    }
}

impl DerefMut for VarsMut<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.vars.map_mut()
    }
}

impl fmt::Debug for VarsMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.vars.map(), f)
    }
}

impl Drop for VarsMut<'_> {
    fn drop(&mut self) {
        let bytes = self.vars.recount();
        if bytes > self.max_bytes {
            tracing::debug!(
                target: "xtism",
                "a host function left the vars holding {bytes} bytes, above max_var_bytes = {}: the plug-in's var_set fails until they shrink",
                self.max_bytes
            );
        }
    }
}
