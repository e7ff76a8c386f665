//! User host functions as the engine layer sees them: a [`Function`] is a name, a signature
//! and a callback over [`HostAccess`], which a backend binds with its dynamic function API
//! ([`DynamicInvoke`]) and runs through [`Function::invoke_converted`]; an async one
//! ([`Function::is_async`]) starts a [`PendingHostCall`] instead, through
//! [`Function::start_async`], which the backend polls until it has the results.
//!
//! The callback is a trait object so that this layer needs nothing of what stands above it:
//! `function` builds it from the user's closure over a `CurrentPlugin`, and adds the
//! constructors and the import namespace.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;

use super::access_scope::Token;
use super::host_access::{HostAccess, HostTrap};
use super::pending_call::PendingHostCall;
use super::values::{FuncType, Val};
use crate::error::XtismError;

/// How a host function runs on the host access: the arguments, and the results to fill in.
/// `function` makes it from the user's closure.
pub(crate) type HostCallback =
    dyn Fn(&mut dyn HostAccess, &[Val], &mut [Val]) -> Result<(), XtismError> + Send + Sync;

/// What an async host function's callback gives back: the results, once it is done.
pub(crate) type HostFuture = Pin<Box<dyn Future<Output = Result<Vec<Val>, XtismError>> + Send>>;

/// How an async host function starts: on the arguments, under the token by which its
/// future reaches the plug-in while a backend polls it (`access_scope`). `function`
/// makes it from the user's closure.
pub(crate) type AsyncHostCallback = dyn Fn(Token, Vec<Val>) -> HostFuture + Send + Sync;

/// The two kinds of host function.
#[derive(Clone)]
pub(crate) enum Callback {
    /// Runs to the end when called.
    Sync(Arc<HostCallback>),
    /// Gives a future that a backend polls (see [`PendingHostCall`]).
    Async(Arc<AsyncHostCallback>),
}

/// A host function a plug-in can import.
#[derive(Clone)]
pub struct Function {
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    pub(crate) ty: FuncType,
    pub(crate) callback: Callback,
}

impl Function {
    /// The signature.
    pub fn ty(&self) -> &FuncType {
        &self.ty
    }

    /// Whether the function is async: a backend binds it so that the guest's call waits
    /// for it, through [`start_async`](Self::start_async). Core calls a plug-in that has
    /// one only through its async call.
    pub fn is_async(&self) -> bool {
        matches!(self.callback, Callback::Async(_))
    }

    /// Starts an async host function for a guest call, on arguments a backend converted
    /// from its engine's values: the backend polls the returned call with the host access
    /// until it has the results, and the guest's call goes on with them. A sync function
    /// runs to the end here, and its call is ready at the first poll.
    ///
    /// # Errors
    ///
    /// A failed conversion fails the call, as any error of the function does: the error is
    /// kept in the plug-in state and the backend traps with the [`HostTrap`].
    pub fn start_async(
        &self,
        host: &mut dyn HostAccess,
        params: impl IntoIterator<Item = Result<Val, XtismError>>,
    ) -> Result<PendingHostCall, HostTrap> {
        let inputs = match params.into_iter().collect::<Result<Vec<Val>, XtismError>>() {
            Ok(inputs) => inputs,
            Err(e) => return Err(host.state().fail(e)),
        };
        let token = Token::fresh();
        let future: HostFuture = match &self.callback {
            Callback::Async(start) => match catch_unwind(AssertUnwindSafe(|| start(token, inputs)))
            {
                Ok(future) => future,
                Err(panic) => {
                    let _ = self.finish(host, Err(panicked(&*panic)), &[]);
                    return Err(HostTrap);
                }
            },
            Callback::Sync(_) => {
                let results = self.invoke_converted(host, inputs.into_iter().map(Ok))?;
                Box::pin(std::future::ready(Ok(results)))
            }
        };
        Ok(PendingHostCall::new(self.clone(), token, future))
    }

    /// Runs the function for a guest call on arguments a backend converted from its engine's
    /// values, and returns the results for the backend to convert back. A failed conversion
    /// fails the call like any error of the function.
    pub fn invoke_converted(
        &self,
        host: &mut dyn HostAccess,
        params: impl IntoIterator<Item = Result<Val, XtismError>>,
    ) -> Result<Vec<Val>, HostTrap> {
        let inputs = match params.into_iter().collect::<Result<Vec<Val>, XtismError>>() {
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
    /// in the plug-in state and the backend traps with the returned [`HostTrap`]. An async
    /// function fails here: it runs only through [`start_async`](Self::start_async).
    pub fn invoke(
        &self,
        host: &mut dyn HostAccess,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), HostTrap> {
        let outcome = match &self.callback {
            // A panic fails the call: unwinding through the engine is not allowed on every
            // engine (wasmi aborts the process).
            Callback::Sync(callback) => {
                match catch_unwind(AssertUnwindSafe(|| callback(&mut *host, params, results))) {
                    Ok(outcome) => outcome,
                    Err(panic) => Err(panicked(&*panic)),
                }
            }
            Callback::Async(_) => Err(XtismError::Invalid(
                "it is async, and the plug-in was not called with `call_async`".into(),
            )),
        };
        self.finish(host, outcome, results)
    }

    /// What a guest call of this function comes to once the callback is done: the call
    /// stops if it must, results of the wrong type fail it, and an error is worded as this
    /// function's and kept in the plug-in state.
    pub(crate) fn finish(
        &self,
        host: &mut dyn HostAccess,
        outcome: Result<(), XtismError>,
        results: &[Val],
    ) -> Result<(), HostTrap> {
        let outcome = outcome.and_then(|()| {
            // The call stops as soon as the host function returns, on every engine.
            if let Some(stop) = host.state().interruption() {
                return Err(stop);
            }
            if results.len() != self.ty.results().len() {
                return Err(XtismError::Invalid(format!(
                    "returned {} results where its signature declares {}",
                    results.len(),
                    self.ty.results().len()
                )));
            }
            match results
                .iter()
                .zip(self.ty.results())
                .find(|(v, ty)| v.ty() != **ty)
            {
                Some((v, ty)) => Err(XtismError::Invalid(format!(
                    "returned a {} result where its signature declares {ty}",
                    v.ty()
                ))),
                None => Ok(()),
            }
        });
        outcome.map_err(|e| {
            let e = match e {
                XtismError::Host { function, source } if function.is_empty() => XtismError::Host {
                    function: self.name.clone(),
                    source,
                },
                XtismError::Invalid(message) => XtismError::Host {
                    function: self.name.clone(),
                    source: crate::error::Error::msg(message),
                },
                XtismError::Guest(message) => {
                    XtismError::Guest(format!("host function {}: {message}", self.name))
                }
                other => other,
            };
            host.state().fail(e)
        })
    }
}

/// How a backend's dynamically bound import (a user host function, a WASI function) runs:
/// on the host access and the arguments converted from the engine's values, giving back the
/// results to convert back. Each backend has one dynamic binding helper taking this.
pub trait DynamicInvoke:
    Fn(
        &mut dyn HostAccess,
        &mut dyn Iterator<Item = Result<Val, XtismError>>,
    ) -> Result<Vec<Val>, HostTrap>
    + Send
    + Sync
    + 'static
{
}

impl<F> DynamicInvoke for F where
    F: Fn(
            &mut dyn HostAccess,
            &mut dyn Iterator<Item = Result<Val, XtismError>>,
        ) -> Result<Vec<Val>, HostTrap>
        + Send
        + Sync
        + 'static
{
}

/// A host function's panic as its error: `panicked: <message>`, the message when the panic
/// was raised with a string.
pub(crate) fn panicked(panic: &(dyn std::any::Any + Send)) -> XtismError {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    XtismError::Host {
        function: String::new(),
        source: crate::error::Error::msg(format!("panicked: {message}")),
    }
}
