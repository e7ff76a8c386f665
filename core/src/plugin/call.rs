//! The call: which exports a host can call (`is_extism_export`), and one call from start
//! to end (placing the input, running the export under the plug-in's limits, and turning
//! traps, exits, return codes and `error_set` messages into the outcome, `call_outcome`).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lifecycle::{Plugin, refused_growth};
use super::provider::EngineProvider;
use crate::abi;
use crate::convert::{FromBytes, ToBytes};
use crate::engine::{CallLimits, ExportShape, FuncType, HostAccess, Instance, PluginState};
use crate::error::Error;
use crate::error::XtismError;
use crate::state::{Region, range};

/// Whether `ty` is the type of an Extism export: no parameters, an `i32` or nothing back.
pub(super) fn is_extism_export(ty: &FuncType) -> bool {
    ExportShape::of(ty).is_some_and(ExportShape::is_plugin_function)
}

/// A failed call: the error, and the return code the official runtime pairs with it
/// (see [`Plugin::call_get_error_code`]). An error that stops the call before its export
/// runs has code -1, so `?` on an [`XtismError`] gives that.
pub(super) struct CallFailure {
    pub(super) error: XtismError,
    pub(super) code: i32,
}

impl From<XtismError> for CallFailure {
    fn from(error: XtismError) -> Self {
        CallFailure { error, code: -1 }
    }
}

/// The code of a call the plug-in did not end by itself (a trap, the timeout, a cancel, a
/// host function's error, fuel or memory running out): 134 for the three the official
/// runtime sees as a trap, unless the plug-in had set an error message first (then, as
/// there, -1); -1 for the others.
fn stopped_code(error: &XtismError, guest_message: bool) -> i32 {
    match error {
        XtismError::Trap { .. } | XtismError::Timeout(_) | XtismError::Cancelled
            if !guest_message =>
        {
            134
        }
        _ => -1,
    }
}

impl<P: EngineProvider> Plugin<P> {
    /// Whether the plug-in exports a function `name` that can be called: no parameters, an
    /// `i32` or nothing back.
    pub fn function_exists(&self, name: impl AsRef<str>) -> bool {
        self.compiled.function_exists(name.as_ref())
    }

    /// The functions a host can call, in name order, each with its signature: the main
    /// module's exports that take no parameters and return an `i32` or nothing (the Extism
    /// signatures, `func() -> (i32)` and `func()`), which is what
    /// [`function_exists`](Self::function_exists) accepts. The official crate has no such
    /// method.
    pub fn functions(&self) -> impl Iterator<Item = (&str, &FuncType)> {
        let mut functions: Vec<(&str, &FuncType)> = self
            .compiled
            .inner
            .exports
            .iter()
            .filter(|(_, ty)| is_extism_export(ty))
            .map(|(name, ty)| (name.as_str(), ty))
            .collect();
        functions.sort_unstable_by_key(|(name, _)| *name);
        functions.into_iter()
    }

    /// Calls the export `name` with `input` and decodes its output. Borrowed output lives
    /// until the next call.
    pub fn call<'a, 'b, I: ToBytes<'a>, O: FromBytes<'b>>(
        &'b mut self,
        name: impl AsRef<str>,
        input: I,
    ) -> Result<O, Error> {
        let input = input.to_bytes()?;
        let output = self
            .call_to_output(name.as_ref(), input.as_ref(), None)
            .map_err(|failure| failure.error)?;
        self.output(output)
    }

    /// The async form of [`call`](Self::call), with the same conversions and errors: the
    /// guest's calls of async host functions ([`Function::new_async`]) wait without
    /// blocking the thread, sync host functions run as in `call`, and a guest that computes
    /// yields to the executor every
    /// [`with_async_yield_interval`](crate::PluginBuilder::with_async_yield_interval).
    /// The timeout, fuel and memory limits hold as in `call`.
    ///
    /// Dropping the future abandons the call where it is (an async host function's future
    /// is dropped with it). The plug-in stays usable, as after a timeout; a call dropped
    /// while the guest's initializers or `_start` ran leaves the next call a fresh
    /// instance, vars kept. The future is `Send`, for tasks of a multi-threaded executor: the
    /// input's bytes must be `Send` (those of every input type of `convert` are). Not in the
    /// official crate, which has no async calls.
    ///
    /// # Errors
    ///
    /// Those of `call`, and [`XtismError::Unsupported`] on an engine without the
    /// `async_calls` capability.
    ///
    /// [`Function::new_async`]: crate::Function::new_async
    pub fn call_async<'a, 'b, I, O>(
        &'b mut self,
        name: impl AsRef<str> + Send,
        input: I,
    ) -> impl Future<Output = Result<O, Error>> + Send
    where
        I: ToBytes<'a>,
        I::Bytes: Send + 'a,
        O: FromBytes<'b>,
    {
        // The input's bytes are boxed as a trait object, so that the future holds no
        // projection of `ToBytes`: a future that does is not `Send` for a borrowed input
        // (rustc cannot prove it for every lifetime).
        let input = input
            .to_bytes()
            .map(|bytes| Box::new(bytes) as Box<dyn AsRef<[u8]> + Send + 'a>);
        async move {
            let engine = &self.compiled.inner.engine;
            if !engine.capabilities().async_calls {
                return Err(XtismError::Unsupported {
                    engine: engine.name(),
                    feature: "async calls".into(),
                }
                .into());
            }
            let input = input?;
            let output = self
                .call_to_output_async(name.as_ref(), (*input).as_ref())
                .await
                .map_err(|failure| failure.error)?;
            self.output(output)
        }
    }

    /// Like [`call`](Self::call), and host functions can reach `host_context` through
    /// [`CurrentPlugin::host_context`] during this call.
    ///
    /// [`CurrentPlugin::host_context`]: crate::CurrentPlugin::host_context
    pub fn call_with_host_context<'a, 'b, I: ToBytes<'a>, O: FromBytes<'b>, C: Any + Send>(
        &'b mut self,
        name: impl AsRef<str>,
        input: I,
        host_context: C,
    ) -> Result<O, Error> {
        let input = input.to_bytes()?;
        let output = self
            .call_to_output(name.as_ref(), input.as_ref(), Some(Box::new(host_context)))
            .map_err(|failure| failure.error)?;
        self.output(output)
    }

    /// Like [`call`](Self::call), and a failure comes with the code the official runtime's
    /// `Plugin::call_get_error_code` pairs with it:
    ///
    /// - the plug-in's own code when it failed by itself: the `i32` its export returned
    ///   (with or without an `error_set` message; 0 too, for a message on a zero return),
    ///   or the code it passed to WASI `proc_exit`;
    /// - 134 (`EXIT_SIGNALED_SIGABRT`) when a trap, the timeout or a cancel stopped it;
    /// - -1 for everything else: the call could not start (no such function, the input
    ///   does not decode or fit, the guest runtime's initializers failed), a host function
    ///   failed, the fuel ran out, a memory limit was reached, the output does not decode,
    ///   and a trap or stop after the plug-in set an error message (as there).
    ///
    /// # Errors
    ///
    /// Those of [`call`](Self::call), each with its code. One difference remains: a
    /// non-zero return without an error message is an error here (as in `call`), where
    /// the official method returns the output as if the call had succeeded.
    pub fn call_get_error_code<'a, 'b, I: ToBytes<'a>, O: FromBytes<'b>>(
        &'b mut self,
        name: impl AsRef<str>,
        input: I,
    ) -> Result<O, (Error, i32)> {
        let input = input.to_bytes().map_err(|e| (e, -1))?;
        let output = self
            .call_to_output(name.as_ref(), input.as_ref(), None)
            .map_err(|failure| (failure.error.into(), failure.code))?;
        self.output(output).map_err(|e| (e, -1))
    }

    /// The output decoded as `O`; a decoding error is the conversion's own.
    fn output<'b, O: FromBytes<'b>>(&'b mut self, output: Region) -> Result<O, Error> {
        let (memory, _) = self.instance()?.kernel();
        let r = range(memory.len(), output.offset, output.len).unwrap_or(0..0);
        O::from_bytes(&memory[r])
    }

    /// [`call_under_limits`](Self::call_under_limits), writing a core dump and a memory dump
    /// when the call fails and they were asked for.
    fn call_to_output(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send>>,
    ) -> Result<Region, CallFailure> {
        self.export_ran = false;
        let result = self.call_under_limits(name, input, host_context);
        self.write_dumps(&result);
        result
    }

    /// The async form of [`call_to_output`](Self::call_to_output).
    async fn call_to_output_async(
        &mut self,
        name: &str,
        input: &[u8],
    ) -> Result<Region, CallFailure> {
        self.export_ran = false;
        let (limits, timeout) = self.call_limits(Some(self.compiled.inner.yield_every));
        let cancel = Arc::clone(&self.cancel);
        let running = cancel.start_call();
        let result = self.call_with_limits_async(name, input, &limits).await;
        drop(running);
        let result = result.map_err(|failure| with_timeout(failure, timeout));
        self.write_dumps(&result);
        result
    }

    /// Writes the core dump and the memory dump of a failed call, when they were asked
    /// for. A dump that cannot be written is a warning; the call's own error is what the
    /// caller gets.
    fn write_dumps(&mut self, result: &Result<Region, CallFailure>) {
        if let Some(path) = &self.compiled.inner.coredump {
            // Taken after every call, so that a dump the engine made for a call that still
            // succeeded (a WASI exit with code 0) is never written for a later one.
            let dump = self.instance.as_mut().and_then(|i| i.take_core_dump());
            if let (Err(_), Some(dump)) = (result, dump)
                && let Err(e) = std::fs::write(path, dump)
            {
                tracing::warn!(target: "xtism", plugin = %self.id, "coredump to {}: {e}", path.display());
            }
        }
        if let (Err(_), Some(path)) = (result, &self.compiled.inner.memdump) {
            let memory = self
                .instance
                .as_mut()
                .and_then(|i| i.module_memory(self.compiled.inner.modules - 1).0)
                .unwrap_or_default();
            if let Err(e) = std::fs::write(path, memory) {
                tracing::warn!(target: "xtism", plugin = %self.id, "memdump to {}: {e}", path.display());
            }
        }
    }

    /// The limits of a call starting now, and the plug-in's timeout; `yield_every` is
    /// `Some` for an async call.
    fn call_limits(&self, yield_every: Option<Duration>) -> (CallLimits, Option<Duration>) {
        let timeout = self.compiled.inner.timeout;
        let limits = CallLimits {
            fuel: self.compiled.inner.fuel,
            // A timeout past what the clock can count (`Duration::MAX`) is no deadline.
            deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
            cancel: Some(Arc::clone(&self.cancel)),
            yield_every,
        };
        (limits, timeout)
    }

    /// One call under the plug-in's limits; the deadline covers the first call's
    /// initialization too.
    fn call_under_limits(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send>>,
    ) -> Result<Region, CallFailure> {
        if let Some(function) = &self.compiled.inner.async_function {
            return Err(XtismError::Invalid(format!(
                "the plug-in imports the async host function {function:?}: call it with `call_async`"
            ))
            .into());
        }
        let (limits, timeout) = self.call_limits(None);
        let cancel = Arc::clone(&self.cancel);
        let running = cancel.start_call();
        let result = self.call_with_limits(name, input, host_context, &limits);
        drop(running);
        result.map_err(|failure| with_timeout(failure, timeout))
    }

    fn call_with_limits(
        &mut self,
        name: &str,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send>>,
        limits: &CallLimits,
    ) -> Result<Region, CallFailure> {
        let shape = self.prepare(name)?;
        if !self.initialized {
            self.initialize(limits)?;
        }
        let instance = self.place_input(input, host_context, limits)?;
        let result = instance.call(None, name, shape, limits);
        self.export_ran = true;
        self.finish(name, result)
    }

    /// The async form of [`call_with_limits`](Self::call_with_limits).
    async fn call_with_limits_async(
        &mut self,
        name: &str,
        input: &[u8],
        limits: &CallLimits,
    ) -> Result<Region, CallFailure> {
        let shape = self.prepare(name)?;
        if !self.initialized {
            // Dropped before the initializers are done, the instance is half initialized:
            // the next call gets a fresh one, as after a failed initializer.
            self.needs_reinstantiate = true;
            self.initialize_async(limits).await?;
            self.needs_reinstantiate = false;
        }
        // `_start` is followed by a fresh instance, even when the call is dropped.
        self.needs_reinstantiate = name == "_start";
        let instance = self.place_input(input, None, limits)?;
        let result = instance.call_async(None, name, shape, limits).await;
        self.export_ran = true;
        self.finish(name, result)
    }

    /// Before a call: the shape of the export `name`, and a fresh instance if the last
    /// call asked for one.
    fn prepare(&mut self, name: &str) -> Result<ExportShape, CallFailure> {
        let shape = match self.compiled.inner.exports.get(name) {
            None => {
                return Err(XtismError::FunctionNotFound(format!(
                    "the plug-in has no function named {name:?}"
                ))
                .into());
            }
            Some(ty) => match ExportShape::of(ty) {
                Some(shape) if shape.is_plugin_function() => shape,
                _ => {
                    return Err(XtismError::FunctionNotFound(format!(
                        "{name:?} has type {ty}; Extism exports take no parameters and return i32 or nothing"
                    ))
                    .into());
                }
            },
        };
        if self.needs_reinstantiate {
            self.reinstantiate()?;
        }
        Ok(shape)
    }

    /// Resets the kernel and places the call's input, its deadline and its host context;
    /// gives the instance to call.
    fn place_input(
        &mut self,
        input: &[u8],
        host_context: Option<Box<dyn Any + Send>>,
        limits: &CallLimits,
    ) -> Result<&mut Box<dyn Instance>, CallFailure> {
        // The public `id` field may have been changed since the last call.
        let id = self.id;
        let instance = self.instance()?;
        let host: &mut dyn HostAccess = &mut **instance;
        // The usual call sets up in one borrow of kernel memory: the input fits as it is.
        let placed = {
            let (memory, state) = host.kernel();
            state.extism.kernel.reset(memory);
            state.pending_error = None;
            // A refusal left by a call that was dropped (async) is not this call's.
            state.memory.take_refusal();
            state.deadline = limits.deadline;
            state.extism.id = id;
            abi::place_block(memory, state, input).map(|offset| {
                state.extism.kernel.input = Region {
                    offset,
                    len: input.len() as u64,
                };
                state.extism.kernel.write_header(memory);
            })
        };
        if placed.is_none() {
            let offset = abi::new_block(host, input).map_err(|e| {
                let why = match e {
                    XtismError::MemoryLimit(refusal) => format!(": {refusal}"),
                    _ => String::new(),
                };
                XtismError::MemoryLimit(format!(
                    "the input ({} bytes) does not fit in kernel memory{why}",
                    input.len()
                ))
            })?;
            let (memory, state) = host.kernel();
            state.extism.kernel.input = Region {
                offset,
                len: input.len() as u64,
            };
            state.extism.kernel.write_header(memory);
        }
        host.state().extism.host_context = host_context;
        Ok(instance)
    }

    /// After the export has run: the call's output or error.
    fn finish(
        &mut self,
        name: &str,
        result: Result<Option<i32>, XtismError>,
    ) -> Result<Region, CallFailure> {
        let (memory, state) = self.instance()?.kernel();
        state.extism.host_context = None;
        state.deadline = None;
        if let Some(error) = refused_growth(state) {
            state.pending_error = Some(error);
        }
        // WASI `proc_exit(n)` ends the call as if the export returned n; the instance has
        // run its exit path, so the next call gets a fresh one (vars are kept).
        let exited = state.extism.exit_code.take();
        let outcome = call_outcome(name, result, exited, memory, state);
        if name == "_start" || exited.is_some() {
            self.needs_reinstantiate = true;
        }
        outcome
    }
}

/// A failed call's timeout error with the plug-in's timeout in it.
fn with_timeout(mut failure: CallFailure, timeout: Option<Duration>) -> CallFailure {
    if let XtismError::Timeout(ms) = &mut failure.error {
        *ms = timeout.map_or(0, |t| t.as_millis().try_into().unwrap_or(u64::MAX));
    }
    failure
}

/// What a call comes to once the export has returned, trapped or exited: the output region,
/// or the error to report (a host import's own, the plug-in's with its `error_set` message,
/// a trap with that message) with its return code.
#[inline]
fn call_outcome(
    name: &str,
    result: Result<Option<i32>, XtismError>,
    exited: Option<i32>,
    memory: &[u8],
    state: &mut PluginState,
) -> Result<Region, CallFailure> {
    // The plug-in's error message: a non-empty block set with `error_set`.
    let handle = state.extism.kernel.error;
    let guest_message = abi::block(memory, state, handle)
        .filter(|bytes| handle != 0 && !bytes.is_empty())
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned());
    match (state.pending_error.take(), guest_message) {
        // A host function that set the plug-in's error and then failed: as in the official
        // runtime (`Plugin::raw_call`), the message is the root cause, under the host's error.
        (Some(XtismError::Host { function, source }), Some(message)) => Err(CallFailure {
            error: XtismError::Host {
                function,
                source: Error::msg(message).context(source),
            },
            code: -1,
        }),
        (Some(error), guest_message) => Err(CallFailure {
            code: stopped_code(&error, guest_message.is_some()),
            error,
        }),
        (None, guest_message) => plugin_outcome(name, result, exited, guest_message, handle, state),
    }
}

/// The outcome of a call no host function failed: the plug-in's own error or its output.
fn plugin_outcome(
    name: &str,
    result: Result<Option<i32>, XtismError>,
    exited: Option<i32>,
    guest_message: Option<String>,
    handle: u64,
    state: &PluginState,
) -> Result<Region, CallFailure> {
    let (code, verb) = match (result, exited) {
        (_, Some(code)) => (code, "exited with code"),
        (Err(error), None) => {
            let code = stopped_code(&error, guest_message.is_some());
            // A trap keeps the plug-in's message in its own.
            let error = match (error, guest_message) {
                (XtismError::Trap { message, backtrace }, Some(guest)) => XtismError::Trap {
                    message: format!("{guest} ({message})"),
                    backtrace,
                },
                (error, _) => error,
            };
            return Err(CallFailure { error, code });
        }
        (Ok(code), None) => (code.unwrap_or(0), "returned exit code"),
    };
    // As in the official runtime, an error message fails the call whatever the code.
    let error = match (guest_message, code) {
        (Some(message), code) => XtismError::Plugin { code, message },
        (None, 0) => return Ok(state.extism.kernel.output),
        (None, code) if handle != 0 => XtismError::Plugin {
            code,
            message: format!(
                "{name} {verb} {code}; its error handle {handle} is not an allocated block"
            ),
        },
        (None, code) => XtismError::Plugin {
            code,
            message: format!("{name} {verb} {code}"),
        },
    };
    Err(CallFailure { error, code })
}
