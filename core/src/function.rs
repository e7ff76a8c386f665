//! User host functions: how a [`Function`] is made from a closure and named, [`UserData`],
//! and the [`CurrentPlugin`] view a host function gets of the plug-in that called it.
//!
//! The values host functions take ([`Val`], [`ValType`]) and the part of [`Function`] a
//! backend runs belong to the engine layer, below this module; this module turns the user's
//! closure over a [`CurrentPlugin`] into the callback over [`HostAccess`] that layer holds.
//!
//! Names follow the official `extism` crate so that host functions port unchanged.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::abi::{self, EXTISM_USER_MODULE};
use crate::convert::{FromBytes, ToBytes};
use crate::engine::{FuncType, Function, HostAccess, PluginState, Val, ValType};
use crate::error::Error;
use crate::error::XtismError;

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
            self.namespace(),
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
            callback: Arc::new(move |host, inputs, outputs| {
                let mut plugin = CurrentPlugin { host };
                f(&mut plugin, inputs, outputs, user_data.clone()).map_err(XtismError::from)
            }),
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

    /// The import namespace (default `extism:host/user`).
    pub fn namespace(&self) -> &str {
        self.namespace.as_deref().unwrap_or(EXTISM_USER_MODULE)
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

/// A block of kernel memory: its offset (the handle) and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryHandle {
    /// Offset of the block in kernel memory.
    pub offset: u64,
    /// Length of the block in bytes.
    pub length: u64,
}

impl MemoryHandle {
    /// The offset, as the guest sees it.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The length in bytes (`usize::MAX` for a block too long for this host's address space,
    /// which no block of a memory it holds can be).
    pub fn len(&self) -> usize {
        usize::try_from(self.length).unwrap_or(usize::MAX)
    }

    /// Whether the block is empty.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }
}

/// The plug-in a host function was called from: its kernel memory, its own memory, and the
/// host context passed to the call.
pub struct CurrentPlugin<'a> {
    host: &'a mut dyn HostAccess,
}

impl CurrentPlugin<'_> {
    /// The plug-in instance id.
    pub fn id(&mut self) -> uuid::Uuid {
        self.host.state().extism.id
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
    /// [`XtismError::MemoryLimit`] when kernel memory has no room for it.
    pub fn memory_alloc(&mut self, len: u64) -> Result<MemoryHandle, Error> {
        let offset = abi::alloc_block(self.host, len);
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

    /// The bytes of a block.
    pub fn memory_bytes(&mut self, handle: MemoryHandle) -> Result<&mut [u8], Error> {
        let (memory, state) = self.host.kernel();
        abi::block_mut(memory, state, handle.offset).ok_or_else(|| {
            XtismError::Guest(format!("{} is not an allocated block", handle.offset)).into()
        })
    }

    /// The bytes of a block as UTF-8.
    pub fn memory_str(&mut self, handle: MemoryHandle) -> Result<&mut str, Error> {
        let bytes = self.memory_bytes(handle)?;
        std::str::from_utf8_mut(bytes)
            .map_err(|e| XtismError::Guest(format!("block is not UTF-8: {e}")).into())
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
        self.host.plugin_memory()
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
