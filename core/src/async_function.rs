//! Async host functions: [`Function::new_async`], whose callback gives a future, and
//! [`AsyncCurrentPlugin`], through which that future reaches the plug-in that called it.
//!
//! The future is `'static`: it cannot borrow the plug-in across an await, because on wasmi
//! the guest's call is suspended and the store is the caller's again while the future
//! waits. It reaches the plug-in instead
//! through [`AsyncCurrentPlugin::with`], a synchronous closure over a [`CurrentPlugin`],
//! which works whenever the future is being polled by its host call (the backend lends the
//! plug-in for each poll; see `engine::access_scope`): read the arguments, await, write the
//! results.

use std::future::Future;
use std::sync::Arc;

use crate::engine::{Callback, FuncType, Function, HostFuture, Token, Val, ValType};
use crate::error::{Error, XtismError};
use crate::function::{CurrentPlugin, UserData, host_failure};

/// The plug-in an async host function was called from, for its future: a handle that
/// reaches the [`CurrentPlugin`] whenever the future is being polled for its host call.
/// It is `Send`, `Clone` and `'static`, so it can be moved into the future.
#[derive(Debug, Clone, Copy)]
pub struct AsyncCurrentPlugin {
    token: Token,
}

impl AsyncCurrentPlugin {
    /// Runs `f` on the plug-in that called this host function, and gives its result.
    ///
    /// # Errors
    ///
    /// [`XtismError::Invalid`] when the plug-in cannot be reached: `with` was called
    /// outside a poll of this host function's future (from another task or thread, or
    /// after the host call ended), or inside another `with`.
    pub fn with<R>(&self, f: impl FnOnce(&mut CurrentPlugin) -> R) -> Result<R, Error> {
        crate::engine::with_lent(self.token, |host| f(&mut CurrentPlugin { host })).ok_or_else(
            || {
                XtismError::Invalid(
                    "the plug-in is reachable only from its async host function's future, \
                     while that future is polled, and not inside another `with`"
                        .into(),
                )
                .into()
            },
        )
    }
}

impl Function {
    /// An async host function `name` with the given signature. When a plug-in calls it, `f`
    /// gets an [`AsyncCurrentPlugin`], the arguments and a clone of `user_data`, and gives
    /// a future of the results (one [`Val`] for each result type, in order). The guest sees
    /// an ordinary import call, which returns when the future is done; meanwhile the async
    /// call of the plug-in ([`Plugin::call_async`](crate::Plugin::call_async)) waits
    /// without blocking its thread.
    ///
    /// A plug-in with an async host function can only be called with `call_async`: its
    /// `call` fails with [`XtismError::Invalid`]. Building one fails with
    /// [`XtismError::Unsupported`] on an engine without the `async_calls` capability. The
    /// wait ends at the call's timeout or
    /// cancel even if the future never completes (the future is then dropped), and a
    /// future that panics fails the call with the panic's message, as a host function's
    /// error. Not in the official crate, which has no async calls.
    pub fn new_async<T: Send + 'static, F, Fut>(
        name: impl Into<String>,
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
        user_data: UserData<T>,
        f: F,
    ) -> Function
    where
        F: Fn(AsyncCurrentPlugin, Vec<Val>, UserData<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Val>, Error>> + Send + 'static,
    {
        Function {
            name: name.into(),
            namespace: None,
            ty: FuncType::new(params, results),
            callback: Callback::Async(Arc::new(move |token, inputs| {
                let future = f(AsyncCurrentPlugin { token }, inputs, user_data.clone());
                let future: HostFuture =
                    Box::pin(async move { future.await.map_err(host_failure) });
                future
            })),
        }
    }
}
