//! User host functions: the values they take, the [`Function`] type, [`UserData`], and the
//! [`CurrentPlugin`] view a host function gets of the plug-in that called it.
//!
//! Names follow the official `extism` crate so that host functions port unchanged.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::abi::{self, EXTISM_USER_MODULE};
use crate::convert::{FromBytes, ToBytes};
use crate::engine::{HostAccess, HostTrap};
use crate::error::Error;
use crate::state::PluginState;

/// A Wasm value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector.
    V128,
    /// Function reference.
    FuncRef,
    /// External reference.
    ExternRef,
}

/// The type of a pointer to kernel memory: a block handle is an `i64`.
pub const PTR: ValType = ValType::I64;

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FuncType {
    params: Vec<ValType>,
    results: Vec<ValType>,
}

impl FuncType {
    /// A signature from its parameter and result types.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> Self {
        FuncType {
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
        }
    }

    /// Parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// Result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |types: &[ValType]| {
            types
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(
            f,
            "func({}) -> ({})",
            list(&self.params),
            list(&self.results)
        )
    }
}

/// A Wasm value passed to or returned from a host function.
///
/// References cross the engine boundary only as null: xtism does not hand engine objects
/// to host functions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    /// 32-bit integer.
    I32(i32),
    /// 64-bit integer.
    I64(i64),
    /// 32-bit float, as its bits.
    F32(u32),
    /// 64-bit float, as its bits.
    F64(u64),
    /// 128-bit vector.
    V128(u128),
    /// A null function reference.
    FuncRef,
    /// A null external reference.
    ExternRef,
}

impl Val {
    /// The zero value of a type.
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef,
            ValType::ExternRef => Val::ExternRef,
        }
    }

    /// The type of this value.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef => ValType::FuncRef,
            Val::ExternRef => ValType::ExternRef,
        }
    }

    /// The `i32`, if this is one.
    pub fn i32(&self) -> Option<i32> {
        match self {
            Val::I32(v) => Some(*v),
            _ => None,
        }
    }

    /// The `i64`, if this is one.
    pub fn i64(&self) -> Option<i64> {
        match self {
            Val::I64(v) => Some(*v),
            _ => None,
        }
    }

    /// The `f32`, if this is one.
    pub fn f32(&self) -> Option<f32> {
        match self {
            Val::F32(v) => Some(f32::from_bits(*v)),
            _ => None,
        }
    }

    /// The `f64`, if this is one.
    pub fn f64(&self) -> Option<f64> {
        match self {
            Val::F64(v) => Some(f64::from_bits(*v)),
            _ => None,
        }
    }

    /// The `i32`; panics on another type (as wasmtime's `Val::unwrap_i32`).
    pub fn unwrap_i32(&self) -> i32 {
        self.i32().expect("expected an i32 value")
    }

    /// The `i64`; panics on another type (as wasmtime's `Val::unwrap_i64`).
    pub fn unwrap_i64(&self) -> i64 {
        self.i64().expect("expected an i64 value")
    }

    /// The `f32`; panics on another type.
    pub fn unwrap_f32(&self) -> f32 {
        self.f32().expect("expected an f32 value")
    }

    /// The `f64`; panics on another type.
    pub fn unwrap_f64(&self) -> f64 {
        self.f64().expect("expected an f64 value")
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Self {
        Val::I32(v)
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::I64(v)
    }
}

impl From<f32> for Val {
    fn from(v: f32) -> Self {
        Val::F32(v.to_bits())
    }
}

impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::F64(v.to_bits())
    }
}

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

type Callback = dyn Fn(&mut CurrentPlugin, &[Val], &mut [Val]) -> Result<(), Error> + Send + Sync;

/// A host function a plug-in can import.
#[derive(Clone)]
pub struct Function {
    name: String,
    namespace: Option<String>,
    ty: FuncType,
    callback: Arc<Callback>,
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
            callback: Arc::new(move |plugin, inputs, outputs| {
                f(plugin, inputs, outputs, user_data.clone())
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

    /// The signature.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// Runs the function for a guest call on arguments a backend converted from its engine's
    /// values, and returns the results for the backend to convert back. A failed conversion
    /// fails the call like any error of the function.
    pub fn invoke_converted(
        &self,
        host: &mut dyn HostAccess,
        params: impl IntoIterator<Item = Result<Val, Error>>,
    ) -> Result<Vec<Val>, HostTrap> {
        let inputs = match params.into_iter().collect::<Result<Vec<Val>, Error>>() {
            Ok(inputs) => inputs,
            Err(e) => return Err(host.state().fail(e)),
        };
        let mut outputs: Vec<Val> = self
            .ty
            .results()
            .iter()
            .map(|t| Val::default_for(*t))
            .collect();
        self.invoke(host, &inputs, &mut outputs)?;
        Ok(outputs)
    }

    /// Runs the function for a guest call. Backends call this; on failure the error is kept
    /// in the plug-in state and the backend traps with the returned [`HostTrap`].
    pub fn invoke(
        &self,
        host: &mut dyn HostAccess,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), HostTrap> {
        let outcome = {
            let mut plugin = CurrentPlugin { host };
            (self.callback)(&mut plugin, params, results)
        };
        let outcome = outcome.and_then(|()| {
            // The call stops as soon as the host function returns, on every engine.
            if let Some(stop) = host.state().interruption() {
                return Err(stop);
            }
            match results
                .iter()
                .zip(self.ty.results())
                .find(|(v, ty)| v.ty() != **ty)
            {
                Some((v, ty)) => Err(Error::Invalid(format!(
                    "returned a {} result where its signature declares {ty}",
                    v.ty()
                ))),
                None => Ok(()),
            }
        });
        outcome.map_err(|e| {
            let e = match e {
                Error::Host { function, source } if function.is_empty() => Error::Host {
                    function: self.name.clone(),
                    source,
                },
                Error::Invalid(message) => Error::Host {
                    function: self.name.clone(),
                    source: message.into(),
                },
                Error::Guest(message) => {
                    Error::Guest(format!("host function {}: {message}", self.name))
                }
                other => other,
            };
            host.state().fail(e)
        })
    }
}

/// A decoding error of bytes the guest handed to a host function: the guest's fault.
pub(crate) fn guest_bytes(e: Error) -> Error {
    match e {
        Error::Guest(_) => e,
        other => Error::Guest(format!("bad argument: {other}")),
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
        self.host.state().id
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
    /// [`Error::MemoryLimit`] when kernel memory has no room for it.
    pub fn memory_alloc(&mut self, len: u64) -> Result<MemoryHandle, Error> {
        let offset = abi::alloc_block(self.host, len);
        if offset == 0 && len != 0 {
            return Err(Error::MemoryLimit(format!(
                "no room for a block of {len} bytes in kernel memory"
            )));
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
        let length = self.host.state().kernel.alloc.length(offset)?;
        Some(MemoryHandle { offset, length })
    }

    /// The length of the block starting at `offset`.
    pub fn memory_length(&mut self, offset: u64) -> Result<u64, Error> {
        self.host
            .state()
            .kernel
            .alloc
            .length(offset)
            .ok_or_else(|| Error::Guest(format!("{offset} is not the start of an allocated block")))
    }

    /// The bytes of a block.
    pub fn memory_bytes(&mut self, handle: MemoryHandle) -> Result<&mut [u8], Error> {
        let (memory, state) = self.host.kernel();
        abi::block_mut(memory, state, handle.offset)
            .ok_or_else(|| Error::Guest(format!("{} is not an allocated block", handle.offset)))
    }

    /// The bytes of a block as UTF-8.
    pub fn memory_str(&mut self, handle: MemoryHandle) -> Result<&mut str, Error> {
        let bytes = self.memory_bytes(handle)?;
        std::str::from_utf8_mut(bytes).map_err(|e| Error::Guest(format!("block is not UTF-8: {e}")))
    }

    /// Frees a block.
    pub fn memory_free(&mut self, handle: MemoryHandle) -> Result<(), Error> {
        let (memory, state) = self.host.kernel();
        state.kernel.free(memory, handle.offset);
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
    /// [`Error::Guest`] when the value is not a block handle or the bytes do not decode as
    /// `T` (the guest handed them over).
    pub fn memory_get_val<'b, T: FromBytes<'b>>(&'b mut self, val: &Val) -> Result<T, Error> {
        if matches!(val, Val::I64(0)) {
            return T::from_bytes(&[]).map_err(guest_bytes);
        }
        let handle = self
            .memory_from_val(val)
            .ok_or_else(|| Error::Guest(format!("{val:?} is not a block handle")))?;
        let bytes = self.memory_bytes(handle)?;
        T::from_bytes(bytes).map_err(guest_bytes)
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
            .host_context
            .as_mut()
            .and_then(|c| c.downcast_mut::<T>())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "no host context of type {} was given to this call",
                    std::any::type_name::<T>()
                ))
            })
    }
}
